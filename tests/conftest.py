"""Shared fixtures. Unit tests need nothing; integration and e2e tests get the real Kafka and PostgreSQL
(see tests/support/infra.py), with a fresh topic prefix and a fresh database per test module."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import asyncpg
import pytest

from shared.kafka import ensure_topics
from shared.settings import KafkaSettings
from shared.topics import Topics
from tests.support.infra import Infra, start_infra, with_database
from tests.support.kafka import KafkaTestClient


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        path = Path(str(item.fspath))
        if "integration" in path.parts:
            item.add_marker(pytest.mark.integration)
        if "e2e" in path.parts:
            item.add_marker(pytest.mark.e2e)


@pytest.fixture(scope="session")
def infra() -> Iterator[Infra]:
    inf = start_infra()
    yield inf
    inf.close()


@dataclass
class Stack:
    """One isolated slice of the real stack: its own topic prefix and its own database."""

    bootstrap: str
    database_url: str
    topic_prefix: str

    @property
    def topics(self) -> Topics:
        return Topics(self.topic_prefix)

    @property
    def kafka(self) -> KafkaSettings:
        return KafkaSettings(bootstrap_servers=self.bootstrap, topic_prefix=self.topic_prefix)

    def env(self) -> dict[str, str]:
        """Environment for a service process on this slice."""
        return {"KAFKA_BOOTSTRAP_SERVERS": self.bootstrap, "DATABASE_URL": self.database_url,
                "TOPIC_PREFIX": self.topic_prefix, "LOG_JSON": "true"}


async def new_stack(infra: Infra) -> Stack:
    suffix = uuid.uuid4().hex[:10]
    db = f"test_{suffix}"
    conn = await asyncpg.connect(infra.admin_dsn)
    try:
        await conn.execute(f'CREATE DATABASE "{db}"')
    finally:
        await conn.close()
    stack = Stack(infra.bootstrap, with_database(infra.admin_dsn, db), f"t{suffix}.")
    await ensure_topics(stack.kafka, stack.topics.all())
    return stack


async def drop_stack(infra: Infra, stack: Stack) -> None:
    """Delete the slice's topics and database, so repeated runs do not pile up partitions on the broker."""
    from aiokafka.admin import AIOKafkaAdminClient

    admin = AIOKafkaAdminClient(bootstrap_servers=stack.bootstrap)
    try:
        await admin.start()
        names = [t for t in await admin.list_topics() if t.startswith(stack.topic_prefix)]
        if names:
            await admin.delete_topics(names)
    except Exception:  # cleanup is best effort; a failure here must not fail the tests
        pass
    finally:
        await admin.close()
    db = stack.database_url.rsplit("/", 1)[1].split("?")[0]
    try:
        conn = await asyncpg.connect(infra.admin_dsn)
        try:
            await conn.execute(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)')
        finally:
            await conn.close()
    except Exception:
        pass


@pytest.fixture(scope="module")
async def stack(infra: Infra) -> AsyncIterator[Stack]:
    s = await new_stack(infra)
    yield s
    await drop_stack(infra, s)


@pytest.fixture
async def make_stack(infra: Infra):
    """A factory for extra isolated slices within one test."""
    made: list[Stack] = []

    async def factory() -> Stack:
        made.append(await new_stack(infra))
        return made[-1]

    yield factory
    for s in made:
        await drop_stack(infra, s)


@pytest.fixture(scope="module")
async def kafka(stack: Stack) -> AsyncIterator[KafkaTestClient]:
    client = KafkaTestClient(stack.bootstrap)
    await client.start()
    yield client
    await client.stop()


@pytest.fixture(scope="module")
async def db(stack: Stack) -> AsyncIterator[asyncpg.Pool]:
    pool = await asyncpg.create_pool(stack.database_url, min_size=1, max_size=4)
    yield pool
    await pool.close()


@pytest.fixture(scope="session")
def event_loop_policy() -> asyncio.AbstractEventLoopPolicy:
    return asyncio.DefaultEventLoopPolicy()
