"""Property: junk never crashes the batch parser, and always becomes a dead letter with a known class."""

from __future__ import annotations

from dataclasses import dataclass

import orjson
from hypothesis import given, strategies as st

from services.alert_ingest.domain.fast import fast_validate as _fast_validate, same_as
from services.alert_ingest.domain.formats import _MODELS, detect
from services.alert_ingest.service import IngestService
from services.alert_ingest.settings import Settings
from shared.topics import Topics

CLASSES = {"not_json", "not_utf8", "unknown_format", "schema_violation", "oversize"}
SERVICE = IngestService(None, Topics("x."), Settings(max_payload_bytes=4096),  # type: ignore[arg-type]
                        service="alert-ingest",
                        group_id="g")


@dataclass
class Rec:
    value: bytes | None
    topic: str = "x.alerts.raw"
    partition: int = 0
    offset: int = 0
    key: bytes | None = None
    timestamp: int = 1_765_000_000_000
    headers: tuple = (("h", b"v"),)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**63), 2**63 - 1) | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda c: st.lists(c, max_size=4) | st.dictionaries(st.text(max_size=10), c, max_size=4), max_leaves=20)
# junk shaped like each format, so validation (not just detection) gets exercised
shaped = st.fixed_dictionaries({}, optional={
    "version": st.sampled_from(["4", 4, None]), "alerts": json_values, "groupKey": json_values,
    "routing_key": json_values, "event_action": st.sampled_from(["trigger", "resolve", "acknowledge", 1]),
    "dedup_key": json_values, "payload": json_values, "status": json_values, "summary": json_values,
    "labels": json_values, "time": json_values, "severity": json_values})


# near-valid documents of each format, so that the valid branch is taken often too
_labels = st.dictionaries(st.sampled_from(["alertname", "service", "severity", "app"]), st.text(max_size=8), max_size=3)
_time = st.sampled_from(["2026-12-03T16:00:00Z", "2026-12-03T16:00:00", "yesterday", "0001-01-01T00:00:00Z"])
near_native = st.fixed_dictionaries(
    {"status": st.sampled_from(["firing", "resolved", "open"]), "summary": st.text(max_size=12)},
    optional={"product": st.text(max_size=8), "signal": st.sampled_from(["latency", "slowness"]),
              "severity": st.text(max_size=8), "labels": _labels, "value": st.floats(allow_nan=False) | st.booleans(),
              "time": _time, "fingerprint": st.text(max_size=8), "extra": st.just(1)})
near_pd = st.fixed_dictionaries(
    {"routing_key": st.text(max_size=6), "event_action": st.sampled_from(["trigger", "resolve", "acknowledge", "x"])},
    optional={"dedup_key": st.text(max_size=6), "payload": st.fixed_dictionaries(
        {"summary": st.text(max_size=8), "source": st.text(max_size=8),
         "severity": st.sampled_from(["critical", "info", "high"])},
        optional={"timestamp": _time, "custom_details": json_values, "class": st.text(max_size=5)})})
near_am = st.fixed_dictionaries(
    {"version": st.sampled_from(["4", "3"]), "alerts": st.lists(st.fixed_dictionaries(
        {"status": st.sampled_from(["firing", "resolved"]), "labels": _labels, "startsAt": _time},
        optional={"endsAt": _time, "fingerprint": st.text(max_size=6), "annotations": _labels}), max_size=3)},
    optional={"groupKey": st.text(max_size=5)})
near_valid = st.one_of(near_native, near_pd, near_am)


def _check(raw: bytes | None) -> None:
    p = SERVICE.parse_record(Rec(raw))
    if p.error is None:  # valid by chance: then it carries alerts or is an empty Alertmanager batch
        assert p.format in {"alertmanager", "pagerduty", "native"}
        for t in p.templates:  # building the canonical alert (lazy, as the service does) never fails either
            o = t.observe(p.at, SERVICE._product_map)
            assert o.alert.fingerprint == o.fingerprint == t.fingerprint
        return
    assert p.error.error_class in CLASSES and p.error.message
    [row] = SERVICE._dead_letter_rows([p])
    topic, key, value, headers = row
    assert topic == "x.alerts.raw.DLT" and value == (raw or b"")
    names = [h[0] for h in orjson.loads(headers)]
    assert names[0] == "h" and "dlt-error-class" in names and "dlt-original-offset" in names


@given(st.binary(max_size=6000))
def test_random_bytes(raw):
    _check(raw)


@given(json_values)
def test_random_json(doc):
    _check(orjson.dumps(doc))


@given(shaped)
def test_format_shaped_junk(doc):
    _check(orjson.dumps(doc))


@given(near_valid)
def test_near_valid_documents(doc):
    _check(orjson.dumps(doc))


@given(st.one_of(shaped, near_valid))
def test_fast_path_never_disagrees_with_the_careful_one(doc):
    raw = orjson.dumps(doc)
    fast = _fast_validate(raw, 1 << 20)
    if fast is not None:
        assert same_as(fast, _MODELS[detect(doc)].model_validate(doc))


def test_none_value():
    _check(None)


# Alertmanager webhooks whose alerts share fingerprints and differ a little (a label, a type)
_am_value = st.one_of(st.sampled_from(["firing", "resolved", "2026-12-03T16:00:00Z", "x"]), st.integers(0, 2),
                      st.none(), st.booleans())
_am_alert = st.fixed_dictionaries(
    {"fingerprint": st.sampled_from(["fa", "fb", 1]), "status": st.sampled_from(["firing", "resolved", 1]),
     "labels": st.dictionaries(st.sampled_from(["alertname", "severity"]), st.one_of(st.just("a"), _am_value),
                               max_size=2),
     "startsAt": st.sampled_from(["2026-12-03T16:00:00Z", 0, 1.0, True, "nope"])},
    optional={"endsAt": _am_value, "annotations": st.dictionaries(st.just("summary"), _am_value, max_size=1),
              "generatorURL": _am_value, "extra": _am_value})
_am_doc = st.fixed_dictionaries({"version": st.sampled_from(["4", "3", 4]), "alerts": st.lists(_am_alert, max_size=3)},
                                optional={"groupKey": _am_value, "status": _am_value, "commonLabels": _am_value})


@given(st.lists(_am_doc, min_size=1, max_size=4))
def test_alertmanager_fast_path_never_disagrees_with_the_careful_one(docs):
    for doc in docs:
        raw = orjson.dumps(doc)
        fast = _fast_validate(raw, 1 << 20)
        try:
            careful = _MODELS[detect(doc)].model_validate(doc)
        except Exception:
            careful = None
        if fast is not None:
            assert careful is not None and same_as(fast, careful)
        _check(raw)
