"""Kafka plumbing: the FastStream broker factory, a raw producer for the outbox relay, topic creation.

Producers are safe by default (acks=all, idempotence on), so a retried send never duplicates or reorders
within a partition. Subscribers use AckPolicy.NACK_ON_ERROR with auto-commit off: an offset is committed
only after the handler stored its effect, and a failure (database or broker down) rewinds the batch so it
is redelivered, never dead-lettered.
"""

from __future__ import annotations

import asyncio
import dataclasses
import ssl
from collections.abc import Awaitable, Callable
from typing import Any

import structlog
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError
from aiokafka.structs import OffsetAndMetadata
from faststream import AckPolicy
from faststream.kafka import KafkaBroker
from faststream.kafka.message import KafkaAckableMessage, KafkaMessage
from faststream.security import BaseSecurity, SASLPlaintext, SASLScram256, SASLScram512

from .settings import KafkaSettings

log = structlog.get_logger(__name__)

#: The ack policy every pipeline subscriber uses (see module docstring).
ACK_POLICY = AckPolicy.NACK_ON_ERROR


async def tolerant_batch_parser(records: tuple[ConsumerRecord, ...], original: Callable[..., Awaitable[Any]]) -> Any:
    """FastStream's batch parser decodes every header value as UTF-8, and a record with a binary header then
    fails the whole batch *before* the handler runs, where FastStream commits it as processed: the record is
    lost, not redelivered nor dead-lettered (found by hand, 2026-12-03). The parser sees header values made
    readable (invalid bytes replaced); the handler still gets the records exactly as they came (a dead letter's
    header values then travel through the outbox as text: shared.outbox.raw_row)."""
    if all(_utf8(v) for r in records for _, v in r.headers):
        return await original(records)
    readable = tuple(dataclasses.replace(r, headers=[(k, v if _utf8(v) else v.decode("utf-8", "replace").encode())
                                                     for k, v in r.headers]) for r in records)
    message = await original(readable)
    message.raw_message = records
    return message


class CommitBehind:
    """A consumer's offset commits, sent in the background, one at a time, the latest offsets winning.

    Committing a batch's offsets costs a broker round trip (about 6 ms here: the group coordinator lingers
    before it appends), which FastStream awaits before it fetches the next batch. For a handler that stores its
    consumer positions with its effect (shared.tracking.claim_records) the Kafka commit only says where to
    resume: a commit that is late or lost (a crash, a rebalance, a stop right after the last batch) makes at
    most the batches since the last successful commit come again, and claim_records skips them. So the commit
    can overlap the next batch instead of preceding it."""

    def __init__(self, consumer: AIOKafkaConsumer) -> None:
        self._consumer = consumer
        self._pending: dict[TopicPartition, int] = {}
        self._task: asyncio.Task[None] | None = None

    @classmethod
    def of(cls, consumer: AIOKafkaConsumer) -> CommitBehind:
        committer = getattr(consumer, "_commit_behind", None)
        if committer is None:
            committer = cls(consumer)
            consumer._commit_behind = committer  # type: ignore[attr-defined]
        return committer

    def offer(self, records: tuple[ConsumerRecord, ...]) -> None:
        """Commit, soon, the offsets after these (processed) records."""
        # a batch holds each partition's records in offset order, so the last one seen is the latest
        last = {(r.topic, r.partition): r.offset for r in records}
        pending = self._pending
        for (topic, partition), offset in last.items():
            tp = TopicPartition(topic, partition)
            pending[tp] = max(pending.get(tp, 0), offset + 1)
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._run(), name="kafka-commit-behind")

    async def _run(self) -> None:
        while self._pending:
            offsets, self._pending = self._pending, {}
            try:
                await self._consumer.commit({tp: OffsetAndMetadata(o, "") for tp, o in offsets.items()})
            except Exception as exc:  # rebalance, stop: the positions in the database make it harmless
                log.info("offset commit skipped; a redelivery of these records will be recognised",
                         error=repr(exc), partitions=len(offsets))


class _CommitBehindMessage(KafkaAckableMessage):
    async def ack(self) -> None:
        if not self.committed:
            CommitBehind.of(self.consumer).offer(self.raw_message)  # type: ignore[arg-type]
        await KafkaMessage.ack(self)  # the message's own bookkeeping, without KafkaAckableMessage's commit


async def commit_behind_batch_parser(records: tuple[ConsumerRecord, ...],
                                     original: Callable[..., Awaitable[Any]]) -> Any:
    """tolerant_batch_parser whose message, once handled, commits its offsets in the background (CommitBehind).
    Only for handlers that claim their records in the database; a failure still rewinds (nack seeks)."""
    message = await tolerant_batch_parser(records, original)
    if type(message) is KafkaAckableMessage:
        message.__class__ = _CommitBehindMessage
    return message


async def undecoded(message: Any) -> None:
    """Every pipeline handler reads the raw records (msg.raw_message) and parses them itself, with its own
    rules for bad input: skip FastStream's per-record JSON decoding of a batch (measured: ~40% of
    alert-ingest's hot path), which would also decode header values as UTF-8 again (see above)."""
    return None


def _utf8(value: bytes | None) -> bool:
    if not value:
        return True
    try:
        value.decode()
    except UnicodeDecodeError:
        return False
    return True


