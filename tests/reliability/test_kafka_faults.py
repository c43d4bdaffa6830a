"""Faults between the services and Kafka, under load (CHAOS_FULL=1 only), on the suite's own broker: latency,
connection resets, a blackhole and refused connections through a TCP proxy, each landing while the load is
produced. Kafka clients reconnect to the address the broker
*advertises*, so the broker has a second listener advertised as the proxy's port (`OwnStack.proxied_port` ->
`kafka_proxy_port`, deploy/stack.py KAFKA_PROXIED_PORT / KAFKA_PROXIED_ADVERTISED_PORT): every connection of
the services, first and later, crosses the proxy. The workload producers and the oracle talk to the broker
directly. Each scenario is one oracle-checked run (tests/support/chaos.py).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import asyncpg
import pytest

from tests.conftest import Stack
from tests.reliability.conftest import ChaosPipeline, chaos_pipeline_on
from tests.reliability.test_infra_faults import own_slice, recovered
from tests.reliability.test_service_faults import N_ALERTS, assert_clean, run_scenario
from tests.support.chaos import FULL, OwnStack
from tests.support.kafka import KafkaTestClient
from tests.support.tcp_proxy import TcpProxy

pytestmark = pytest.mark.skipif(not FULL, reason="Kafka faults through the proxy run with CHAOS_FULL=1 (make chaos)")


@pytest.fixture(scope="module")
async def kafka_proxy(own: OwnStack) -> AsyncIterator[TcpProxy]:
    """Listens on the port the broker advertises for its PROXIED listener, forwards to that listener."""
    proxy = await TcpProxy("127.0.0.1", own.proxied_port, listen_port=own.kafka_proxy_port).start()
    yield proxy
    await proxy.stop()


@pytest.fixture(scope="module")
async def stack(own: OwnStack) -> Stack:
    return await own_slice(own)


@pytest.fixture(scope="module")
async def pipeline(stack: Stack, own: OwnStack, kafka_proxy: TcpProxy, tmp_path_factory
                   ) -> AsyncIterator[ChaosPipeline]:
    env = {"KAFKA_BOOTSTRAP_SERVERS": own.proxied_bootstrap}
    async with chaos_pipeline_on(stack, tmp_path_factory.mktemp("kafka-fault-logs"), env) as p:
        assert kafka_proxy.connections > 0, "the services did not connect through the Kafka proxy"
        yield p


@pytest.fixture(scope="module")
async def kafka(stack: Stack) -> AsyncIterator[KafkaTestClient]:
    c = KafkaTestClient(stack.bootstrap)
    await c.start()
    yield c
    await c.stop()


async def alert_rows(stack: Stack) -> int:
    """alert-ingest's progress on this module's database (the slice is ours alone)."""
    conn = await asyncpg.connect(stack.database_url)
    try:
        return await conn.fetchval("SELECT count(*) FROM alert_ingest.alert_state")
    finally:
        await conn.close()


async def test_kafka_latency_and_resets(pipeline: ChaosPipeline, kafka, kafka_proxy: TcpProxy) -> None:
    """50 ms each way on every chunk, and every connection reset three times, while the load is produced."""
    reset: list[int] = []

    async def fault(p: ChaosPipeline) -> None:
        await asyncio.sleep(0.5)
        kafka_proxy.latency_s = 0.05
        for _ in range(3):
            await asyncio.sleep(1.5)
            reset.append(kafka_proxy.reset_all())
        await asyncio.sleep(3)
        kafka_proxy.latency_s = 0.0

    before = kafka_proxy.connections
    v = await run_scenario(pipeline, kafka, "Kafka 50 ms latency + every connection reset 3 times, mid-load "
                           "(services' side)", fault, settle_timeout=600)
    await recovered(pipeline)
    print(f"kafka proxy: connections reset per step {reset}, new connections {kafka_proxy.connections - before}")
    assert all(n > 0 for n in reset), f"the resets found no connection through the proxy: {reset}"
    assert kafka_proxy.connections > before, "the services never reconnected through the proxy"
    assert_clean(v)


async def test_kafka_blackhole_15s(pipeline: ChaosPipeline, kafka, kafka_proxy: TcpProxy, stack: Stack) -> None:
    """Mid-load, everything the services send to Kafka or receive from it is swallowed for 15 s (longer than the
    consumers' 10 s session timeout: the broker evicts them and their commits fail), then healed with a reset."""
    progress: list[int] = []

    async def fault(p: ChaosPipeline) -> None:
        progress.append(await alert_rows(stack))
        await asyncio.sleep(1)
        kafka_proxy.blackhole = True
        await asyncio.sleep(2)  # batches fetched before the blackhole may still be stored meanwhile
        progress.append(await alert_rows(stack))
        await asyncio.sleep(13)
        progress.append(await alert_rows(stack))
        kafka_proxy.blackhole = False
        kafka_proxy.reset_all()  # what a partition that heals looks like to the stuck connections

    v = await run_scenario(pipeline, kafka, "Kafka blackhole 15 s mid-load (services' side)", fault,
                           settle_timeout=600)
    await recovered(pipeline)
    start, early, healed = progress
    print(f"alert_state rows: run start {start}, 2 s into the blackhole {early}, at heal {healed} "
          f"({healed - early} stored in the last 13 s of the blackhole)")
    assert healed - start < N_ALERTS, "the whole load was done before the blackhole ended: it did not land mid-load"
    assert_clean(v)


async def test_kafka_refused_then_restored(pipeline: ChaosPipeline, kafka, kafka_proxy: TcpProxy) -> None:
    """The broker unreachable for the services (every connection reset, new ones refused) for 20 s mid-load."""
    async def fault(p: ChaosPipeline) -> None:
        await asyncio.sleep(1)
        kafka_proxy.refuse = True
        kafka_proxy.reset_all()
        await asyncio.sleep(20)
        kafka_proxy.refuse = False

    v = await run_scenario(pipeline, kafka, "Kafka unreachable 20 s mid-load (resets, connections refused)", fault,
                           settle_timeout=600)
    await recovered(pipeline)
    assert_clean(v)
