"""Only state changes reach alerts.state: dedup, resolve, re-fire, severity raised, flapping."""

from __future__ import annotations

import orjson
from aiokafka import AIOKafkaProducer
from prometheus_client import REGISTRY

from tests.support.kafka import unique
from tests.support.waiting import eventually

from .conftest import changes_for, native


async def _state(ingest, fp):
    return await ingest.pool.fetchrow("SELECT * FROM alert_ingest.alert_state WHERE fingerprint = $1", fp)


def _accepted(fmt: str) -> float:
    return REGISTRY.get_sample_value("alert_ingest_alerts_accepted_total", {"format": fmt}) or 0.0


async def test_repeats_are_counted_not_sent(stack, kafka, ingest):
    fp = unique("dedup")
    accepted_before = _accepted("native")
    await kafka.produce_many(stack.topics.alerts_raw, [native(fp) for _ in range(50)])
    row = await eventually(lambda: _state(ingest, fp), until=lambda r: r is not None and r["occurrences"] == 50,
                           what="50 occurrences stored")
    async def accepted() -> float:
        return _accepted("native")

    await eventually(accepted, until=lambda n: n >= accepted_before + 50, what="accepted alerts counted")
    metrics = (await ingest.client.get("/metrics")).text
    assert 'alert_ingest_alerts_accepted_total{format="native"}' in metrics
    assert row["status"] == "firing"
    events = await changes_for(kafka, stack.topics.alerts_state, fp, 1)
    # a marker alert produced after the storm: once its change is out, the storm's would be too
    marker = unique("marker")
    await kafka.produce(stack.topics.alerts_raw, native(marker))
    await changes_for(kafka, stack.topics.alerts_state, marker, 1)
    events = await changes_for(kafka, stack.topics.alerts_state, fp, 1)
    assert [e["data"]["change"] for e in events] == ["first_firing"]
    assert events[0]["source"] == "/services/alert-ingest"
    assert events[0]["type"] == "io.incident-pipeline.alert.state_changed.v1"


async def test_resolve_refire_and_severity_raised(stack, kafka, ingest):
    fp = unique("life")
    key = fp  # keyed: one partition, so the order is kept
    for status, sev in [("firing", "warning"), ("firing", "warning"), ("firing", "critical"), ("resolved", "critical"),
                        ("resolved", "critical"), ("firing", "error")]:
        await kafka.produce(stack.topics.alerts_raw, native(fp, status, sev), key=key)
    events = await changes_for(kafka, stack.topics.alerts_state, fp, 4)
    assert [e["data"]["change"] for e in events] == ["first_firing", "severity_raised", "resolved", "refired"]
    assert [e["data"]["alert"]["severity"] for e in events] == ["warning", "critical", "critical", "error"]
    assert events[0]["data"]["alert"]["id"] == events[1]["data"]["alert"]["id"]  # same episode
    assert events[3]["data"]["alert"]["id"] != events[0]["data"]["alert"]["id"]  # a new episode
    assert events[3]["data"]["occurrences"] == 6
    history = await ingest.pool.fetch(
        "SELECT outcome FROM alert_ingest.alert_history WHERE fingerprint = $1 ORDER BY id", fp)
    assert [h["outcome"] for h in history] == ["first_firing", "severity_raised", "resolved", "refired"]


async def test_flapping_is_told_once_then_ended(stack, kafka, ingest):
    fp = unique("flap")
    statuses = ["firing", "resolved"] * 5  # 9 flips; threshold 3
    for s in statuses:
        await kafka.produce(stack.topics.alerts_raw, native(fp, s), key=fp)
    row = await eventually(lambda: _state(ingest, fp), until=lambda r: r is not None and r["occurrences"] == 10,
                           what="all flips stored")
    assert row["flapping"]
    events = await changes_for(kafka, stack.topics.alerts_state, fp, 5)
    # the 4th flip is more than 3: flapping, told once; the 5 flips after it are not sent
    assert [e["data"]["change"] for e in events] == ["first_firing", "resolved", "refired", "resolved", "flapping"]
    assert events[-1]["data"]["flapping"] is True
    # the sweep ends flapping once the window is quiet: move the stored flips back past the window
    await ingest.pool.execute(
        "UPDATE alert_ingest.alert_state SET flips = '[1.0]'::jsonb WHERE fingerprint = $1", fp)
    events = await changes_for(kafka, stack.topics.alerts_state, fp, 6)
    assert events[-1]["data"]["change"] == "flapping_ended"
    assert events[-1]["data"]["flapping"] is False
    assert events[-1]["data"]["alert"]["status"] == "resolved"
    assert len(events) == 6


