"""A dead-lettered record must not keep its batch alive (alert-ingest's collector runs rarely: app.GC_THRESHOLDS)."""

from __future__ import annotations

from types import SimpleNamespace

from services.alert_ingest.service import IngestService


def _service() -> IngestService:
    s = IngestService.__new__(IngestService)
    s._product_map, s._max_bytes = {}, 1 << 20
    return s


def test_the_parse_error_kept_for_the_dead_letter_holds_no_traceback():
    record = SimpleNamespace(topic="alerts.raw", partition=0, offset=7, timestamp=0, value=b"{nope")
    parsed = _service().parse_record(record)
    assert parsed.error is not None and parsed.error.error_class == "not_json"
    # a traceback's frames reach handle()'s locals, which hold the Parsed: a cycle that kept whole batches
    # (+120 MB with 1% junk) alive until a full collection
    assert parsed.error.__traceback__ is None and parsed.error.__context__ is None

