"""Offsets committed behind the batch (shared.kafka.commit_behind_batch_parser) on the real broker: a handled
batch's offsets reach the group, and a failed batch is still rewound and redelivered, never skipped."""

from __future__ import annotations

from aiokafka import AIOKafkaConsumer, TopicPartition
from faststream.kafka.annotations import KafkaMessage

from shared.kafka import SUBSCRIBER_DEFAULTS, commit_behind_batch_parser
from shared.service import ServiceRuntime, build_app
from shared.settings import ServiceSettings
from shared.tracking import claim_records
from tests.support.kafka import unique
from tests.support.services import run_in_process
from tests.support.waiting import eventually


async def _committed(bootstrap: str, group: str, topic: str) -> int:
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=group, enable_auto_commit=False)
    await consumer.start()
    try:
        return sum([await consumer.committed(TopicPartition(topic, p)) or 0 for p in range(6)])
    finally:
        await consumer.stop()


async def test_a_failed_batch_is_redelivered_and_handled_offsets_are_committed(stack, kafka):
    schema, group = unique("s"), unique("g")
    settings = ServiceSettings(database_url=stack.database_url, kafka=stack.kafka)
    runtime = ServiceRuntime(name="commit-behind-test", schema=schema, settings=settings, migrations=None)
    topic = stack.topics.tickets_triaged
    marker = unique("v")
    attempts: dict[str, int] = {}

    @runtime.on_start
    async def _table(rt: ServiceRuntime) -> None:
        await rt.pool.execute("CREATE TABLE IF NOT EXISTS effects (v text PRIMARY KEY)")

    @runtime.broker.subscriber(topic, group_id=group, max_records=50,
                               **{**SUBSCRIBER_DEFAULTS, "parser": commit_behind_batch_parser})
    @runtime.retrying("on_test", group_id=group)
    async def on_test(msg: KafkaMessage) -> None:
        async with runtime.pool.acquire() as conn, conn.transaction():
            for r in await claim_records(conn, group, list(msg.raw_message)):
                v = r.value.decode()
                attempts[v] = attempts.get(v, 0) + 1
                if v.endswith("-flaky") and attempts[v] == 1:
                    raise ConnectionResetError("the database went away")  # infrastructure: rewind, retry
                await conn.execute("INSERT INTO effects VALUES ($1)", v)

    values = [f"{marker}-{i}" for i in range(20)] + [f"{marker}-flaky"] + [f"{marker}-{i}" for i in range(20, 40)]
    before = await _committed(stack.bootstrap, group, topic)
    async with run_in_process(build_app(runtime, title="t", description="t")) as running:
        for v in values:
            await kafka.produce(topic, v, key="one-partition")

        async def applied() -> set[str]:
            return {r["v"] for r in await running.pool.fetch("SELECT v FROM effects")}

        await eventually(applied, until=lambda got: got >= set(values), timeout=30, what="every record applied")
        assert attempts[f"{marker}-flaky"] == 2  # the failed batch came again, once
        await eventually(lambda: _committed(stack.bootstrap, group, topic), until=lambda n: n >= len(values),
                         timeout=30, what="the offsets committed behind the batches")
    assert before == 0
    assert sorted(await _effects(stack, schema)) == sorted(values)  # each exactly once


async def _effects(stack, schema: str) -> list[str]:
    import asyncpg

    conn = await asyncpg.connect(stack.database_url)
    try:
        return [r["v"] for r in await conn.fetch(f'SELECT v FROM "{schema}".effects')]
    finally:
        await conn.close()