async def test_bad_input_goes_to_the_dlt_with_headers(stack, kafka, ingest):
    tag = unique("bad")
    bad = {
        "not_json": b"{nope " + tag.encode(),
        "not_utf8": b"\xff\xfe" + tag.encode(),
        "unknown_format": orjson.dumps({"hello": tag}),
        "schema_violation": orjson.dumps({"status": "maybe", "summary": tag}),
        "oversize": b'{"summary": "' + tag.encode() + b'", "x": "' + b"a" * (1024 * 1024) + b'"}',
    }
    # the broker takes 2 MiB (deploy/kafka); the test client's producer stops at 1 MiB, so use a bigger one
    producer = AIOKafkaProducer(bootstrap_servers=stack.bootstrap, max_request_size=2 * 1024 * 1024)
    await producer.start()
    try:
        for cls, value in bad.items():
            await producer.send_and_wait(stack.topics.alerts_raw, value, key=f"{tag}-{cls}".encode(),
                                         headers=[("origin", b"test-agent")])
    finally:
        await producer.stop()
    dlt = stack.topics.alerts_raw + ".DLT"
    records = await kafka.read(dlt, until=lambda rs: sum(r.key.decode().startswith(tag) for r in rs if r.key) >= 5)
    mine = {r.key.decode().removeprefix(tag + "-"): r for r in records if r.key and r.key.decode().startswith(tag)}
    assert set(mine) == set(bad)
    for cls, rec in mine.items():
        headers = {k: v.decode() for k, v in rec.headers}
        assert rec.value == bad[cls], cls  # the original bytes, unchanged
        assert headers["dlt-error-class"] == cls
        assert headers["dlt-error-message"]
        assert headers["dlt-original-topic"] == stack.topics.alerts_raw
        assert headers["dlt-original-partition"].isdigit() and headers["dlt-original-offset"].isdigit()
        assert headers["dlt-original-timestamp"].isdigit() and headers["dlt-time"]
        assert headers["dlt-service"] == "alert-ingest"
        assert headers["origin"] == "test-agent"  # the original headers travel too
    # the consumer went on: a good alert after the bad ones still gets through
    fp = unique("after-bad")
    await kafka.produce(stack.topics.alerts_raw, native(fp))
    await changes_for(kafka, stack.topics.alerts_state, fp, 1)


async def test_binary_header_values_neither_lose_nor_block_a_record(stack, kafka, ingest):
    """A header value that is not UTF-8 used to fail FastStream's batch parser, which then committed the
    batch unprocessed: the alert was lost. Now the alert is taken in, and junk still reaches the DLT with its
    headers (header values travel through the outbox as text: invalid bytes arrive as U+FFFD)."""
    good, tag = unique("binhdr"), unique("binhdr-bad")
    producer = AIOKafkaProducer(bootstrap_servers=stack.bootstrap)
    await producer.start()
    try:
        await producer.send_and_wait(stack.topics.alerts_raw, orjson.dumps(native(good)), headers=[("trace", b"\xff\xfe\x00")])
        await producer.send_and_wait(stack.topics.alerts_raw, b"{nope", key=tag.encode(),
                                     headers=[("trace", b"\xc3\x28")])
    finally:
        await producer.stop()
    await changes_for(kafka, stack.topics.alerts_state, good, 1)
    row = await eventually(lambda: _state(ingest, good), until=lambda r: r is not None, what="alert stored")
    assert row["occurrences"] == 1
    records = await kafka.read(stack.topics.alerts_raw + ".DLT",
                               until=lambda rs: any(r.key == tag.encode() for r in rs))
    letter = next(r for r in records if r.key == tag.encode())
    assert dict(letter.headers)["trace"] == "\ufffd(".encode()
    assert dict(letter.headers)["dlt-error-class"] == b"not_json"
