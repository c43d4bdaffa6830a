"""Consumer tracking: recognise redelivered records and events, inside the effect's own transaction.

Kafka delivers at least once. Positions are stored with the effect, so a record whose effect is already
stored is skipped even if its offset commit was lost, and two instances racing through a rebalance
serialise on the partition rows (SELECT ... FOR UPDATE).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, TypeVar

import asyncpg


class Record(Protocol):
    topic: str
    partition: int
    offset: int


R = TypeVar("R", bound=Record)


async def claim_records(conn: asyncpg.Connection, group_id: str, records: Sequence[R]) -> list[R]:
    """Return the records not yet processed by `group_id` and advance its positions (call in a transaction)."""
    if not records:
        return []
    parts = sorted({(r.topic, r.partition) for r in records})
    await conn.execute(
        "INSERT INTO consumer_positions(group_id, topic, partition, next_offset) "
        "SELECT $1, t, p, 0 FROM unnest($2::text[], $3::int[]) AS x(t, p) ON CONFLICT DO NOTHING",
        group_id, [t for t, _ in parts], [p for _, p in parts],
    )
    rows = await conn.fetch(
        "SELECT topic, partition, next_offset FROM consumer_positions "
        "WHERE group_id = $1 AND (topic, partition) IN (SELECT * FROM unnest($2::text[], $3::int[])) "
        "ORDER BY topic, partition FOR UPDATE",
        group_id, [t for t, _ in parts], [p for _, p in parts],
    )
    start = {(r["topic"], r["partition"]): r["next_offset"] for r in rows}
    fresh = [r for r in records if r.offset >= start[(r.topic, r.partition)]]
    ends: dict[tuple[str, int], int] = {}
    for r in fresh:
        key = (r.topic, r.partition)
        ends[key] = max(ends.get(key, 0), r.offset + 1)
    if ends:
        await conn.execute(
            "UPDATE consumer_positions c SET next_offset = x.o, updated_at = now() "
            "FROM unnest($2::text[], $3::int[], $4::bigint[]) AS x(t, p, o) "
            "WHERE c.group_id = $1 AND c.topic = x.t AND c.partition = x.p",
            group_id, [k[0] for k in ends], [k[1] for k in ends], list(ends.values()),
        )
    return fresh


async def claim_events(conn: asyncpg.Connection, consumer: str, event_ids: Sequence[str]) -> set[str]:
    """Return the event ids not processed yet by `consumer`, marking them processed (call in a transaction)."""
    if not event_ids:
        return set()
    rows = await conn.fetch(
        "INSERT INTO processed_events(consumer, event_id) SELECT $1, unnest($2::text[]) "
        "ON CONFLICT DO NOTHING RETURNING event_id",
        consumer, list(dict.fromkeys(event_ids)),
    )
    return {r["event_id"] for r in rows}
