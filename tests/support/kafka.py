"""Kafka helpers for tests: produce raw bytes, and read a topic from the beginning until a condition holds."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from typing import Any

import orjson
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord


class KafkaTestClient:
    def __init__(self, bootstrap: str) -> None:
        self.bootstrap = bootstrap
        self._producer: AIOKafkaProducer | None = None

    async def start(self) -> None:
        self._producer = AIOKafkaProducer(bootstrap_servers=self.bootstrap, acks="all", enable_idempotence=True,
                                          linger_ms=2)
        await self._producer.start()

    async def stop(self) -> None:
        if self._producer:
            await self._producer.stop()

    async def produce(self, topic: str, value: bytes | str | dict[str, Any] | list[Any], *,
                      key: bytes | str | None = None, headers: list[tuple[str, bytes]] | None = None,
                      partition: int | None = None) -> Any:
        assert self._producer is not None
        if isinstance(value, (dict, list)):
            value = orjson.dumps(value)
        if isinstance(value, str):
            value = value.encode()
        if isinstance(key, str):
            key = key.encode()
        return await self._producer.send_and_wait(topic, value, key=key, headers=headers, partition=partition)

    async def produce_many(self, topic: str, values: list[bytes | dict[str, Any]], *,
                           key_fn: Callable[[int], bytes | None] | None = None) -> None:
        assert self._producer is not None
        futures = []
        for i, v in enumerate(values):
            raw = orjson.dumps(v) if isinstance(v, (dict, list)) else v
            futures.append(await self._producer.send(topic, raw, key=key_fn(i) if key_fn else None))
        await asyncio.gather(*futures)

    async def read(self, topic: str, *, until: Callable[[list[ConsumerRecord]], bool],
                   timeout: float = 30.0) -> list[ConsumerRecord]:
        """Read `topic` from the beginning until `until(records)` holds; fail with what was seen at the deadline."""
        consumer = AIOKafkaConsumer(topic, bootstrap_servers=self.bootstrap, group_id=None,
                                    auto_offset_reset="earliest", enable_auto_commit=False)
        await consumer.start()
        seen: list[ConsumerRecord] = []
        try:
            loop = asyncio.get_running_loop()
            deadline = loop.time() + timeout
            while True:
                if until(seen):
                    return seen
                remaining = deadline - loop.time()
                if remaining <= 0:
                    raise AssertionError(
                        f"timed out after {timeout}s waiting on {topic}; saw {len(seen)} records: "
                        f"{[r.value[:200] for r in seen[-5:]]}"
                    )
                batch = await consumer.getmany(timeout_ms=int(min(remaining, 0.5) * 1000))
                for recs in batch.values():
                    seen.extend(recs)
        finally:
            await consumer.stop()

    async def read_json(self, topic: str, *, until: Callable[[list[dict[str, Any]]], bool],
                        timeout: float = 30.0) -> list[dict[str, Any]]:
        """Like read, decoding each value as JSON (CloudEvents envelopes on the pipeline's own topics)."""
        out: list[dict[str, Any]] = []

        def cond(records: list[ConsumerRecord]) -> bool:
            out[:] = [orjson.loads(r.value) for r in records]
            return until(out)

        await self.read(topic, until=cond, timeout=timeout)
        return out


def unique(prefix: str = "t") -> str:
    return f"{prefix}{uuid.uuid4().hex[:10]}"
