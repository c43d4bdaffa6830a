"""The stack is real: messages cross the real broker, migrations land in the real database, the outbox
relay publishes in order, and redelivered records are recognised."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

import asyncpg
import orjson
from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient

from shared.contracts import IncidentOpened, Severity, make_event
from shared.db import SHARED_MIGRATIONS, apply_migrations, create_pool
from shared.outbox import OutboxRelay, enqueue
from shared.tracking import claim_events, claim_records
from tests.support.kafka import unique


async def test_message_crosses_the_real_broker(stack, kafka):
    key = unique("k")
    await kafka.produce(stack.topics.alerts_raw, {"hello": key}, key=key)
    records = await kafka.read(stack.topics.alerts_raw,
                               until=lambda rs: any(r.key == key.encode() for r in rs), timeout=20)
    assert orjson.loads(next(r for r in records if r.key == key.encode()).value) == {"hello": key}


async def test_topics_exist_with_fixed_partitions(stack):
    admin = AIOKafkaAdminClient(bootstrap_servers=stack.bootstrap)
    await admin.start()
    try:
        described = await admin.describe_topics(stack.topics.all())
    finally:
        await admin.close()
    assert {t["topic"] for t in described} == set(stack.topics.all())
    assert all(len(t["partitions"]) == 6 for t in described)


async def test_migrations_apply_once_and_are_recorded(stack):
    schema = unique("s")
    pool = await create_pool(stack.database_url, schema=schema)
    try:
        first = await apply_migrations(pool, schema=schema, folders=[("shared", SHARED_MIGRATIONS)])
        again = await apply_migrations(pool, schema=schema, folders=[("shared", SHARED_MIGRATIONS)])
        assert first == ["shared/001_outbox_and_tracking.sql"]
        assert again == []
        await pool.execute("INSERT INTO outbox(topic, value) VALUES ('x', 'y')")
        assert await pool.fetchval("SELECT count(*) FROM outbox") == 1
        assert await pool.fetchval(f"SELECT count(*) FROM {schema}.schema_migrations") == 1
    finally:
        await pool.close()


async def test_outbox_relay_publishes_in_order_and_empties(stack, kafka):
    schema = unique("s")
    pool = await create_pool(stack.database_url, schema=schema)
    await apply_migrations(pool, schema=schema, folders=[("shared", SHARED_MIGRATIONS)])
    producer = AIOKafkaProducer(bootstrap_servers=stack.bootstrap, acks="all", enable_idempotence=True)
    await producer.start()
    relay = OutboxRelay(pool, producer, schema=schema, service="test", poll_interval_s=0.2)
    task = asyncio.create_task(relay.run())
    incident = unique("INC-")
    try:
        for i in range(20):
            async with pool.acquire() as conn, conn.transaction():
                event = make_event(IncidentOpened(incident_id=incident, title=f"t{i}", product="Chat",
                                                  severity=Severity.SEV3, opened_from="alerts"),
                                   source="/test", subject=incident)
                await enqueue(conn, stack.topics.incidents_updates, event, key=incident)
        events = await kafka.read_json(
            stack.topics.incidents_updates,
            until=lambda es: sum(e["subject"] == incident for e in es) >= 20, timeout=20)
        titles = [e["data"]["title"] for e in events if e["subject"] == incident]
        assert titles == [f"t{i}" for i in range(20)]
        assert await pool.fetchval("SELECT count(*) FROM outbox") == 0
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await producer.stop()
        await pool.close()


@dataclass
class Rec:
    topic: str
    partition: int
    offset: int


async def test_redelivered_records_and_events_are_recognised(stack):
    schema = unique("s")
    pool = await create_pool(stack.database_url, schema=schema)
    await apply_migrations(pool, schema=schema, folders=[("shared", SHARED_MIGRATIONS)])
    try:
        batch = [Rec("a", 0, 0), Rec("a", 0, 1), Rec("a", 1, 0)]
        async with pool.acquire() as conn, conn.transaction():
            assert await claim_records(conn, "g", batch) == batch
        async with pool.acquire() as conn, conn.transaction():
            again = await claim_records(conn, "g", [*batch, Rec("a", 0, 2)])
        assert again == [Rec("a", 0, 2)]
        async with pool.acquire() as conn, conn.transaction():
            assert await claim_events(conn, "c", ["e1", "e2", "e1"]) == {"e1", "e2"}
            assert await claim_events(conn, "c", ["e2", "e3"]) == {"e3"}
    finally:
        await pool.close()


async def test_postgres_is_real(db):
    version = await db.fetchval("SHOW server_version")
    assert int(version.split(".")[0]) >= 14
    assert isinstance(db, asyncpg.Pool)


async def test_relay_never_deletes_a_row_that_committed_while_it_was_sending(stack):
    """A transaction with a lower outbox id may commit after the relay read the batch: that row must survive
    the relay's delete and be published on the next pass."""
    schema = unique("s")
    pool = await create_pool(stack.database_url, schema=schema)
    await apply_migrations(pool, schema=schema, folders=[("shared", SHARED_MIGRATIONS)])
    slow = await pool.acquire()
    tx = slow.transaction()
    await tx.start()
    await slow.execute("INSERT INTO outbox(topic, value) VALUES ('t', 'early-id-late-commit')")
    await pool.execute("INSERT INTO outbox(topic, value) VALUES ('t', 'late-id-early-commit')")
    sent: list[bytes] = []

    class Producer:
        async def send(self, topic, value, key=None, headers=None):
            sent.append(value)
            if tx is not None and len(sent) == 1:
                await tx.commit()  # commits between the relay's SELECT and its DELETE
            future = asyncio.get_running_loop().create_future()
            future.set_result(None)
            return future

    relay = OutboxRelay(pool, Producer(), schema=schema, service="test")
    try:
        async with pool.acquire() as conn:
            await relay._drain(conn)
            assert await conn.fetchval("SELECT count(*) FROM outbox") == 1
            await relay._drain(conn)
            assert await conn.fetchval("SELECT count(*) FROM outbox") == 0
        assert sent == [b"late-id-early-commit", b"early-id-late-commit"]
    finally:
        await pool.release(slow)
        await pool.close()
