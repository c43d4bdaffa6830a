"""SQL for candidates, alerts, ticket evidence, silences and durable timers (schema `validation`)."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

import asyncpg

from shared.contracts import AlertSeverity, Signal

from .domain.model import AlertView, CandidateView, Evidence, Silence

Conn = asyncpg.Connection


async def lock_products(conn: Conn, products: Iterable[str]) -> None:
    """Serialise every change about a product (across instances) for the rest of the transaction.

    Locks are taken in sorted order so two transactions never wait on each other in a cycle.
    """
    for p in sorted(set(products)):
        key = int.from_bytes(hashlib.sha256(f"validation:{p}".encode()).digest()[:8], "big", signed=True)
        await conn.execute("SELECT pg_advisory_xact_lock($1)", key)


# -- alerts -------------------------------------------------------------------------------------------

async def get_alert(conn: Conn, fingerprint: str) -> asyncpg.Record | None:
    """The alert, with whether its episode is still live (a pending candidate or an open incident)."""
    return await conn.fetchrow(
        "SELECT a.*, (c.status = 'pending' OR (i.status <> 'resolved' AND i.merged_into IS NULL)) IS TRUE AS live "
        "FROM alerts a LEFT JOIN candidates c ON c.id = a.candidate_id LEFT JOIN incidents i ON i.id = a.incident_id "
        "WHERE a.fingerprint = $1", fingerprint)


async def get_alerts(conn: Conn, fingerprints: list[str]) -> list[asyncpg.Record]:
    return await conn.fetch("SELECT * FROM alerts WHERE fingerprint = ANY($1::text[]) ORDER BY fired_at",
                            fingerprints)


async def upsert_alert(conn: Conn, *, fingerprint: str, product: str, signal: str, severity: str, summary: str,
                       candidate_id: str | None, incident_id: str | None, now: datetime) -> None:
    """Start a new firing episode for the fingerprint."""
    await conn.execute(
        "INSERT INTO alerts(fingerprint, product, signal, severity, status, summary, candidate_id, incident_id, "
        " fired_at, updated_at) VALUES ($1,$2,$3,$4,'firing',$5,$6,$7,$8,$8) "
        "ON CONFLICT (fingerprint) DO UPDATE SET product=$2, signal=$3, severity=$4, status='firing', summary=$5, "
        " candidate_id=$6, incident_id=$7, fired_at=$8, resolved_at=NULL, updated_at=$8",
        fingerprint, product, signal, severity, summary, candidate_id, incident_id, now)


async def set_alert_state(conn: Conn, fingerprint: str, *, firing: bool, severity: str, now: datetime) -> None:
    await conn.execute(
        "UPDATE alerts SET fired_at=CASE WHEN status='resolved' AND $2::text='firing' THEN $4 ELSE fired_at END, "
        "status=$2::text, severity=$3, "
        "resolved_at=CASE WHEN $2::text='firing' THEN NULL ELSE $4::timestamptz END, updated_at=$4 "
        "WHERE fingerprint=$1", fingerprint, "firing" if firing else "resolved", severity, now)


def _alert_view(r: asyncpg.Record) -> AlertView:
    return AlertView(r["fingerprint"], AlertSeverity(r["severity"]), r["status"] == "firing", r["fired_at"],
                     r["resolved_at"])


# -- candidates ---------------------------------------------------------------------------------------

async def find_pending_candidate(conn: Conn, product: str, signal: str, since: datetime) -> str | None:
    return await conn.fetchval(
        "SELECT id FROM candidates WHERE product=$1 AND signal=$2 AND status='pending' AND created_at >= $3 "
        "ORDER BY created_at LIMIT 1", product, signal, since)


async def create_candidate(conn: Conn, *, id: str, product: str, signal: str, team: str, summary: str,
                           now: datetime) -> None:
    await conn.execute(
        "INSERT INTO candidates(id, product, signal, team, summary, created_at) VALUES ($1,$2,$3,$4,$5,$6)",
        id, product, signal, team, summary, now)


async def get_candidate(conn: Conn | asyncpg.Pool, id: str) -> asyncpg.Record | None:
    return await conn.fetchrow("SELECT * FROM candidates WHERE id=$1", id)


async def candidate_view(conn: Conn, row: asyncpg.Record) -> CandidateView:
    alerts = await conn.fetch("SELECT * FROM alerts WHERE candidate_id=$1 ORDER BY fired_at", row["id"])
    return CandidateView(row["id"], row["product"], Signal(row["signal"]), row["team"], row["created_at"],
                         tuple(_alert_view(a) for a in alerts), row["status"])


async def pending_candidates(conn: Conn, product: str) -> list[asyncpg.Record]:
    return await conn.fetch("SELECT * FROM candidates WHERE product=$1 AND status='pending' ORDER BY created_at",
                            product)


async def candidate_fingerprints(conn: Conn, candidate_id: str) -> list[str]:
    return [r["fingerprint"] for r in await conn.fetch(
        "SELECT fingerprint FROM alerts WHERE candidate_id=$1 ORDER BY fired_at", candidate_id)]


async def decide_candidate(conn: Conn, id: str, *, outcome: str, kind: str, by: str, reason: str,
                           severity: str | None, incident_id: str | None, now: datetime) -> None:
    await conn.execute(
        "UPDATE candidates SET status=$2, decided_kind=$3, decided_by=$4, reason=$5, severity=$6, incident_id=$7, "
        "decided_at=$8 WHERE id=$1", id, outcome, kind, by, reason, severity, incident_id, now)


async def mark_escalated(conn: Conn, id: str, now: datetime) -> None:
    await conn.execute("UPDATE candidates SET escalated_at=$2 WHERE id=$1", id, now)


async def list_candidates(pool: asyncpg.Pool, *, status: str | None, team: str | None,
                          limit: int = 200) -> list[dict[str, Any]]:
    rows = await pool.fetch(
        "SELECT c.*, coalesce(array_agg(a.fingerprint ORDER BY a.fired_at) FILTER (WHERE a.fingerprint IS NOT "
        "NULL), '{}') AS fingerprints FROM candidates c LEFT JOIN alerts a ON a.candidate_id = c.id "
        "WHERE ($1::text IS NULL OR c.status=$1) AND ($2::text IS NULL OR c.team=$2) "
        "GROUP BY c.id ORDER BY c.created_at DESC LIMIT $3", status, team, limit)
    return [dict(r) for r in rows]


# -- evidence -----------------------------------------------------------------------------------------

async def record_ticket(conn: Conn, *, ticket_id: str, product: str, outcome: str, organization_id: str | None,
                        priority: str | None, incident_id: str | None, now: datetime) -> None:
    """The latest triage decision per ticket (an override replaces the earlier one)."""
    await conn.execute(
        "INSERT INTO ticket_evidence(ticket_id, product, outcome, organization_id, priority, incident_id, "
        "received_at) VALUES ($1,$2,$3,$4,$5,$6,$7) "
        "ON CONFLICT (ticket_id) DO UPDATE SET outcome=$3, product=$2, incident_id=$6",
        ticket_id, product, outcome, organization_id, priority, incident_id, now)


async def evidence(conn: Conn, product: str, now: datetime, *, signal_window_s: float,
                   ticket_window_s: float) -> Evidence:
    signals = await conn.fetch(  # alerts an engineer or a policy dismissed are not evidence
        "SELECT DISTINCT a.signal FROM alerts a LEFT JOIN candidates c ON c.id = a.candidate_id "
        "WHERE a.product=$1 AND a.status='firing' AND a.fired_at >= $2 AND coalesce(c.status, '') <> 'dismissed'",
        product, now - timedelta(seconds=signal_window_s))
    t = await conn.fetchrow(
        "SELECT count(*) FILTER (WHERE outcome IN ('linked','new_incident')) AS corroborating, count(*) AS n, "
        "count(DISTINCT organization_id) AS orgs, count(*) FILTER (WHERE priority='urgent') AS urgent, "
        "min(received_at) FILTER (WHERE outcome IN ('linked','new_incident') AND incident_id IS NOT NULL "
        " AND NOT EXISTS (SELECT 1 FROM incidents i WHERE i.id = t.incident_id)) AS awaiting "
        "FROM ticket_evidence t WHERE product=$1 AND received_at >= $2",
        product, now - timedelta(seconds=ticket_window_s))
    return Evidence(frozenset(Signal(r["signal"]) for r in signals), t["corroborating"], t["n"], t["orgs"],
                    t["urgent"], tuple(await active_silences(conn, product, now)), t["awaiting"])


# -- silences -----------------------------------------------------------------------------------------

async def add_silence(conn: Conn, s: Silence, created_by: str) -> None:
    await conn.execute(
        "INSERT INTO silences(id, product, signal, mode, starts_at, ends_at, reason, created_by) "
        "VALUES ($1,$2,$3,$4,$5,$6,$7,$8)",
        s.id, s.product, s.signal.value if s.signal else None, s.mode, s.starts_at, s.ends_at, s.reason, created_by)


def _silence(r: asyncpg.Record) -> Silence:
    return Silence(r["id"], r["product"], Signal(r["signal"]) if r["signal"] else None, r["mode"], r["starts_at"],
                   r["ends_at"], r["reason"])


async def active_silences(conn: Conn | asyncpg.Pool, product: str | None, now: datetime) -> list[Silence]:
    rows = await conn.fetch("SELECT * FROM silences WHERE ($1::text IS NULL OR product=$1) AND ends_at > $2 "
                            "ORDER BY starts_at", product, now)
    return [_silence(r) for r in rows]


# -- timers -------------------------------------------------------------------------------------------

async def schedule(conn: Conn, kind: str, subject: str, product: str, due_at: datetime, *,
                   replace: bool = False) -> None:
    """Set a durable timer; by default an existing one keeps the earlier due time."""
    update = "EXCLUDED.due_at" if replace else "LEAST(timers.due_at, EXCLUDED.due_at)"
    await conn.execute(
        "INSERT INTO timers(kind, subject, product, due_at) VALUES ($1,$2,$3,$4) "
        f"ON CONFLICT (kind, subject) DO UPDATE SET due_at = {update}", kind, subject, product, due_at)


async def cancel(conn: Conn, kind: str, subject: str) -> None:
    await conn.execute("DELETE FROM timers WHERE kind=$1 AND subject=$2", kind, subject)


async def due_timers(pool: asyncpg.Pool, now: datetime, limit: int = 50) -> list[asyncpg.Record]:
    return await pool.fetch("SELECT kind, subject, product FROM timers WHERE due_at <= $1 ORDER BY due_at LIMIT $2",
                            now, limit)


async def claim_timer(conn: Conn, kind: str, subject: str, now: datetime) -> bool:
    """Take a due timer (row lock, skipping one another instance holds) and delete it: it fires once."""
    row = await conn.fetchrow("SELECT 1 FROM timers WHERE kind=$1 AND subject=$2 AND due_at <= $3 "
                              "FOR UPDATE SKIP LOCKED", kind, subject, now)
    if row is None:
        return False
    await cancel(conn, kind, subject)
    return True


async def prune(pool: asyncpg.Pool, now: datetime, *, ticket_window_s: float) -> None:
    """Drop evidence no policy can use any more: tickets older than the window, silences ended a day ago."""
    await pool.execute("DELETE FROM ticket_evidence WHERE received_at < $1", now - timedelta(seconds=ticket_window_s))
    await pool.execute("DELETE FROM silences WHERE ends_at < $1", now - timedelta(days=1))
