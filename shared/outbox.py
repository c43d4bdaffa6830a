"""Transactional outbox: write events with the state change, in one transaction; a relay publishes them.

`enqueue` runs inside the caller's transaction. `OutboxRelay` is a background task: one instance per schema
holds an advisory lock and publishes (so per-key order is kept even with several service instances), the
others stand by. A NOTIFY on commit wakes it at once; a slow poll covers missed notifications. A relay that
dies between sending and deleting sends those events again on restart: consumers drop them by event id.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import os
from collections.abc import Iterable, Sequence
from typing import Any

import asyncpg
import orjson
import structlog
from aiokafka import AIOKafkaProducer
from prometheus_client import Counter, Gauge

from .contracts.envelope import CONTENT_TYPE, Envelope, encode

log = structlog.get_logger(__name__)

PUBLISHED = Counter("pipeline_outbox_published_total", "Events published by the outbox relay", ["service"])
BACKLOG = Gauge("pipeline_outbox_backlog", "Events waiting in the outbox at the last relay pass", ["service"])

#: TEST-ONLY fault hook (tests/reliability/test_relay_crash.py), never set in production: with
#: OUTBOX_CRASH_AFTER_SEND=1 the relay ends the process (exit code CRASH_EXIT_CODE) right after the broker
#: acknowledged a batch and before the batch is deleted from the outbox -- the crash whose republished events the
#: consumers must drop by event id. Read once at import; unset, it costs one boolean test per batch.
CRASH_AFTER_SEND = os.environ.get("OUTBOX_CRASH_AFTER_SEND") == "1"
CRASH_EXIT_CODE = 75


def _channel(schema: str) -> str:
    return f"outbox_{schema}"


def event_row(topic: str, event: Envelope[Any], key: str | None) -> tuple[str, bytes | None, bytes, str]:
    headers = [["content-type", CONTENT_TYPE], ["ce_type", event.type], ["ce_id", event.id]]
    return (topic, key.encode() if key is not None else None, encode(event), orjson.dumps(headers).decode())


async def enqueue(conn: asyncpg.Connection, topic: str, event: Envelope[Any], *, key: str | None) -> None:
    """Add one event to the outbox, inside the caller's transaction."""
    await enqueue_rows(conn, [event_row(topic, event, key)])


async def enqueue_rows(conn: asyncpg.Connection,
                       rows: Sequence[tuple[str, bytes | None, bytes, str]]) -> None:
    """Add many (topic, key, value, headers-json) rows at once (batched hot paths, dead letters)."""
    if not rows:
        return
    topics, keys, values, headers = zip(*rows, strict=True)
    await conn.execute(
        "INSERT INTO outbox(topic, key, value, headers) "
        "SELECT * FROM unnest($1::text[], $2::bytea[], $3::bytea[], $4::jsonb[])",
        list(topics), list(keys), list(values), list(headers),
    )
    schema = await conn.fetchval("SELECT current_schema()")
    await conn.execute("SELECT pg_notify($1, '')", _channel(schema))


def raw_row(topic: str, key: bytes | None, value: bytes | None,
            headers: Iterable[tuple[str, bytes]]) -> tuple[str, bytes | None, bytes, str]:
    """An outbox row for bytes that are not an envelope (dead letters keep the original bytes).

    Header values are kept as text in jsonb, which refuses U+0000: a NUL in a header becomes U+FFFD (the value
    itself is stored as bytes, unchanged).
    """
    hdrs = [[_jsonb_text(k), _jsonb_text(v.decode("utf-8", "replace"))] for k, v in headers]
    return (topic, key, value if value is not None else b"", orjson.dumps(hdrs).decode())


def _jsonb_text(text: str) -> str:
    return text.replace("\x00", "\ufffd")


class OutboxRelay:
    """Publishes a schema's outbox to Kafka, in order, from one instance at a time."""

    def __init__(self, pool: asyncpg.Pool, producer: AIOKafkaProducer, *, schema: str, service: str,
                 poll_interval_s: float = 0.5, batch_size: int = 2000) -> None:
        self._pool = pool
        self._producer = producer
        self._schema = schema
        self._service = service
        self._poll = poll_interval_s
        self._batch = batch_size
        self._wake = asyncio.Event()
        self._lock_key = int.from_bytes(hashlib.sha256(f"outbox:{schema}".encode()).digest()[:8], "big", signed=True)
        self.is_leader = False

    async def run(self) -> None:
        """Run until cancelled; reconnects after database or broker failures."""
        while True:
            try:
                await self._lead()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # database or broker trouble: wait and try again
                self.is_leader = False
                log.warning("outbox relay error; retrying", error=repr(exc), schema=self._schema)
                await asyncio.sleep(1.0)

    async def _lead(self) -> None:
        conn: asyncpg.Connection = await self._pool.acquire()
        try:
            while not await conn.fetchval("SELECT pg_try_advisory_lock($1)", self._lock_key):
                self.is_leader = False
                await asyncio.sleep(2.0)  # another instance relays; stand by
            self.is_leader = True
            await conn.add_listener(_channel(self._schema), self._on_notify)
            while True:
                await self._drain(conn)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), self._poll)
                self._wake.clear()
        finally:
            self.is_leader = False
            with contextlib.suppress(Exception):
                await conn.remove_listener(_channel(self._schema), self._on_notify)
            # Closing (not releasing) drops the session-level advisory lock with the session.
            with contextlib.suppress(Exception):
                await self._pool.release(conn, timeout=1)
            with contextlib.suppress(Exception):
                conn.terminate()

    def _on_notify(self, *_: object) -> None:
        self._wake.set()

    async def _drain(self, conn: asyncpg.Connection) -> None:
        while True:
            rows = await conn.fetch(
                "SELECT id, topic, key, value, headers FROM outbox ORDER BY id LIMIT $1", self._batch
            )
            BACKLOG.labels(self._service).set(len(rows))
            if not rows:
                return
            futures = []
            for r in rows:
                headers = [(k, v.encode()) for k, v in orjson.loads(r["headers"])]
                futures.append(await self._producer.send(r["topic"], r["value"], key=r["key"], headers=headers))
            await asyncio.gather(*futures)
            if CRASH_AFTER_SEND:
                _crash_after_send(self._schema, [r["id"] for r in rows])
            # By id, not `id <= last`: a row of a transaction that committed after our SELECT may have a
            # lower id, and must not be deleted before it is published.
            await conn.execute("DELETE FROM outbox WHERE id = ANY($1::bigint[])", [r["id"] for r in rows])
            PUBLISHED.labels(self._service).inc(len(rows))
            if len(rows) < self._batch:
                return


def _crash_after_send(schema: str, ids: list[int]) -> None:
    """The test hook's crash: no cleanup, no DELETE, no offset commit (like kill -9 at that instant)."""
    log.error("outbox test hook: exiting after send, before delete", schema=schema, rows=len(ids),
              first_id=min(ids), last_id=max(ids))
    os._exit(CRASH_EXIT_CODE)
