"""Kafka over TLS is configurable for every service: the shared broker factory, producer and admin client (and a
whole service) talk to the local broker's SSL and SASL_SSL listeners (deploy/stack.py, KAFKA_SSL=1: ports
KAFKA_SSL_PORT 9095 and KAFKA_SASL_SSL_PORT 9096, a CA made at stack start in <state>/kafka/tls/ca.pem), and a
client that does not trust the broker's CA fails at once with a KafkaError instead of hanging."""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import socket
import subprocess
from pathlib import Path

import httpx
import pytest
from aiokafka import AIOKafkaConsumer
from aiokafka.errors import KafkaError
from pydantic import SecretStr

from shared.kafka import client_kwargs, ensure_topics, make_broker, make_producer
from shared.settings import KafkaSettings
from tests.support.kafka import unique
from tests.support.services import ServiceProcess, free_port

ROOT = Path(__file__).resolve().parents[2]
STATE = Path(os.environ.get("STACK_STATE_DIR", ROOT / ".state"))
SSL_PORT = int(os.environ.get("KAFKA_SSL_PORT", "9095"))
SASL_SSL_PORT = int(os.environ.get("KAFKA_SASL_SSL_PORT", "9096"))
CA = os.environ.get("KAFKA_SSL_CAFILE") or str(STATE / "kafka" / "tls" / "ca.pem")
USER = os.environ.get("KAFKA_SCRAM_ADMIN_USER", "pipeline")
PASSWORD = os.environ.get("KAFKA_SCRAM_ADMIN_PASSWORD", "pipeline-local-only")


def _listening(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.5)
        return s.connect_ex(("127.0.0.1", port)) == 0


pytestmark = pytest.mark.skipif(
    not (_listening(SSL_PORT) and Path(CA).exists()),
    reason=f"no TLS listener on {SSL_PORT} or no CA at {CA} (stack started with KAFKA_SSL=0 or before TLS existed)")


def tls(cafile: str = CA) -> KafkaSettings:
    return KafkaSettings(bootstrap_servers=f"127.0.0.1:{SSL_PORT}", security_protocol="SSL", ssl_cafile=cafile)


def sasl_ssl(mechanism: str = "SCRAM-SHA-512") -> KafkaSettings:
    return KafkaSettings(bootstrap_servers=f"127.0.0.1:{SASL_SSL_PORT}", security_protocol="SASL_SSL",
                         sasl_mechanism=mechanism, sasl_username=USER, sasl_password=SecretStr(PASSWORD),
                         ssl_cafile=CA)


async def round_trip(k: KafkaSettings) -> None:
    """Admin (topic), producer, consumer and the FastStream broker of shared.kafka, all with `k`."""
    topic = unique("tls.")
    await ensure_topics(k, [topic], partitions=1)
    producer = make_producer(k, client_id="tls-test")
    await producer.start()
    try:
        await producer.send_and_wait(topic, b"over-tls", key=b"k")
    finally:
        await producer.stop()
    consumer = AIOKafkaConsumer(topic, auto_offset_reset="earliest", group_id=None, **client_kwargs(k))
    await consumer.start()
    try:
        record = await asyncio.wait_for(consumer.getone(), 30)
    finally:
        await consumer.stop()
    assert record.value == b"over-tls"
    broker = make_broker(k, client_id="tls-broker")
    await broker.connect()
    try:
        assert await broker.ping(timeout=5)
    finally:
        await broker.stop()


async def test_ssl_round_trip_through_shared_clients():
    await round_trip(tls())


@pytest.mark.skipif(not _listening(SASL_SSL_PORT), reason="no SASL_SSL listener (stack started with KAFKA_SCRAM=0)")
async def test_sasl_scram_over_tls_round_trip():
    await round_trip(sasl_ssl())


async def test_a_ca_that_did_not_sign_the_broker_is_refused(tmp_path, caplog):
    if shutil.which("openssl") is None:
        pytest.skip("openssl is missing")
    other = tmp_path / "other-ca.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(tmp_path / "k.pem"),
                    "-out", str(other), "-days", "1", "-subj", "/CN=some other CA"], check=True, capture_output=True)
    producer = make_producer(tls(str(other)), client_id="tls-wrong-ca")
    with pytest.raises(KafkaError):
        await asyncio.wait_for(producer.start(), 30)  # fails fast: no hang, no retry loop
    await producer.stop()
    assert "CERTIFICATE_VERIFY_FAILED" in caplog.text  # the reason is the certificate, said in the log


async def test_a_plaintext_client_gets_nothing_from_the_tls_port():
    producer = make_producer(KafkaSettings(bootstrap_servers=f"127.0.0.1:{SSL_PORT}"), client_id="tls-plain")
    with pytest.raises((KafkaError, TimeoutError)):
        await asyncio.wait_for(producer.start(), 20)
    await producer.stop()


async def test_a_service_runs_over_tls(stack, tmp_path):
    """engineering-validation with KAFKA_SECURITY_PROTOCOL=SSL: topics, outbox producer, consumers, readiness."""
    port = free_port()
    env = {**stack.env(), "KAFKA_BOOTSTRAP_SERVERS": f"127.0.0.1:{SSL_PORT}", "KAFKA_SECURITY_PROTOCOL": "SSL",
           "KAFKA_SSL_CAFILE": CA, "VALIDATION_HTTP_PORT": str(port)}
    svc = ServiceProcess("services.engineering_validation", port, env, tmp_path / "svc.log")
    svc.start()
    try:
        await svc.wait_ready(timeout=90)
        async with httpx.AsyncClient(base_url=svc.url) as c:
            ready = (await c.get("/ready")).json()
        assert ready["kafka"] and ready["ready"], ready
    finally:
        code = svc.stop(signal.SIGTERM, timeout=30)
    assert code == 0, (tmp_path / "svc.log").read_text()[-2000:]
