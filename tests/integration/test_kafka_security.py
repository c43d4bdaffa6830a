"""Kafka with SASL/SCRAM is configurable for every service: the shared broker factory and raw clients talk to
the local broker's SCRAM listener (deploy/stack.py starts one on KAFKA_SCRAM_PORT, default 9094)."""

from __future__ import annotations

import os
import socket

import pytest
from aiokafka import AIOKafkaConsumer
from aiokafka.errors import KafkaError
from pydantic import SecretStr

from shared.kafka import client_kwargs, ensure_topics, make_broker, make_producer
from shared.settings import KafkaSettings
from tests.support.kafka import unique

PORT = int(os.environ.get("KAFKA_SCRAM_PORT", "9094"))
USER = os.environ.get("KAFKA_SCRAM_ADMIN_USER", "pipeline")
PASSWORD = os.environ.get("KAFKA_SCRAM_ADMIN_PASSWORD", "pipeline-local-only")


def _listening() -> bool:
    with socket.socket() as s:
        s.settimeout(0.5)
        return s.connect_ex(("127.0.0.1", PORT)) == 0


pytestmark = pytest.mark.skipif(not _listening(), reason="no SCRAM listener (stack started with KAFKA_SCRAM=0)")


def scram(mechanism: str, password: str = PASSWORD) -> KafkaSettings:
    return KafkaSettings(bootstrap_servers=f"127.0.0.1:{PORT}", security_protocol="SASL_PLAINTEXT",
                         sasl_mechanism=mechanism, sasl_username=USER, sasl_password=SecretStr(password))


@pytest.mark.parametrize("mechanism", ["SCRAM-SHA-512", "SCRAM-SHA-256"])
async def test_scram_round_trip_through_shared_clients(mechanism):
    k = scram(mechanism)
    topic = unique("scram.")
    await ensure_topics(k, [topic], partitions=1)
    producer = make_producer(k, client_id="scram-test")
    await producer.start()
    try:
        await producer.send_and_wait(topic, b"over-scram", key=b"k")
    finally:
        await producer.stop()
    consumer = AIOKafkaConsumer(topic, auto_offset_reset="earliest", group_id=None, **client_kwargs(k))
    await consumer.start()
    try:
        record = await consumer.getone()
    finally:
        await consumer.stop()
    assert record.value == b"over-scram"
    broker = make_broker(k, client_id="scram-broker")
    await broker.connect()
    try:
        assert await broker.ping(timeout=5)
    finally:
        await broker.stop()


async def test_wrong_password_is_refused():
    producer = make_producer(scram("SCRAM-SHA-512", "wrong"), client_id="scram-bad")
    with pytest.raises(KafkaError):
        await producer.start()
    await producer.stop()
