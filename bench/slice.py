"""One isolated slice of the shared stack for a benchmark: its own topic prefix and its own database."""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass

import asyncpg
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from shared.kafka import ensure_topics
from shared.settings import KafkaSettings
from shared.topics import Topics

from .stats import poll

BOOTSTRAP = os.environ.get("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:9092")
ADMIN_DSN = os.environ.get("BENCH_ADMIN_DSN", "postgresql://postgres@127.0.0.1:5432/postgres")


def _with_database(dsn: str, database: str) -> str:
    base, _, rest = dsn.rpartition("/")
    return f"{base}/{database}" + ("?" + rest.split("?", 1)[1] if "?" in rest else "")


@dataclass
class Slice:
    """Topic prefix + database owned by one benchmark step; dropped when the step ends."""

    bootstrap: str
    database: str
    prefix: str

    @property
    def database_url(self) -> str:
        return _with_database(ADMIN_DSN, self.database)

    @property
    def topics(self) -> Topics:
        return Topics(self.prefix)

    @property
    def kafka(self) -> KafkaSettings:
        return KafkaSettings(bootstrap_servers=self.bootstrap, topic_prefix=self.prefix)

    def env(self) -> dict[str, str]:
        """Connection environment for a service process on this slice."""
        return {"KAFKA_BOOTSTRAP_SERVERS": self.bootstrap, "DATABASE_URL": self.database_url,
                "TOPIC_PREFIX": self.prefix, "LOG_JSON": "true", "LOG_LEVEL": "WARNING",
                "PYTHONUNBUFFERED": "1"}


async def create_slice(extra_topics: list[str] = (), *, pipeline: bool = True) -> Slice:
    """A new database bench_<hex> and the pipeline's topics (plus `extra_topics`) under prefix b<hex>."""
    hexid = uuid.uuid4().hex[:10]
    s = Slice(BOOTSTRAP, f"bench_{hexid}", f"b{hexid}.")
    if pipeline:
        conn = await asyncpg.connect(ADMIN_DSN)
        try:
            await conn.execute(f'CREATE DATABASE "{s.database}"')
        finally:
            await conn.close()
    names = (s.topics.all() if pipeline else []) + [s.prefix + t for t in extra_topics]
    await ensure_topics(s.kafka, names)
    await _wait_leaders(s.bootstrap, names)
    return s


async def _wait_leaders(bootstrap: str, topics: list[str], timeout: float = 30.0) -> None:
    """Poll until every partition of the new topics answers ListOffsets (its leader is serving)."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=None, enable_auto_commit=False)
    await consumer.start()
    try:
        async def ready() -> bool:
            try:
                await consumer._client.force_metadata_update()
                tps = [TopicPartition(t, p) for t in topics for p in consumer.partitions_for_topic(t) or ()]
                if len({tp.topic for tp in tps}) < len(set(topics)):
                    return False
                await consumer.end_offsets(tps)
                return True
            except Exception:
                return False
        await poll(ready, bool, timeout=timeout, interval=0.1, what="topic leaders")
    finally:
        await consumer.stop()


async def drop_slice(s: Slice) -> None:
    """Delete only this slice's topics and database (best effort)."""
    admin = AIOKafkaAdminClient(bootstrap_servers=s.bootstrap)
    with contextlib.suppress(Exception):
        await admin.start()
        names = [t for t in await admin.list_topics() if t.startswith(s.prefix)]
        if names:
            await admin.delete_topics(names)
    with contextlib.suppress(Exception):
        await admin.close()
    with contextlib.suppress(Exception):
        conn = await asyncpg.connect(ADMIN_DSN)
        try:
            await conn.execute(f'DROP DATABASE IF EXISTS "{s.database}" WITH (FORCE)')
        finally:
            await conn.close()


@contextlib.asynccontextmanager
async def stack_slice(extra_topics: list[str] = (), *, pipeline: bool = True) -> AsyncIterator[Slice]:
    """A slice for the duration of a block (`pipeline=False`: only the extra topics, no database)."""
    s = await create_slice(extra_topics, pipeline=pipeline)
    try:
        yield s
    finally:
        await drop_slice(s)
