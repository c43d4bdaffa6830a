"""Each parser against real payload samples (Alertmanager and PagerDuty documentation), and the native format."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import orjson
import pytest

from services.alert_ingest.domain.fast import fast_validate as _fast_validate, same_as
from services.alert_ingest.domain.formats import _MODELS, BadInput, detect, parse
from services.alert_ingest.settings import Settings
from shared.contracts import SourceTool

SAMPLES = Path(__file__).parent / "samples"
NOW = datetime(2026, 12, 3, 16, 0, tzinfo=UTC)
PRODUCTS = Settings().product_map()


def _parse(raw: bytes, **kw):
    return parse(raw, received_at=NOW, product_map=PRODUCTS, **kw)


def sample(name: str) -> bytes:
    return (SAMPLES / name).read_bytes()


def test_alertmanager_firing_sample():
    tool, obs = _parse(sample("alertmanager_firing.json"))
    assert tool is SourceTool.ALERTMANAGER
    chat, talk = (o.alert for o in obs)
    assert chat.fingerprint == "c4c1b3a1f4b04a2e"
    assert (chat.product, chat.signal, chat.severity, chat.status) == ("Chat", "error_rate", "critical", "firing")
    assert chat.summary == "Chat API 5xx rate above 5%"
    assert chat.description.startswith("5xx responses")
    assert chat.source_url.startswith("http://prometheus.example.com/graph")
    assert chat.starts_at == datetime(2026, 12, 3, 15, 59, 30, 123000, tzinfo=UTC)
    assert chat.ends_at is None  # 0001-01-01 means "not ended"
    assert chat.labels["alertname"] == "HighErrorRate"
    assert (talk.product, talk.signal, talk.severity) == ("Talk", "latency", "warning")


def test_alertmanager_resolved_sample():
    _, [obs] = _parse(sample("alertmanager_resolved.json"))
    a = obs.alert
    assert (a.status, a.product, a.signal, a.severity) == ("resolved", "Guide", "availability", "critical")
    assert a.ends_at == datetime(2026, 12, 3, 14, 20, tzinfo=UTC)


def test_alertmanager_without_fingerprint_hashes_the_labels():
    doc = orjson.loads(sample("alertmanager_firing.json"))
    for a in doc["alerts"]:
        del a["fingerprint"]
    _, first = _parse(orjson.dumps(doc))
    doc["alerts"][0]["annotations"]["summary"] = "changed wording"
    _, second = _parse(orjson.dumps(doc))
    assert first[0].alert.fingerprint == second[0].alert.fingerprint
    assert first[0].alert.fingerprint != first[1].alert.fingerprint
    assert len(first[0].alert.fingerprint) == 16


def test_pagerduty_trigger_sample():
    tool, [obs] = _parse(sample("pagerduty_trigger.json"))
    a = obs.alert
    assert tool is SourceTool.PAGERDUTY and not obs.partial and not obs.acknowledge
    assert a.fingerprint == "srv01/mysql"
    assert (a.severity, a.status, a.signal) == ("critical", "firing", "saturation")
    assert a.summary == "DISK at 99% on machine prod-datapipe03.example.com"
    assert a.starts_at == datetime(2015, 7, 17, 8, 42, 58, 315000, tzinfo=UTC)
    assert a.labels["component"] == "mysql" and a.labels["class"] == "disk"
    assert a.annotations["free space"] == "1%" and a.annotations["load avg"] == "0.75"
    assert a.source_url == "https://monitoring.service.com"


@pytest.mark.parametrize(("name", "status", "ack"), [("pagerduty_resolve.json", "resolved", False),
                                                      ("pagerduty_acknowledge.json", "firing", True)])
def test_pagerduty_key_only_events(name, status, ack):
    _, [obs] = _parse(sample(name))
    assert obs.partial and obs.acknowledge is ack
    assert obs.alert.fingerprint == "srv01/mysql" and obs.alert.status == status


def test_pagerduty_product_from_custom_details():
    doc = orjson.loads(sample("pagerduty_trigger.json"))
    doc["payload"]["custom_details"]["service"] = "support"
    _, [obs] = _parse(orjson.dumps(doc))
    assert obs.alert.product == "Support"


def test_native_sample():
    tool, [obs] = _parse(sample("native.json"))
    a = obs.alert
    assert tool is SourceTool.NATIVE
    assert (a.product, a.signal, a.severity, a.fingerprint) == ("Chat", "traffic_volume", "error", "chat-volume-eu1")
    assert (a.value, a.threshold) == (-0.6, -0.3)
    assert a.starts_at == datetime(2026, 12, 3, 16, 0, tzinfo=UTC)


def test_native_minimal_gets_a_label_fingerprint_and_the_receive_time():
    raw = orjson.dumps({"status": "firing", "summary": "Talk calls dropping", "service": "voice"})
    _, [obs] = _parse(raw)
    assert obs.alert.product == "Talk" and obs.alert.starts_at == NOW
    assert obs.alert.severity == "warning" and obs.alert.signal == "traffic_volume"
    assert obs.alert.fingerprint == _parse(raw)[1][0].alert.fingerprint


@pytest.mark.parametrize(("raw", "error_class"), [
    (b"", "not_json"),
    (b"\xc3\x28", "not_utf8"),
    (b"[1, 2]", "unknown_format"),
    (b'{"hello": "world"}', "unknown_format"),
    (b'{"status": "firing", "summary": "x", "colour": "red"}', "schema_violation"),
    (b'{"status": "firing", "summary": ""}', "schema_violation"),
    (b'{"version": "3", "alerts": []}', "schema_violation"),
    (b'{"version": "4", "alerts": [{"status": "firing"}]}', "schema_violation"),
    (b'{"routing_key": "k", "event_action": "trigger"}', "schema_violation"),
    (b'{"routing_key": "k", "event_action": "resolve"}', "schema_violation"),
    (b'{"routing_key": "k", "event_action": "explode", "dedup_key": "d"}', "schema_violation"),
])
def test_bad_input_says_why(raw, error_class):
    with pytest.raises(BadInput) as exc:
        _parse(raw)
    assert exc.value.error_class == error_class
    assert exc.value.message


def test_oversize_is_rejected_before_decoding():
    with pytest.raises(BadInput) as exc:
        _parse(b'{"status": "firing", "summary": "' + b"x" * 2000 + b'"}', max_bytes=1000)
    assert exc.value.error_class == "oversize"


def test_detect():
    assert detect({"version": "4", "alerts": []}) is SourceTool.ALERTMANAGER
    assert detect({"routing_key": "x"}) is SourceTool.PAGERDUTY
    assert detect({"status": "firing", "summary": "s"}) is SourceTool.NATIVE


@pytest.mark.parametrize("name", sorted(p.name for p in SAMPLES.glob("*.json")))
def test_fast_path_takes_the_samples_and_agrees_with_the_careful_path(name):
    raw = sample(name)
    fast = _fast_validate(raw, 1 << 20)
    assert fast is not None
    doc = orjson.loads(raw)
    assert same_as(fast, _MODELS[detect(doc)].model_validate(doc))


def test_escaped_keys_take_the_careful_path():
    raw = b'{"st\\u0061tus": "firing", "summary": "x"}'
    assert _fast_validate(raw, 1 << 20) is None
    assert _parse(raw)[0] is SourceTool.NATIVE


def test_repeated_bytes_reuse_validation_but_not_the_receive_time():
    from services.alert_ingest.domain.formats import parse_templates

    raw = orjson.dumps({"status": "firing", "summary": "Guide search slow", "product": "Guide"})
    later, latest = datetime(2026, 12, 3, 17, 0, tzinfo=UTC), datetime(2026, 12, 3, 18, 0, tzinfo=UTC)
    _, [first] = parse(raw, received_at=NOW, product_map=PRODUCTS)
    _, [second] = parse(raw, received_at=later, product_map=PRODUCTS)  # kept from its second sighting on
    _, [third] = parse(raw, received_at=latest, product_map=PRODUCTS)
    assert parse_templates(raw) is parse_templates(raw)  # validated once, reused
    assert first.alert.starts_at == NOW and second.alert.starts_at == later and third.alert.starts_at == latest
    assert first.fingerprint == second.fingerprint == third.fingerprint
    for _ in range(3):
        with pytest.raises(BadInput):  # bad bytes are never remembered as good
            parse(b'{"status": "firing", "summary": ""}', received_at=NOW, product_map=PRODUCTS)


@pytest.mark.parametrize("name", sorted(p.name for p in SAMPLES.glob("*.json")))
def test_canonical_builds_what_model_construct_builds(name):
    from services.alert_ingest.domain.observation import canonical
    from shared.contracts import CanonicalAlert

    for o in _parse(sample(name))[1]:
        a = o.alert
        fields = dict(reversed(list(a.__dict__.items())))  # any order in, the model's order out
        ref = CanonicalAlert.model_construct(**fields)
        built = canonical(**fields)
        assert built == ref and built.model_fields_set == ref.model_fields_set
        assert built.model_dump_json() == ref.model_dump_json()
        assert list(built.model_dump()) == list(CanonicalAlert.model_fields)
        assert CanonicalAlert.model_validate(built.model_dump()) == built


@pytest.mark.parametrize("raw", [b'{"routing_key": "k", "event_action": "trigger"}',
                                 b'{"routing_key": "k", "event_action": "resolve"}'])
def test_pagerduty_events_the_model_accepts_but_the_rules_do_not_fail_every_time(raw):
    for _ in range(3):  # not remembered as good after the first time
        with pytest.raises(BadInput) as exc:
            _parse(raw)
        assert exc.value.error_class == "schema_violation"


def test_text_that_is_not_utf8_is_bad_input_even_in_a_field_nobody_reads():
    """msgspec skips unknown fields without decoding them: the fast path must not accept what the careful path
    calls not UTF-8 (found by the HTTP fuzz: a 500 on POST /v1/alerts)."""
    raw = b'{"version":"4","receiver":"inciden\xc3(t","alerts":[{"status":"firing","labels":{"a":"b"},' \
          b'"startsAt":"2026-12-03T16:00:00Z"}]}'
    assert _fast_validate(raw, 1 << 20) is None
    with pytest.raises(BadInput) as exc:
        _parse(raw)
    assert exc.value.error_class == "not_utf8"
