"""Redelivery changes nothing; two instances in one group give the result of one, even for unkeyed input."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import Any

import asyncpg
import orjson
from aiokafka import AIOKafkaConsumer, TopicPartition
from hypothesis import HealthCheck, given, settings, strategies as st

from services.alert_ingest.app import create_app
from tests.support.kafka import unique
from tests.support.services import run_in_process
from tests.support.waiting import eventually

from .conftest import make_settings, native


async def _snapshot(pool: asyncpg.Pool, like: str) -> tuple[list[tuple], list[tuple]]:
    states = await pool.fetch(
        "SELECT fingerprint, status, severity, occurrences, episode, change_seq, flapping, flips::text, last_seen, "
        "alert::text FROM alert_ingest.alert_state WHERE fingerprint LIKE $1 ORDER BY fingerprint", like)
    history = await pool.fetch(
        "SELECT fingerprint, at, outcome, status, severity, ref FROM alert_ingest.alert_history "
        "WHERE fingerprint LIKE $1 ORDER BY id", like)
    return [tuple(r) for r in states], [tuple(r) for r in history]


async def _processed(pool: asyncpg.Pool, group: str) -> int:
    return await pool.fetchval(
        "SELECT coalesce(sum(next_offset), 0) FROM alert_ingest.consumer_positions WHERE group_id = $1", group)


async def _committed_everything(stack: Any, group: str) -> bool:
    """The group's committed offsets are at the end of every partition of alerts.raw."""
    consumer = AIOKafkaConsumer(bootstrap_servers=stack.bootstrap, group_id=group, enable_auto_commit=False)
    await consumer.start()
    try:
        tps = [TopicPartition(stack.topics.alerts_raw, p) for p in range(6)]
        ends = await consumer.end_offsets(tps)
        committed = [await consumer.committed(tp) or 0 for tp in tps]
        return committed == [ends[tp] for tp in tps]
    finally:
        await consumer.stop()


async def _rewind_group(stack: Any, group: str) -> None:
    """Commit offset 0 on every partition: as if every commit of the group had been lost."""
    consumer = AIOKafkaConsumer(bootstrap_servers=stack.bootstrap, group_id=group, enable_auto_commit=False)
    await consumer.start()
    try:
        tps = [TopicPartition(stack.topics.alerts_raw, p) for p in range(6)]
        consumer.assign(tps)
        await consumer.commit({tp: 0 for tp in tps})
    finally:
        await consumer.stop()


async def test_redelivery_after_lost_commits_changes_nothing(make_stack, kafka):
    stack = await make_stack()
    tag = unique("rd")
    group = stack.topics.group("alert-ingest")
    values: list[Any] = []
    for i in range(5):
        fp = f"{tag}-{i}"
        values += [native(fp) for _ in range(8)] + [native(fp, severity="critical"), native(fp, "resolved")]
    values += [b"not json", {"unknown": "format"}]
    await kafka.produce_many(stack.topics.alerts_raw, values, key_fn=lambda i: f"{tag}-{(i // 10)}".encode())
    cfg = make_settings(stack)
    async with run_in_process(create_app(cfg)) as app:
        await eventually(lambda: _processed(app.pool, group), until=lambda n: n == len(values), what="all processed")
        await eventually(lambda: app.pool.fetchval("SELECT count(*) FROM alert_ingest.outbox"), until=lambda n: n == 0)
        before = await _snapshot(app.pool, f"{tag}%")
        await eventually(lambda: _committed_everything(stack, group), what="offsets committed")
    await _rewind_group(stack, group)
    assert not await _committed_everything(stack, group)  # the records will really come again
    async with run_in_process(create_app(cfg)) as app:
        await eventually(lambda: _committed_everything(stack, group), what="redelivered batches committed")
        after = await _snapshot(app.pool, f"{tag}%")
        assert await app.pool.fetchval("SELECT count(*) FROM alert_ingest.outbox") == 0
    assert after == before
    assert len(before[0]) == 5 and all(s[3] == 10 for s in before[0])
    events = await kafka.read_json(stack.topics.alerts_state, until=lambda es: len(es) >= 15)
    assert len(events) == 15  # first_firing, severity_raised, resolved per fingerprint; nothing twice
    dlt = await kafka.read(stack.topics.alerts_raw + ".DLT", until=lambda rs: len(rs) >= 2)
    assert len(dlt) == 2


async def test_two_instances_in_one_group_give_the_result_of_one(make_stack, kafka):
    stack = await make_stack()
    tag = unique("two")
    fps = [f"{tag}-{i}" for i in range(40)]
    values = [native(fp) for _ in range(10) for fp in fps]  # unkeyed: every fingerprint on every partition
    a_cfg = make_settings(stack, instance_id="a")
    b_cfg = make_settings(stack, instance_id="b")
    async with contextlib.AsyncExitStack() as es:
        a = await es.enter_async_context(run_in_process(create_app(a_cfg)))
        b = await es.enter_async_context(run_in_process(create_app(b_cfg)))

        async def assigned() -> tuple[int, int]:
            return tuple(sum(len(sub.consumer.assignment()) for sub in x.runtime.broker.subscribers)  # type: ignore
                         for x in (a, b))

        await eventually(assigned, until=lambda n: n[0] > 0 and n[1] > 0 and sum(n) == 6, what="both assigned")
        await kafka.produce_many(stack.topics.alerts_raw, values)
        group = stack.topics.group("alert-ingest")
        await eventually(lambda: _processed(a.pool, group), until=lambda n: n == len(values), what="all processed")
        states, _ = await _snapshot(a.pool, f"{tag}%")
    assert len(states) == 40
    assert all(s[1] == "firing" and s[3] == 10 and s[5] == 1 for s in states)
    events = await kafka.read_json(stack.topics.alerts_state, until=lambda es: len(es) >= 40)
    assert sorted(e["subject"] for e in events) == sorted(fps)  # exactly one first_firing each
    assert {e["data"]["change"] for e in events} == {"first_firing"}


@dataclass
class FakeRecord:
    """A ConsumerRecord look-alike, on partitions the real consumer never uses."""

    topic: str
    partition: int
    offset: int
    value: bytes
    key: bytes | None = None
    timestamp: int = 1_765_000_000_000
    headers: tuple = ()


_alert = st.builds(lambda i, s, v: native(f"prop-{i}", s, v), st.integers(0, 3),
                   st.sampled_from(["firing", "resolved"]),
                   st.sampled_from(["info", "warning", "error", "critical"]))
_junk = st.one_of(st.binary(max_size=40), st.just(b'{"status": 1, "summary": ""}'))


@settings(max_examples=8, deadline=None, suppress_health_check=list(HealthCheck))
@given(items=st.lists(st.one_of(_alert, _junk), min_size=1, max_size=30))
async def test_the_same_batch_twice_equals_once(stack, ingest, items):
    service = ingest.app.state.ingest()
    tag = unique("p")
    partition = 1000 + int(tag[-6:], 16) % 1_000_000
    records = []
    for i, item in enumerate(items):
        if isinstance(item, dict):
            item = {**item, "fingerprint": f"{tag}-{item['fingerprint']}"}
            raw = orjson.dumps(item)
        else:
            raw = item
        records.append(FakeRecord(stack.topics.alerts_raw, partition, i, raw, timestamp=1_765_000_000_000 + i))
    await service.handle(records)
    once = await _snapshot(ingest.pool, f"{tag}-%")
    await service.handle(records)
    await service.handle(records[len(records) // 2:])
    assert await _snapshot(ingest.pool, f"{tag}-%") == once