#: Subscriber keyword arguments shared by every consumer of the pipeline.
SUBSCRIBER_DEFAULTS: dict[str, Any] = {
    "ack_policy": ACK_POLICY,
    "parser": tolerant_batch_parser,
    "decoder": undecoded,
    "auto_offset_reset": "earliest",
    "batch": True,
    "batch_timeout_ms": 50,
    # A fetch that names only partitions with nothing new is held by the broker for fetch_max_wait_ms, and the
    # consumer sends one fetch per broker at a time: with aiokafka's 500 ms, a drained partition held up the
    # others' records (measured: 300-400 ms gaps between batches once a backlog was uneven across partitions).
    "fetch_max_wait_ms": 50,
    # Up to 2 MiB per partition per fetch (aiokafka: 1 MiB), so one fetch fills a 2,000-record batch from a
    # single busy partition.
    "max_partition_fetch_bytes": 2 * 1024 * 1024,
    "max_poll_interval_ms": 300_000,
    "session_timeout_ms": 10_000,
    "heartbeat_interval_ms": 3_000,
}


def _ssl_context(k: KafkaSettings) -> ssl.SSLContext | None:
    if "SSL" not in k.security_protocol:
        return None
    return ssl.create_default_context(cafile=k.ssl_cafile)


def _security(k: KafkaSettings) -> BaseSecurity | None:
    if not k.security_protocol.startswith("SASL"):
        return BaseSecurity(ssl_context=_ssl_context(k), use_ssl=True) if k.security_protocol == "SSL" else None
    user = k.sasl_username or ""
    password = k.sasl_password.get_secret_value() if k.sasl_password else ""
    cls = {"SCRAM-SHA-256": SASLScram256, "SCRAM-SHA-512": SASLScram512, "PLAIN": SASLPlaintext}[k.sasl_mechanism]
    use_ssl = k.security_protocol == "SASL_SSL"
    return cls(user, password, ssl_context=_ssl_context(k), use_ssl=use_ssl)


def client_kwargs(k: KafkaSettings) -> dict[str, Any]:
    """Connection keyword arguments for raw aiokafka clients (producer, consumer, admin)."""
    kw: dict[str, Any] = {"bootstrap_servers": k.bootstrap_servers, "security_protocol": k.security_protocol}
    if k.security_protocol.startswith("SASL"):
        kw.update(
            sasl_mechanism=k.sasl_mechanism,
            sasl_plain_username=k.sasl_username,
            sasl_plain_password=k.sasl_password.get_secret_value() if k.sasl_password else None,
        )
    if (ctx := _ssl_context(k)) is not None:
        kw["ssl_context"] = ctx
    return kw


def make_broker(k: KafkaSettings, *, client_id: str, **kwargs: Any) -> KafkaBroker:
    """A FastStream Kafka broker with safe producer settings."""
    return KafkaBroker(
        k.bootstrap_servers,
        client_id=client_id,
        acks="all",
        enable_idempotence=True,
        linger_ms=5,
        security=_security(k),
        graceful_timeout=10.0,
        **kwargs,
    )


def make_producer(k: KafkaSettings, *, client_id: str) -> AIOKafkaProducer:
    """A raw aiokafka producer (outbox relay, dead letters): acks=all, idempotent, batching on."""
    return AIOKafkaProducer(
        client_id=client_id,
        acks="all",
        enable_idempotence=True,
        linger_ms=5,
        max_batch_size=256 * 1024,
        max_request_size=2 * 1024 * 1024,
        **client_kwargs(k),
    )


async def _retrying(call: Callable[[], Awaitable[Any]], timeout_s: float) -> Any:
    """`call()` again every 0.5 s while it fails (a broker still starting), up to `timeout_s`."""
    deadline = asyncio.get_running_loop().time() + timeout_s
    while True:
        try:
            return await call()
        except Exception:
            if asyncio.get_running_loop().time() > deadline:
                raise
            await asyncio.sleep(0.5)


async def wait_group_coordinator(k: KafkaSettings, timeout_s: float = 60.0) -> None:
    """On a fresh broker __consumer_offsets is created on the first group lookup, and until it is loaded every
    consumer-group call fails with GroupCoordinatorNotAvailable: wait until a group resolves."""
    admin = AIOKafkaAdminClient(**client_kwargs(k))
    await _retrying(admin.start, timeout_s)
    try:
        await _retrying(lambda: admin.find_coordinator("stack-readiness-probe"), timeout_s)
    finally:
        await admin.close()


async def ensure_topics(k: KafkaSettings, topics: list[str], *, partitions: int | None = None,
                        timeout_s: float = 30.0) -> list[str]:
    """Create the topics that do not exist yet (idempotent); returns those created."""
    admin = AIOKafkaAdminClient(**client_kwargs(k), request_timeout_ms=int(timeout_s * 1000))
    await _retrying(admin.start, timeout_s)
    try:
        existing = set(await admin.list_topics())
        missing = [t for t in topics if t not in existing]
        if missing:
            try:
                await admin.create_topics(
                    [NewTopic(t, partitions or k.partitions, 1) for t in missing], timeout_ms=int(timeout_s * 1000)
                )
            except TopicAlreadyExistsError:
                pass  # created concurrently by another starter
        return missing
    finally:
        await admin.close()
