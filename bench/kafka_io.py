"""Kafka helpers for the harness: bulk and paced producing, reading topics in the background, group progress."""

from __future__ import annotations

import asyncio
import contextlib
import time
import zlib
from collections.abc import Sequence
from dataclasses import dataclass, field

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import CoordinatorLoadInProgressError, GroupCoordinatorNotAvailableError, NotCoordinatorForGroupError

Record = tuple[bytes | None, bytes]  # (key, value)


def bench_producer(bootstrap: str, *, linger_ms: int = 5) -> AIOKafkaProducer:
    """The harness's own producer: acks=all and idempotent like the services' producers."""
    return AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", enable_idempotence=True,
                            linger_ms=linger_ms, max_batch_size=512 * 1024, max_request_size=4 * 1024 * 1024)


async def produce_bulk(producer: AIOKafkaProducer, topic: str, records: Sequence[Record], partitions: int) -> None:
    """Append records as fast as the broker takes them (whole batches per partition, no per-message future)."""
    batches: dict[int, object] = {}
    pending: list[asyncio.Future] = []
    for i, (key, value) in enumerate(records):
        p = zlib.crc32(key) % partitions if key else i % partitions
        batch = batches.get(p) or producer.create_batch()
        while batch.append(key=key, value=value, timestamp=None) is None:
            pending.append(await producer.send_batch(batch, topic, partition=p))
            batch = producer.create_batch()
        batches[p] = batch
        if len(pending) > 64:  # bound memory: wait for the older half
            await asyncio.gather(*pending[:32])
            del pending[:32]
    for p, batch in batches.items():
        if batch.record_count():
            pending.append(await producer.send_batch(batch, topic, partition=p))
    await asyncio.gather(*pending)


async def produce_paced(producer: AIOKafkaProducer, topic: str, records: Sequence[Record], rate: float,
                        on_send=None) -> None:
    """Send records at `rate` per second (in 10 ms ticks); `on_send(index, wall_time)` notes each send."""
    loop = asyncio.get_running_loop()
    start = loop.time()
    futures = []
    for i, (key, value) in enumerate(records):
        due = start + i / rate
        if (delay := due - loop.time()) > 0.01:
            await asyncio.sleep(delay)  # pacing the offered load, not synchronisation
        if on_send:
            on_send(i, time.time())
        futures.append(await producer.send(topic, value, key=key))
    await asyncio.gather(*futures)


@dataclass
class Seen:
    """A record read back: its value, its topic timestamp (ms) and when the harness received it (s)."""

    value: bytes
    key: bytes | None
    timestamp_ms: int
    received: float


@dataclass
class TopicReader:
    """Reads topics from the beginning in a background task, keeping every record."""

    bootstrap: str
    topics: list[str]
    records: dict[str, list[Seen]] = field(default_factory=dict)
    _task: asyncio.Task | None = None
    _consumer: AIOKafkaConsumer | None = None

    async def start(self) -> None:
        self._consumer = AIOKafkaConsumer(*self.topics, bootstrap_servers=self.bootstrap, group_id=None,
                                          auto_offset_reset="earliest", enable_auto_commit=False,
                                          fetch_max_bytes=16 * 1024 * 1024)
        await self._consumer.start()
        self.records = {t: [] for t in self.topics}
        self._task = asyncio.create_task(self._run())

    async def _run(self) -> None:
        assert self._consumer is not None
        while True:
            batch = await self._consumer.getmany(timeout_ms=100, max_records=10_000)
            now = time.time()
            for tp, recs in batch.items():
                out = self.records[tp.topic]
                out.extend(Seen(r.value, r.key, r.timestamp, now) for r in recs)

    def count(self, topic: str) -> int:
        return len(self.records.get(topic, []))

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
        if self._consumer:
            await self._consumer.stop()


class Progress:
    """Committed offsets of consumer groups against the topics' end offsets."""

    def __init__(self, bootstrap: str) -> None:
        self.bootstrap = bootstrap
        self._admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
        self._consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=None, enable_auto_commit=False)

    async def start(self) -> None:
        await self._admin.start()
        await self._consumer.start()

    async def stop(self) -> None:
        with contextlib.suppress(Exception):
            await self._consumer.stop()
        with contextlib.suppress(Exception):
            await self._admin.close()

    async def end(self, topic: str) -> int:
        parts = self._consumer.partitions_for_topic(topic)
        if not parts:
            await self._consumer._client.force_metadata_update()  # a topic created after start
            parts = self._consumer.partitions_for_topic(topic) or set()
        tps = [TopicPartition(topic, p) for p in parts]
        return sum((await self._consumer.end_offsets(tps)).values()) if tps else 0

    async def committed(self, group: str, topic: str) -> int:
        try:
            offsets = await self._admin.list_consumer_group_offsets(group)
        except (GroupCoordinatorNotAvailableError, CoordinatorLoadInProgressError, NotCoordinatorForGroupError):
            return 0  # a fresh broker still loading __consumer_offsets: nothing committed yet, poll again
        return sum(max(o.offset, 0) for tp, o in offsets.items() if tp.topic == topic)

    async def lag(self, group: str, topic: str) -> int:
        return await self.end(topic) - await self.committed(group, topic)
