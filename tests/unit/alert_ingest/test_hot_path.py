"""The service's shortcuts decide exactly what the state machine decides: repeats counted in place on the batch's
own states, the cheaper copy of an alert with its id, the ids made without the generic stable_id, and Alertmanager
alerts kept by their bytes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace

import msgspec
import orjson
import pytest
from hypothesis import given, strategies

from services.alert_ingest.domain.fast import _AM, _ESCAPE, _decode_am
from services.alert_ingest.domain.formats import parse_templates
from services.alert_ingest.domain.observation import with_id
from services.alert_ingest.domain.state import AlertState, FlapPolicy, Seen, alert_id, apply, change_event_id
from services.alert_ingest.service import IngestService, Parsed, _by_fingerprint, _repeats
from services.alert_ingest.settings import Settings
from shared.contracts import AlertSeverity, AlertStatus, CanonicalAlert, deterministic_id

SAMPLES = Path(__file__).parent / "samples"
T0 = datetime(2026, 12, 3, 16, 0, tzinfo=UTC)
POLICY = FlapPolicy(threshold=3, window=timedelta(minutes=10))


def _service() -> IngestService:
    s = IngestService.__new__(IngestService)
    s._product_map, s._max_bytes, s.policy = Settings().product_map(), 1 << 20, POLICY
    return s


def _batch(names: list[str]) -> list[Parsed]:
    out = []
    for i, name in enumerate(names):
        record = SimpleNamespace(topic="t", partition=0, offset=i)
        tool, templates = parse_templates((SAMPLES / name).read_bytes())
        out.append(Parsed(record, T0 + timedelta(seconds=i % 3), tool.value, templates))
    return out


def _state(fp: str, status: AlertStatus, severity: AlertSeverity, *, flapping: bool = False) -> AlertState:
    flips = (T0 - timedelta(minutes=15), T0 - timedelta(minutes=1))
    return AlertState(fp, status, severity, 7, 2, 3, flapping, flips, T0 - timedelta(hours=1),
                      T0 - timedelta(minutes=1), None)


def _same(a, b) -> bool:
    return (a.state == b.state and a.dirty == b.dirty and a.history == b.history
            and [(c.change, c.alert, c.occurrences, c.flapping, c.event_id, c.at) for c in a.changes]
            == [(c.change, c.alert, c.occurrences, c.flapping, c.event_id, c.at) for c in b.changes])


@pytest.mark.parametrize("flapping", [False, True])
@pytest.mark.parametrize("severity", [AlertSeverity.WARNING, AlertSeverity.CRITICAL])
@pytest.mark.parametrize("status", [AlertStatus.FIRING, AlertStatus.RESOLVED])
def test_decide_matches_apply(status, severity, flapping):
    service = _service()
    batch = _batch(["pagerduty_trigger.json", "pagerduty_trigger.json", "pagerduty_acknowledge.json",
                    "native.json", "native.json", "alertmanager_firing.json", "pagerduty_resolve.json",
                    "alertmanager_firing.json", "alertmanager_resolved.json"])
    by_fp = _by_fingerprint(batch)
    states = {fp: _state(fp, status, severity, flapping=flapping) for fp in by_fp}
    for st in states.values():  # the stored alert a rule may need (the service loads it for those)
        st.stored_alert = CanonicalAlert(id="a-1", fingerprint=st.fingerprint, product="Chat", signal="error_rate",
                                         status=st.status, severity=st.severity, summary="s", starts_at=T0,
                                         source="native")
    expected = {fp: apply(st.copy(), [Seen(t.observe(at, service._product_map), at, f"t/0/{p.record.offset}")
                                      for t, at, p in by_fp[fp]], POLICY)
                for fp, st in states.items()}
    repeats = _repeats(states, by_fp)
    assert repeats or status is AlertStatus.RESOLVED or flapping  # the in-place path is exercised
    got = service._decide(states, by_fp, repeats)
    assert list(got) == list(expected)
    for fp in expected:
        assert _same(got[fp], expected[fp]), fp
    # and new fingerprints (no state yet) are decided the same too
    fresh = {fp: None for fp in by_fp}
    got = service._decide(fresh, by_fp, _repeats(fresh, by_fp))
    for fp, sightings in by_fp.items():
        want = apply(None, [Seen(t.observe(at, service._product_map), at, f"t/0/{p.record.offset}")
                            for t, at, p in sightings], POLICY)
        assert _same(got[fp], want), fp


def test_with_id_is_model_copy():
    [t] = parse_templates((SAMPLES / "native.json").read_bytes())[1]
    built = t.alert(T0, {})
    validated = CanonicalAlert(id="", fingerprint="fp", product="Chat", signal="error_rate", status="firing",
                               severity="warning", summary="s", starts_at=T0, source="native")
    for a in (built, validated):
        before = a.model_dump_json()
        new, ref = with_id(a, "x"), a.model_copy(update={"id": "x"})
        assert list(new.__dict__.items()) == list(ref.__dict__.items())
        assert new.__pydantic_fields_set__ == ref.__pydantic_fields_set__
        assert (new.__pydantic_extra__, new.__pydantic_private__) == (ref.__pydantic_extra__, ref.__pydantic_private__)
        assert new.model_dump_json() == ref.model_dump_json() and a.model_dump_json() == before


@given(strategies.text(min_size=1, max_size=64), strategies.integers(min_value=0, max_value=2**62))
def test_ids_are_the_shared_deterministic_ids(fingerprint, n):
    assert alert_id(fingerprint, n) == deterministic_id("alert", fingerprint, n)
    assert change_event_id(fingerprint, n) == deterministic_id("alert-ingest", "state", fingerprint, n)


_alert = strategies.fixed_dictionaries(
    {"status": strategies.sampled_from(["firing", "resolved", "x"]),
     "labels": strategies.dictionaries(strategies.sampled_from(["alertname", "severity"]),
                                       strategies.sampled_from(["a", "critical", 1]), max_size=2),
     "startsAt": strategies.sampled_from(["2026-12-03T16:00:00Z", "nope", 0])},
    optional={"fingerprint": strategies.sampled_from(["fa", "fb", "", 1]),
              "endsAt": strategies.sampled_from(["0001-01-01T00:00:00Z", None, 2]),
              "annotations": strategies.just({"summary": "s"}), "extra": strategies.just([[1]])})


@given(strategies.lists(strategies.fixed_dictionaries(
    {"version": strategies.sampled_from(["4", "3"]), "alerts": strategies.lists(_alert, max_size=4)},
    optional={"groupKey": strategies.sampled_from(["g", 1]), "commonLabels": strategies.just({"a": "b"})}),
    min_size=1, max_size=4))
def test_alerts_kept_by_their_bytes_decode_as_the_whole_webhook_does(docs):
    for doc in docs * 2:  # the second time round, every alert is a kept one
        raw = orjson.dumps(doc)
        try:
            whole = _AM.decode(raw)
        except msgspec.ValidationError:
            with pytest.raises(msgspec.ValidationError):
                _decode_am(raw)
        else:
            assert _decode_am(raw) == whole


def test_the_samples_decode_alike_with_kept_alerts():
    raw = (SAMPLES / "alertmanager_firing.json").read_bytes()
    assert _decode_am(raw) == _decode_am(raw) == _AM.decode(raw)


@given(strategies.binary(max_size=64) | strategies.lists(strategies.sampled_from([b"\\", b"u", b"\\u", b"x", b"\xc3"]),
                                                          max_size=12).map(b"".join))
def test_the_escape_search_is_the_plain_one(raw):
    assert (b"\\" in raw and _ESCAPE.search(raw) is not None) == (b"\\u" in raw)
