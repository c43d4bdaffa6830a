"""Poison records: a record that fails its batch for a reason other than infrastructure is isolated (the
batch is split into about sqrt(n) chunks, recursively, until each failing record is alone) and dead-lettered
with the error, so it can never stop its partition. Infrastructure failures (database or broker down, locks,
timeouts) are never dead-lettered: the batch is redelivered instead."""

from __future__ import annotations

import copy
import math
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import asyncpg
from aiokafka.errors import KafkaError

from .dead_letter import DeadLetter, outbox_rows
from .outbox import enqueue_rows
from .tracking import claim_records

#: Failures of the world, not of the record: retrying later is right. Anything unknown counts as one, since a
#: wrong "infrastructure" only delays, while a wrong "poison" would dead-letter a good record.
INFRASTRUCTURE: tuple[type[BaseException], ...] = (
    OSError, TimeoutError, RuntimeError, KafkaError,
    asyncpg.InterfaceError, asyncpg.PostgresConnectionError, asyncpg.OperatorInterventionError,
    asyncpg.InsufficientResourcesError, asyncpg.TransactionRollbackError,
    asyncpg.ObjectNotInPrerequisiteStateError, asyncpg.InvalidTransactionStateError,
    asyncpg.InternalServerError,
    asyncpg.SyntaxOrAccessError,  # a missing table or column, no privilege: the deployment, not the record
)


def is_infrastructure(exc: BaseException) -> bool:
    if isinstance(exc, RecursionError):  # a RuntimeError, but caused by the record's shape
        return False
    return isinstance(exc, INFRASTRUCTURE)


Handler = Callable[[Any], Awaitable[Any]]


def with_records(msg: Any, records: Sequence[Any]) -> Any:
    """A copy of a batch message carrying only `records` (the handler reads msg.raw_message)."""
    sub = copy.copy(msg)
    sub.raw_message = tuple(records)
    return sub


def chunks(records: Sequence[Any]) -> list[Sequence[Any]]:
    """About sqrt(n) contiguous chunks of about sqrt(n) records (at least two). Halving re-runs every record
    about log2(k) times when k records of the batch fail (k = 20 in 2,000: ~11,000 record runs); sqrt(n) chunks
    run each clean record once more plus ~2*sqrt(n) per failing one (~2,900), for as many transactions."""
    n = len(records)
    size = -(-n // max(2, math.isqrt(n - 1) + 1))
    return [records[i:i + size] for i in range(0, n, size)]


async def isolate(fn: Handler, msg: Any, exc: Exception, *, pool: asyncpg.Pool, group_id: str,
                  service: str) -> int:
    """Run the batch in chunks, recursing into failing ones until each failing record is alone, and
    dead-letter those; returns how many. Chunks run in order, each failing one narrowed down before the next
    runs, so a partition's records are applied in offset order (tracking positions only move forward). An
    infrastructure failure on the way propagates (the whole batch is redelivered; done chunks are recognised
    by their stored positions)."""
    records = list(msg.raw_message)
    if len(records) == 1:
        await dead_letter(pool, records[0], exc, group_id=group_id, service=service)
        return 1
    found = 0
    for part in chunks(records):
        sub = with_records(msg, part)
        try:
            await fn(sub)
        except Exception as err:
            if is_infrastructure(err):
                raise
            found += await isolate(fn, sub, err, pool=pool, group_id=group_id, service=service)
    return found


async def dead_letter(pool: asyncpg.Pool, record: Any, exc: Exception, *, group_id: str, service: str) -> None:
    """Dead-letter one record that its handler cannot process, and mark it consumed, in one transaction."""
    async with pool.acquire() as conn, conn.transaction():
        if not await claim_records(conn, group_id, [record]):
            return  # stored meanwhile (another instance): nothing to do
        letter = DeadLetter(record.topic, record.partition, record.offset, record.key, record.value,
                            type(exc).__name__, f"unprocessable record: {exc}", record.timestamp)
        await enqueue_rows(conn, outbox_rows([letter], service=service))
