"""SQL for the notifier: the incident view, links, the delivery log and the periodic schedules."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg

from shared.contracts import TicketRef

from .domain.incidents import Incident

_INC_COLS = "incident_id, product, title, team, severity, status, latest_update, merged_into, resolved"


#: A recorded outcome: (id, status, delay_s, error, external_ref, attempts_refund, verify_first).
Result = tuple[int, str, float, str | None, str | None, int, bool]


@dataclass(frozen=True)
class NewDelivery:
    """A delivery to record before anything is sent; `key` is its idempotency key."""

    key: str
    channel: str
    target: str
    kind: str
    incident_id: str | None
    ticket_id: str | None = None
    event_id: str | None = None
    body: str = ""
    payload: bytes | None = None
    status: str = "pending"
    error: str | None = None


async def load_incident(conn: asyncpg.Connection, incident_id: str, *, lock: bool = True) -> Incident | None:
    """The incident's view, row-locked for the rest of the transaction unless `lock` is false."""
    row = await conn.fetchrow(f"SELECT {_INC_COLS} FROM incidents WHERE incident_id = $1"
                              + (" FOR UPDATE" if lock else ""), incident_id)
    return Incident(**dict(row)) if row else None


async def save_incident(conn: asyncpg.Connection, inc: Incident) -> None:
    await conn.execute(
        f"INSERT INTO incidents({_INC_COLS}) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9) "
        "ON CONFLICT (incident_id) DO UPDATE SET product=$2, title=$3, team=$4, severity=$5, status=$6, "
        "latest_update=$7, merged_into=$8, resolved=$9, updated_at=now()",
        inc.incident_id, inc.product, inc.title, inc.team, inc.severity, inc.status, inc.latest_update,
        inc.merged_into, inc.resolved,
    )


async def upsert_link(conn: asyncpg.Connection, incident_id: str, ticket: TicketRef) -> None:
    await conn.execute(
        "INSERT INTO links(incident_id, ticket_id, locale) VALUES ($1, $2, $3) "
        "ON CONFLICT (incident_id, ticket_id) DO UPDATE SET active = true, "
        "locale = COALESCE(EXCLUDED.locale, links.locale)",
        incident_id, ticket.ticket_id, ticket.locale,
    )


async def unlink(conn: asyncpg.Connection, incident_id: str, ticket_id: str) -> None:
    """Deactivate the link and cancel what was not sent yet to that ticket about that incident."""
    await conn.execute("UPDATE links SET active = false WHERE incident_id = $1 AND ticket_id = $2",
                       incident_id, ticket_id)
    await conn.execute(
        "UPDATE deliveries SET status = 'cancelled', updated_at = now() "
        "WHERE incident_id = $1 AND ticket_id = $2 AND status = 'pending'", incident_id, ticket_id)


async def move_links(conn: asyncpg.Connection, from_id: str, to_id: str) -> None:
    """Merged: the tickets of `from_id` now follow `to_id`."""
    await conn.execute(
        "INSERT INTO links(incident_id, ticket_id, locale) "
        "SELECT $2, ticket_id, locale FROM links WHERE incident_id = $1 AND active "
        "ON CONFLICT (incident_id, ticket_id) DO UPDATE SET active = true", from_id, to_id)
    await conn.execute("UPDATE links SET active = false WHERE incident_id = $1", from_id)


async def active_links(conn: asyncpg.Connection, incident_id: str) -> list[tuple[str, str | None, datetime]]:
    """(ticket id, locale, linked at) of the tickets following the incident."""
    rows = await conn.fetch("SELECT ticket_id, locale, linked_at FROM links WHERE incident_id = $1 AND active "
                            "ORDER BY ticket_id", incident_id)
    return [(r["ticket_id"], r["locale"], r["linked_at"]) for r in rows]


