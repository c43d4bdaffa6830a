"""Faults between the services and Kafka, under load (CHAOS_FULL=1 only), on the suite's own broker: latency,
connection resets and a blackhole through a TCP proxy. Kafka clients reconnect to the address the broker
*advertises*, so the broker has a second listener advertised as the proxy's port (`OwnStack.proxied_port` ->
`kafka_proxy_port`, deploy/stack.py KAFKA_PROXIED_PORT / KAFKA_PROXIED_ADVERTISED_PORT): every connection of
the services, first and later, crosses the proxy. The workload producers and the oracle talk to the broker
directly. Each scenario is one oracle-checked run (tests/support/chaos.py).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from tests.conftest import Stack
from tests.reliability.conftest import ChaosPipeline, chaos_pipeline_on
from tests.reliability.test_infra_faults import own_slice, recovered
from tests.reliability.test_service_faults import assert_clean, run_scenario
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


async def test_kafka_latency_resets_and_blackhole(pipeline: ChaosPipeline, kafka, kafka_proxy: TcpProxy) -> None:
    reset: list[int] = []

    async def fault(p: ChaosPipeline) -> None:
        await asyncio.sleep(1)
        kafka_proxy.latency_s = 0.05
        await asyncio.sleep(8)
        kafka_proxy.latency_s = 0.0
        for _ in range(3):
            reset.append(kafka_proxy.reset_all())
            await asyncio.sleep(2)
        # longer than the consumers' session timeout (10 s): the broker evicts them, their commits fail
        kafka_proxy.blackhole = True
        await asyncio.sleep(15)
        kafka_proxy.blackhole = False
        reset.append(kafka_proxy.reset_all())  # what a partition that heals looks like to the stuck connections

    before = kafka_proxy.connections
    v = await run_scenario(pipeline, kafka, "Kafka latency 50 ms, 3 resets, 15 s blackhole (services' side)", fault,
                           settle_timeout=600)
    await recovered(pipeline)
    print(f"kafka proxy: connections reset per step {reset}, new connections {kafka_proxy.connections - before}")
    assert all(n > 0 for n in reset[:3]), f"the resets found no connection through the proxy: {reset}"
    assert kafka_proxy.connections > before, "the services never reconnected through the proxy"
    assert_clean(v)


async def test_kafka_refused_then_restored(pipeline: ChaosPipeline, kafka, kafka_proxy: TcpProxy) -> None:
    """The broker unreachable for the services (every connection reset, new ones refused) for 20 s mid-load."""
    async def fault(p: ChaosPipeline) -> None:
        await asyncio.sleep(2)
        kafka_proxy.refuse = True
        kafka_proxy.reset_all()
        await asyncio.sleep(20)
        kafka_proxy.refuse = False

    v = await run_scenario(pipeline, kafka, "Kafka unreachable 20 s (resets, connections refused)", fault,
                           settle_timeout=600)
    await recovered(pipeline)
    assert_clean(v)
