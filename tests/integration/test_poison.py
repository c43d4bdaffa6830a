"""A record that fails its batch for a reason other than infrastructure is narrowed down and dead-lettered,
and every other record of the batch is applied once; an infrastructure failure is never dead-lettered."""

from __future__ import annotations

from dataclasses import dataclass

import asyncpg
import orjson
import pytest

from shared.db import SHARED_MIGRATIONS, apply_migrations, create_pool
from shared.poison import isolate, is_infrastructure
from shared.tracking import claim_records
from tests.support.kafka import unique


@dataclass
class Rec:
    topic: str
    partition: int
    offset: int
    value: bytes
    key: bytes | None = None
    timestamp: int | None = None


@dataclass
class Msg:
    raw_message: tuple


async def test_poison_records_are_isolated_and_dead_lettered(stack):
    schema = unique("s")
    pool = await create_pool(stack.database_url, schema=schema)
    await apply_migrations(pool, schema=schema, folders=[("shared", SHARED_MIGRATIONS)])
    await pool.execute("CREATE TABLE effects (v text PRIMARY KEY)")

    async def handle(msg: Msg) -> None:  # one transaction per batch, like the services
        async with pool.acquire() as conn, conn.transaction():
            for r in await claim_records(conn, "g", list(msg.raw_message)):
                if r.value.startswith(b"bad"):
                    raise ValueError(f"cannot process {r.value!r}")
                await conn.execute("INSERT INTO effects VALUES ($1)", r.value.decode())

    records = tuple(Rec("alerts.raw", 0, i, b"bad%d" % i if i in (3, 11) else b"ok%d" % i) for i in range(16))
    try:
        with pytest.raises(ValueError) as first:
            await handle(Msg(records))
        assert await isolate(handle, Msg(records), first.value, pool=pool, group_id="g", service="test") == 2
        effects = {r["v"] for r in await pool.fetch("SELECT v FROM effects")}
        assert effects == {f"ok{i}" for i in range(16) if i not in (3, 11)}
        letters = await pool.fetch("SELECT topic, value, headers FROM outbox ORDER BY id")
        assert [(r["topic"], r["value"]) for r in letters] == [("alerts.raw.DLT", b"bad3"), ("alerts.raw.DLT", b"bad11")]
        headers = dict(orjson.loads(letters[0]["headers"]))
        assert headers["dlt-error-class"] == "ValueError" and "cannot process" in headers["dlt-error-message"]
        assert await pool.fetchval("SELECT next_offset FROM consumer_positions WHERE group_id = 'g'") == 16
        await handle(Msg(records))  # redelivery of the whole batch changes nothing
        assert await pool.fetchval("SELECT count(*) FROM effects") == 14
    finally:
        await pool.close()


@pytest.mark.parametrize("exc", [OSError("connection refused"), TimeoutError(), asyncpg.DeadlockDetectedError(""),
                                 asyncpg.AdminShutdownError(""), asyncpg.ConnectionDoesNotExistError(""),
                                 asyncpg.UndefinedTableError(""), asyncpg.InsufficientPrivilegeError("")])
def test_infrastructure_failures_are_never_poison(exc):
    assert is_infrastructure(exc)


@pytest.mark.parametrize("exc", [ValueError("x"), TypeError("x"), RecursionError(), asyncpg.DataError(""),
                                 asyncpg.UntranslatableCharacterError("")])
def test_record_failures_are_poison(exc):
    assert not is_infrastructure(exc)


async def test_a_subscriber_gets_past_a_poison_record_on_the_real_broker(stack, kafka):
    """Through FastStream and Kafka: the poison record lands on <topic>.DLT, the others are applied, the
    consumer goes on."""
    from faststream.kafka.annotations import KafkaMessage

    from shared.kafka import SUBSCRIBER_DEFAULTS
    from shared.service import ServiceRuntime, build_app
    from shared.settings import ServiceSettings
    from tests.support.services import run_in_process
    from tests.support.waiting import eventually

    schema, group = unique("s"), unique("g")
    settings = ServiceSettings(database_url=stack.database_url, kafka=stack.kafka)
    runtime = ServiceRuntime(name="poison-test", schema=schema, settings=settings, migrations=None)
    topic = stack.topics.tickets_triaged

    @runtime.on_start
    async def _table(rt: ServiceRuntime) -> None:
        await rt.pool.execute("CREATE TABLE IF NOT EXISTS effects (v text PRIMARY KEY)")

    @runtime.broker.subscriber(topic, group_id=group, max_records=50, **SUBSCRIBER_DEFAULTS)
    @runtime.retrying("on_test", group_id=group)
    async def on_test(msg: KafkaMessage) -> None:
        async with runtime.pool.acquire() as conn, conn.transaction():
            for r in await claim_records(conn, group, list(msg.raw_message)):
                if r.value == b"poison":
                    raise TypeError("a field of an unexpected shape")
                await conn.execute("INSERT INTO effects VALUES ($1)", r.value.decode())

    marker = unique("v")
    async with run_in_process(build_app(runtime, title="t", description="t")) as running:
        for v in [f"{marker}-a", "poison", f"{marker}-b", f"{marker}-c"]:
            await kafka.produce(topic, v, key="same-partition")

        async def applied() -> set[str]:
            return {r["v"] for r in await running.pool.fetch("SELECT v FROM effects")}

        await eventually(applied, until=lambda got: got >= {f"{marker}-{x}" for x in "abc"}, timeout=30,
                         what="the records after the poison applied")
        dlt = await kafka.read(topic + ".DLT", until=lambda rs: any(r.value == b"poison" for r in rs), timeout=30)
        headers = dict(next(r for r in dlt if r.value == b"poison").headers)
        assert headers["dlt-error-class"] == b"TypeError" and headers["dlt-service"] == b"poison-test"


async def test_many_records_the_database_refuses_are_isolated_in_one_pass(stack):
    """1% of a 2,000-record batch refused by PostgreSQL itself (U+0000 in text): each is dead-lettered, the
    others applied once, with about one extra pass over the batch rather than one per halving level."""
    schema = unique("s")
    pool = await create_pool(stack.database_url, schema=schema)
    await apply_migrations(pool, schema=schema, folders=[("shared", SHARED_MIGRATIONS)])
    await pool.execute("CREATE TABLE effects (k text PRIMARY KEY, v text)")
    record_runs = 0

    async def handle(msg: Msg) -> None:
        nonlocal record_runs
        record_runs += len(msg.raw_message)
        async with pool.acquire() as conn, conn.transaction():
            fresh = await claim_records(conn, "g", list(msg.raw_message))
            await conn.executemany("INSERT INTO effects VALUES ($1, $2)",
                                   [(f"{r.partition}/{r.offset}", r.value.decode()) for r in fresh])

    bad = set(range(37, 2000, 100))
    records = tuple(Rec("alerts.raw", i * 6 // 2000, i, b"x\x00y" if i in bad else b"ok") for i in range(2000))
    try:
        with pytest.raises(asyncpg.DataError) as first:
            await handle(Msg(records))
        record_runs = 0
        assert await isolate(handle, Msg(records), first.value, pool=pool, group_id="g", service="test") == 20
        assert record_runs < 1.6 * len(records)  # halving: ~5.6x
        assert await pool.fetchval("SELECT count(*) FROM effects") == 1980
        assert await pool.fetchval("SELECT count(*) FROM outbox WHERE topic = 'alerts.raw.DLT'") == 20
    finally:
        await pool.close()