async def insert_deliveries(conn: asyncpg.Connection, items: Sequence[NewDelivery]) -> int:
    """Record deliveries (status pending); an idempotency key seen before is ignored. Returns rows added."""
    if not items:
        return 0
    cols = list(zip(*[(d.key, d.channel, d.target, d.kind, d.incident_id, d.ticket_id, d.event_id, d.body,
                       d.payload, d.status, d.error) for d in items], strict=True))
    rows = await conn.fetch(
        "INSERT INTO deliveries(idempotency_key, channel, target, kind, incident_id, ticket_id, event_id, body, "
        "payload, status, last_error) SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], "
        "$5::text[], $6::text[], $7::text[], $8::text[], $9::bytea[], $10::text[], $11::text[]) "
        "ON CONFLICT (idempotency_key) DO NOTHING RETURNING id",
        *[list(c) for c in cols])
    return len(rows)


async def set_schedule(conn: asyncpg.Connection, incident_id: str, cadence_s: float | None,
                       last_broadcast_at: datetime, next_due_at: datetime | None) -> None:
    """Create or move the incident's periodic schedule; no cadence removes it."""
    if cadence_s is None or next_due_at is None:
        await end_schedule(conn, incident_id)
        return
    await conn.execute(
        "INSERT INTO schedules(incident_id, cadence_s, last_broadcast_at, next_due_at) VALUES ($1,$2,$3,$4) "
        "ON CONFLICT (incident_id) DO UPDATE SET cadence_s=$2, last_broadcast_at=$3, next_due_at=$4",
        incident_id, cadence_s, last_broadcast_at, next_due_at)


async def get_schedule(conn: asyncpg.Connection, incident_id: str) -> asyncpg.Record | None:
    return await conn.fetchrow("SELECT * FROM schedules WHERE incident_id = $1 FOR UPDATE", incident_id)


async def end_schedule(conn: asyncpg.Connection, incident_id: str) -> None:
    await conn.execute("DELETE FROM schedules WHERE incident_id = $1", incident_id)


async def due_schedules(conn: asyncpg.Connection, limit: int = 100) -> list[asyncpg.Record]:
    """Schedules due now, locked; another instance skips them (SKIP LOCKED)."""
    return await conn.fetch(
        "SELECT * FROM schedules WHERE next_due_at <= now() ORDER BY next_due_at LIMIT $1 "
        "FOR UPDATE SKIP LOCKED", limit)


async def advance_schedule(conn: asyncpg.Connection, incident_id: str, period: int, sent_at: datetime,
                           next_due_at: datetime) -> None:
    await conn.execute("UPDATE schedules SET period=$2, last_broadcast_at=$3, next_due_at=$4 WHERE incident_id=$1",
                       incident_id, period, sent_at, next_due_at)


# --- sending ---------------------------------------------------------------------------------------------

async def claim(conn: asyncpg.Connection, target: str, limit: int, lease_s: float, who: str) -> list[asyncpg.Record]:
    """Claim due deliveries of one target (SKIP LOCKED: other instances take others) with a lease; oldest first."""
    rows = await conn.fetch(
        "UPDATE deliveries d SET status='sending', attempts=d.attempts+1, "
        "claimed_until=now() + make_interval(secs => $3), claimed_by=$4, updated_at=now() "
        "WHERE d.id IN (SELECT id FROM deliveries WHERE target=$1 AND status='pending' AND next_attempt_at<=now() "
        "ORDER BY next_attempt_at, id LIMIT $2 FOR UPDATE SKIP LOCKED) "
        "RETURNING d.id, d.idempotency_key, d.kind, d.incident_id, d.ticket_id, d.body, d.payload, d.attempts, "
        "d.verify_first",
        target, limit, lease_s, who)
    return sorted(rows, key=lambda r: r["id"])  # UPDATE ... RETURNING does not keep the subquery's order


