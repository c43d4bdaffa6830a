"""Faults of the broker and the database, under load (CHAOS_FULL=1 only): on a Kafka and a PostgreSQL of our
own (deploy/stack.py on ports 29092/25432, state in .state/chaos), never the shared stack. The services reach
PostgreSQL through a TCP proxy, so latency, connection resets and a blackhole can be put between them.

kill -9 of the broker, restarted after 10 s; SIGSTOP of the broker for 30 s; PostgreSQL stopped with
-m immediate during writes and restarted after 15 s; a table locked for 20 s; latency, resets and a blackhole
on the database connections. Each is one oracle-checked run (tests/support/chaos.py).
"""

from __future__ import annotations

import asyncio
import signal
import uuid
from collections.abc import AsyncIterator

import asyncpg
import pytest

from shared.kafka import ensure_topics
from tests.conftest import Stack
from tests.reliability.conftest import ChaosPipeline, chaos_pipeline_on
from tests.reliability.test_service_faults import assert_clean, run_scenario
from tests.support.chaos import FULL, OwnStack
from tests.support.kafka import KafkaTestClient
from tests.support.tcp_proxy import TcpProxy
from tests.support.waiting import eventually

pytestmark = pytest.mark.skipif(not FULL, reason="broker and database faults run with CHAOS_FULL=1 (make chaos)")


@pytest.fixture(scope="module")
async def pg_proxy(own: OwnStack) -> AsyncIterator[TcpProxy]:
    proxy = await TcpProxy("127.0.0.1", own.pg_port).start()
    yield proxy
    await proxy.stop()


async def own_slice(own: OwnStack) -> Stack:
    """A fresh database and topic prefix on OUR stack (the `own` fixture of conftest.py)."""
    db = f"chaos_{uuid.uuid4().hex[:8]}"
    conn = await asyncpg.connect(own.admin_dsn)
    try:
        await conn.execute(f'CREATE DATABASE "{db}"')
    finally:
        await conn.close()
    s = Stack(own.bootstrap, f"postgresql://postgres@127.0.0.1:{own.pg_port}/{db}", f"c{uuid.uuid4().hex[:6]}.")
    await ensure_topics(s.kafka, s.topics.all())
    return s


@pytest.fixture(scope="module")
async def stack(own: OwnStack, pg_proxy: TcpProxy) -> Stack:
    """A slice of OUR stack; the services' DATABASE_URL goes through the proxy."""
    return await own_slice(own)


@pytest.fixture(scope="module")
async def pipeline(stack: Stack, pg_proxy: TcpProxy, tmp_path_factory) -> AsyncIterator[ChaosPipeline]:
    db = stack.database_url.rsplit("/", 1)[1]
    env = {"DATABASE_URL": f"postgresql://postgres@127.0.0.1:{pg_proxy.port}/{db}"}
    async with chaos_pipeline_on(stack, tmp_path_factory.mktemp("infra-logs"), env) as p:
        yield p


@pytest.fixture(scope="module")
async def kafka(stack: Stack) -> AsyncIterator[KafkaTestClient]:
    c = KafkaTestClient(stack.bootstrap)
    await c.start()
    yield c
    await c.stop()


async def recovered(p: ChaosPipeline) -> None:
    await eventually(p.all_ready, timeout=180, interval=1.0, what="every service ready again")


async def test_broker_kill9_restart_after_10s(pipeline: ChaosPipeline, kafka, own: OwnStack) -> None:
    async def fault(p: ChaosPipeline) -> None:
        await asyncio.sleep(2)  # mid-load
        own.kill_broker()
        await asyncio.sleep(10)  # the fault's own duration
        await asyncio.to_thread(own.start_broker)

    v = await run_scenario(pipeline, kafka, "broker kill -9, restart after 10 s", fault, settle_timeout=600)
    await recovered(pipeline)
    assert_clean(v)


async def test_broker_sigstop_30s(pipeline: ChaosPipeline, kafka, own: OwnStack) -> None:
    async def fault(p: ChaosPipeline) -> None:
        await asyncio.sleep(2)
        own.pause_broker()
        try:
            await asyncio.sleep(30)
        finally:
            own.resume_broker()

    v = await run_scenario(pipeline, kafka, "broker SIGSTOP 30 s", fault, settle_timeout=600)
    await recovered(pipeline)
    assert_clean(v)


async def test_postgres_immediate_stop_restart_after_15s(pipeline: ChaosPipeline, kafka, own: OwnStack) -> None:
    async def fault(p: ChaosPipeline) -> None:
        await asyncio.sleep(2)
        await asyncio.to_thread(own.stop_pg_immediate)
        await asyncio.sleep(15)
        await asyncio.to_thread(own.start_pg)

    v = await run_scenario(pipeline, kafka, "PostgreSQL stop -m immediate, restart after 15 s", fault,
                           settle_timeout=600)
    await recovered(pipeline)
    assert_clean(v)


async def test_table_locked_20s(pipeline: ChaosPipeline, kafka, stack: Stack) -> None:
    async def fault(p: ChaosPipeline) -> None:
        await asyncio.sleep(1)
        conn = await asyncpg.connect(stack.database_url)
        try:
            async with conn.transaction():
                await conn.execute("LOCK TABLE alert_ingest.alert_state, triage.tickets IN ACCESS EXCLUSIVE MODE")
                await asyncio.sleep(20)
        finally:
            await conn.close()

    v = await run_scenario(pipeline, kafka, "tables locked 20 s (alert_state, tickets)", fault, settle_timeout=600)
    assert_clean(v)


async def test_database_latency_resets_and_blackhole(pipeline: ChaosPipeline, kafka, pg_proxy: TcpProxy) -> None:
    async def fault(p: ChaosPipeline) -> None:
        await asyncio.sleep(1)
        pg_proxy.latency_s = 0.05
        await asyncio.sleep(8)
        pg_proxy.latency_s = 0.0
        for _ in range(3):
            pg_proxy.reset_all()
            await asyncio.sleep(2)
        pg_proxy.blackhole = True
        await asyncio.sleep(10)
        pg_proxy.blackhole = False
        pg_proxy.reset_all()  # what a partition that heals looks like to the stuck connections

    v = await run_scenario(pipeline, kafka, "database latency 50 ms, 3 resets, 10 s blackhole", fault,
                           settle_timeout=600)
    await recovered(pipeline)
    assert_clean(v)


async def test_relay_killed_between_send_and_delete(pipeline: ChaosPipeline, kafka) -> None:
    """kill -9 of every service repeatedly while its outbox relay is busy: republished events are dropped by id."""
    async def fault(p: ChaosPipeline) -> None:
        for _ in range(3):
            for name in ("alert-ingest", "ticket-triage", "engineering-validation"):
                await asyncio.sleep(0.4)
                await p.crash(name, signal.SIGKILL, wait=False)
        await p.wait_all_ready()

    v = await run_scenario(pipeline, kafka, "outbox relays killed mid-publish (kill -9 x9)", fault,
                           settle_timeout=600)
    assert_clean(v)
