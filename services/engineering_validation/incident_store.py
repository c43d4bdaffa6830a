"""SQL for the incident view: incidents, their alerts and tickets, and the timeline."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import asyncpg
import orjson

from shared.contracts import IncidentStatus, Signal

from .domain.incidents import IncidentView

Conn = asyncpg.Connection


def view(r: asyncpg.Record) -> IncidentView:
    signals = frozenset(Signal(x) for x in r.get("alert_signals") or ())
    return IncidentView(r["id"], r["product"], Signal(r["signal"]) if r["signal"] else None,
                        IncidentStatus(r["status"]), r["opened_from"], r["created_at"], r["merged_into"], signals)


async def insert(conn: Conn, *, id: str, title: str, product: str, signal: str | None, severity: str, status: str,
                 opened_from: str, team: str, summary: str, now: datetime) -> bool:
    """Insert an incident unless it is known already; True when inserted."""
    res = await conn.execute(
        "INSERT INTO incidents(id, title, product, signal, severity, status, opened_from, team, summary, "
        "created_at, updated_at) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$10) ON CONFLICT (id) DO NOTHING",
        id, title, product, signal, severity, status, opened_from, team, summary, now)
    return res.endswith("1")


async def get(conn: Conn | asyncpg.Pool, id: str, *, for_update: bool = False) -> asyncpg.Record | None:
    return await conn.fetchrow("SELECT * FROM incidents WHERE id=$1" + (" FOR UPDATE" if for_update else ""), id)


async def open_for_product(conn: Conn, product: str) -> list[IncidentView]:
    rows = await conn.fetch(
        "SELECT i.*, array_remove(array_agg(DISTINCT a.signal), NULL) AS alert_signals FROM incidents i "
        "LEFT JOIN alerts a ON a.incident_id = i.id WHERE i.product=$1 AND i.status <> 'resolved' "
        "AND i.merged_into IS NULL GROUP BY i.id", product)
    return [view(r) for r in rows]


async def update(conn: Conn, id: str, now: datetime, **fields: Any) -> None:
    cols = list(fields)
    sets = "".join(f", {c}=${i + 3}" for i, c in enumerate(cols))
    await conn.execute(f"UPDATE incidents SET updated_at=$2{sets} WHERE id=$1", id, now, *fields.values())


async def attach_alerts(conn: Conn, fingerprints: list[str], incident_id: str) -> None:
    await conn.execute("UPDATE alerts SET incident_id=$2 WHERE fingerprint = ANY($1::text[])", fingerprints,
                       incident_id)


async def alerts(conn: Conn | asyncpg.Pool, incident_id: str) -> list[asyncpg.Record]:
    return await conn.fetch("SELECT * FROM alerts WHERE incident_id=$1 ORDER BY fired_at", incident_id)


async def tickets(conn: Conn | asyncpg.Pool, incident_id: str) -> list[asyncpg.Record]:
    return await conn.fetch("SELECT * FROM incident_tickets WHERE incident_id=$1 ORDER BY linked_at", incident_id)


async def link_ticket(conn: Conn, incident_id: str, ticket: dict[str, Any], reason: str, now: datetime) -> bool:
    res = await conn.execute(
        "INSERT INTO incident_tickets(incident_id, ticket_id, ticket, link_reason, linked_at) "
        "VALUES ($1,$2,$3::jsonb,$4,$5) ON CONFLICT DO NOTHING",
        incident_id, ticket["ticket_id"], orjson.dumps(ticket).decode(), reason, now)
    return res.endswith("1")


async def unlink_ticket(conn: Conn, incident_id: str, ticket_id: str) -> None:
    await conn.execute("DELETE FROM incident_tickets WHERE incident_id=$1 AND ticket_id=$2", incident_id, ticket_id)


async def move_tickets(conn: Conn, source: str, target: str) -> None:
    await conn.execute(
        "INSERT INTO incident_tickets(incident_id, ticket_id, ticket, link_reason, linked_at) "
        "SELECT $2, ticket_id, ticket, 'merge', linked_at FROM incident_tickets WHERE incident_id=$1 "
        "ON CONFLICT DO NOTHING", source, target)


async def add_timeline(conn: Conn, incident_id: str, at: datetime, kind: str, actor: str = "",
                       **detail: Any) -> None:
    await conn.execute("INSERT INTO timeline(incident_id, at, kind, actor, detail) VALUES ($1,$2,$3,$4,$5::jsonb)",
                       incident_id, at, kind, actor, orjson.dumps(detail, default=str).decode())


async def add_timeline_many(conn: Conn, incident_id: str, at: datetime, kind: str, actor: str,
                            details: list[dict[str, Any]]) -> None:
    await conn.executemany(
        "INSERT INTO timeline(incident_id, at, kind, actor, detail) VALUES ($1,$2,$3,$4,$5::jsonb)",
        [(incident_id, at, kind, actor, orjson.dumps(d, default=str).decode()) for d in details])


async def timeline(conn: Conn | asyncpg.Pool, incident_id: str) -> list[asyncpg.Record]:
    return await conn.fetch("SELECT at, kind, actor, detail FROM timeline WHERE incident_id=$1 ORDER BY id",
                            incident_id)


async def listing(pool: asyncpg.Pool, *, open_only: bool, status: str | None, product: str | None = None,
                  team: str | None = None, limit: int = 200) -> list[dict]:
    rows = await pool.fetch(
        "SELECT * FROM incidents WHERE (NOT $1 OR (status <> 'resolved' AND merged_into IS NULL)) "
        "AND ($2::text IS NULL OR status=$2) AND ($3::text IS NULL OR product=$3) AND ($4::text IS NULL OR team=$4) "
        "ORDER BY created_at DESC LIMIT $5", open_only, status, product, team, limit)
    return [dict(r) for r in rows]