async def finish(conn: asyncpg.Connection, results: Sequence[Result]) -> None:
    """Record outcomes: (id, status, delay_s, error, external_ref, attempts_refund, verify_first)."""
    if not results:
        return
    ids, statuses, delays, errors, refs, refunds, verify = (list(c) for c in zip(*results, strict=True))
    await conn.execute(
        "UPDATE deliveries d SET status=x.s, next_attempt_at=now() + make_interval(secs => x.delay), "
        "last_error=COALESCE(x.err, d.last_error), external_ref=COALESCE(x.ref, d.external_ref), "
        "attempts=d.attempts - x.refund, claimed_until=NULL, updated_at=now(), verify_first=d.verify_first OR x.v, "
        "sent_at=CASE WHEN x.s='sent' THEN now() ELSE d.sent_at END "
        "FROM unnest($1::bigint[], $2::text[], $3::float8[], $4::text[], $5::text[], $6::int[], $7::bool[]) "
        "AS x(id, s, delay, err, ref, refund, v) WHERE d.id = x.id AND d.status = 'sending'",
        ids, statuses, delays, errors, refs, refunds, verify)


async def renew_lease(conn: asyncpg.Connection, ids: list[int], lease_s: float, who: str) -> None:
    await conn.execute(
        "UPDATE deliveries SET claimed_until = now() + make_interval(secs => $2) "
        "WHERE id = ANY($1::bigint[]) AND status = 'sending' AND claimed_by = $3", ids, lease_s, who)


async def expire_interrupted(conn: asyncpg.Connection, target: str, max_attempts: int) -> tuple[int, int]:
    """Deliveries whose sender died mid-request (lease run out): the outcome is unknown. They are retried, a
    Zendesk comment only after checking the ticket (verify_first), a webhook with the same webhook-id (its
    receiver de-duplicates); past max_attempts they are dead. Returns (retried, dead)."""
    rows = await conn.fetch(
        "UPDATE deliveries SET claimed_until=NULL, updated_at=now(), next_attempt_at=now(), "
        "status = CASE WHEN attempts >= $2 THEN 'dead' ELSE 'pending' END, "
        "verify_first = verify_first OR channel = 'zendesk', "
        "last_error='interrupted while sending (sender stopped mid-request); outcome unknown' "
        "WHERE target=$1 AND status='sending' AND claimed_until < now() RETURNING status", target, max_attempts)
    dead = sum(r["status"] == "dead" for r in rows)
    return len(rows) - dead, dead


# --- delivery log ----------------------------------------------------------------------------------------

_LOG_COLS = ("d.id, d.idempotency_key, d.channel, d.target, d.kind, d.incident_id, d.ticket_id, d.event_id, "
             "d.status, d.attempts, d.last_error, d.external_ref, d.created_at, d.sent_at, d.updated_at, i.team")


async def delivery_log(pool: asyncpg.Pool, *, incident_id: str | None = None, ticket_id: str | None = None,
                       status: str | None = None, team: str | None = None, limit: int = 500
                       ) -> list[dict[str, Any]]:
    """Deliveries filtered by incident, ticket, status and owning team (None: any), oldest first."""
    rows = await pool.fetch(
        f"SELECT {_LOG_COLS} FROM deliveries d LEFT JOIN incidents i ON i.incident_id = d.incident_id "
        "WHERE ($1::text IS NULL OR d.incident_id = $1) AND ($2::text IS NULL OR d.ticket_id = $2) "
        "AND ($3::text IS NULL OR d.status = $3) AND ($4::text IS NULL OR i.team = $4 OR d.target = 'team:' || $4) "
        "ORDER BY d.id LIMIT $5", incident_id, ticket_id, status, team, limit)
    return [dict(r) for r in rows]


async def incident_team(pool: asyncpg.Pool, incident_id: str) -> tuple[bool, str | None]:
    row = await pool.fetchrow("SELECT team FROM incidents WHERE incident_id = $1", incident_id)
    return (row is not None, row["team"] if row else None)


async def ticket_teams(pool: asyncpg.Pool, ticket_id: str) -> set[str | None]:
    rows = await pool.fetch("SELECT DISTINCT i.team FROM links l JOIN incidents i USING (incident_id) "
                            "WHERE l.ticket_id = $1", ticket_id)
    return {r["team"] for r in rows}
