"""SQL for ticket-triage (schema `triage`); every function runs on the caller's connection and transaction."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any

import asyncpg
import orjson

from .domain.classify import IncidentView
from .domain.decide import Decision
from .domain.tickets import Ticket

#: Every triage write transaction takes this lock first: decisions depend on other tickets and incidents
#: (clusters, late links), so two instances must not decide concurrently.
LOCK_KEY = int.from_bytes(hashlib.sha256(b"triage:decisions").digest()[:8], "big", signed=True)
_TICKET_COLS = ("ticket_id, source, subject, description, organization_id, requester_id, product, product_from, "
                "priority, locale, tags, created_at")


async def lock(conn: asyncpg.Connection) -> None:
    await conn.execute("SELECT pg_advisory_xact_lock($1)", LOCK_KEY)


def _ticket(r: asyncpg.Record) -> Ticket:
    return Ticket(ticket_id=r["ticket_id"], source=r["source"], subject=r["subject"], description=r["description"],
                  created_at=r["created_at"], organization_id=r["organization_id"], requester_id=r["requester_id"],
                  product=r["product"], product_from=r["product_from"], priority=r["priority"], locale=r["locale"],
                  tags=tuple(r["tags"]))


async def known_tickets(conn: asyncpg.Connection, ticket_ids: list[str]) -> set[str]:
    """Which of these tickets are already stored (one query per batch)."""
    rows = await conn.fetch("SELECT ticket_id FROM tickets WHERE ticket_id = ANY($1::text[])", ticket_ids)
    return {r["ticket_id"] for r in rows}


async def insert_ticket(conn: asyncpg.Connection, t: Ticket, d: Decision) -> None:
    await conn.execute(
        f"INSERT INTO tickets({_TICKET_COLS}, problem_score, outcome, incident_id, pending_cluster) "
        "VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14,$15,$16)",
        t.ticket_id, t.source, t.subject, t.description, t.organization_id, t.requester_id, t.product,
        t.product_from, t.priority, t.locale, list(t.tags), t.created_at, d.problem_score, d.outcome.value,
        d.incident_id, d.pending_cluster)


async def get_ticket(conn: asyncpg.Connection | asyncpg.Pool, ticket_id: str) -> asyncpg.Record | None:
    return await conn.fetchrow("SELECT * FROM tickets WHERE ticket_id = $1", ticket_id)


async def load_ticket(conn: asyncpg.Connection, ticket_id: str) -> Ticket | None:
    row = await get_ticket(conn, ticket_id)
    return _ticket(row) if row else None


async def set_state(conn: asyncpg.Connection, ticket_id: str, *, outcome: str, incident_id: str | None,
                    pending: bool = False, overridden: bool | None = None) -> None:
    await conn.execute(
        "UPDATE tickets SET outcome = $2, incident_id = $3, pending_cluster = $4, "
        "overridden = coalesce($5, overridden) WHERE ticket_id = $1",
        ticket_id, outcome, incident_id, pending, overridden)


async def add_decision(conn: asyncpg.Connection, ticket_id: str, *, outcome: str, incident_id: str | None,
                       reason: str, score: float, features: dict[str, float], decided_by: str = "triage",
                       override: bool = False) -> int:
    """Append to the history; returns how many decisions the ticket has now (used in event ids)."""
    return await conn.fetchval(
        "WITH ins AS (INSERT INTO decisions(ticket_id, outcome, incident_id, reason, score, features, decided_by, "
        "override) VALUES ($1,$2,$3,$4,$5,$6::jsonb,$7,$8) RETURNING 1) "
        "SELECT count(*) + 1 FROM decisions WHERE ticket_id = $1",  # the CTE's row is not visible here yet
        ticket_id, outcome, incident_id, reason, score, orjson.dumps(features).decode(), decided_by, override)


async def history(conn: asyncpg.Connection | asyncpg.Pool, ticket_id: str) -> list[dict[str, Any]]:
    rows = await conn.fetch("SELECT outcome, incident_id, reason, score, features, decided_by, override, decided_at "
                            "FROM decisions WHERE ticket_id = $1 ORDER BY id", ticket_id)
    return [{**dict(r), "features": orjson.loads(r["features"])} for r in rows]


async def pending_tickets(conn: asyncpg.Connection, product: str) -> list[Ticket]:
    rows = await conn.fetch(f"SELECT {_TICKET_COLS} FROM tickets WHERE pending_cluster AND product = $1 "
                            "ORDER BY created_at, ticket_id", product)
    return [_ticket(r) for r in rows]


async def late_link_candidates(conn: asyncpg.Connection, since: Any) -> list[Ticket]:
    """Tickets not linked anywhere, not overridden, created since `since`."""
    rows = await conn.fetch(f"SELECT {_TICKET_COLS} FROM tickets WHERE incident_id IS NULL AND NOT overridden "
                            "AND created_at >= $1 ORDER BY created_at, ticket_id", since)
    return [_ticket(r) for r in rows]


async def open_incidents(conn: asyncpg.Connection) -> list[IncidentView]:
    rows = await conn.fetch("SELECT incident_id, product, title, text, ticket_text, opened_at FROM incidents "
                            "WHERE status = 'open' ORDER BY opened_at, incident_id")
    return [IncidentView(r["incident_id"], r["product"], r["title"], r["opened_at"], r["text"], r["ticket_text"])
            for r in rows]


async def get_incident(conn: asyncpg.Connection, incident_id: str) -> asyncpg.Record | None:
    return await conn.fetchrow("SELECT * FROM incidents WHERE incident_id = $1", incident_id)


async def insert_incident(conn: asyncpg.Connection, *, incident_id: str, product: str, title: str, text: str,
                          opened_from: str, opened_at: Any) -> bool:
    """Record an incident; False if it was known already."""
    return await conn.fetchval(
        "INSERT INTO incidents(incident_id, product, title, text, opened_from, opened_at) "
        "VALUES ($1,$2,$3,$4,$5,$6) ON CONFLICT DO NOTHING RETURNING true",
        incident_id, product, title, text[:8000], opened_from, opened_at) or False


async def append_incident_text(conn: asyncpg.Connection, incident_id: str, text: str) -> None:
    """Grow the incident's own text (alert summaries), bounded."""
    await conn.execute("UPDATE incidents SET text = right(text || ' ' || $2, 8000), updated_at = now() "
                       "WHERE incident_id = $1", incident_id, text)


async def append_ticket_text(conn: asyncpg.Connection, incident_id: str, text: str) -> None:
    """Grow the text of the incident's linked tickets (similarity only), bounded."""
    await conn.execute("UPDATE incidents SET ticket_text = right(ticket_text || ' ' || $2, 8000), "
                       "updated_at = now() WHERE incident_id = $1", incident_id, text)


async def close_incident(conn: asyncpg.Connection, incident_id: str, *, status: str,
                         merged_into: str | None = None) -> None:
    await conn.execute("UPDATE incidents SET status = $2, merged_into = $3, updated_at = now() "
                       "WHERE incident_id = $1", incident_id, status, merged_into)


async def active_link(conn: asyncpg.Connection, ticket_id: str) -> str | None:
    return await conn.fetchval("SELECT incident_id FROM links WHERE ticket_id = $1 AND active", ticket_id)


async def linked_tickets(conn: asyncpg.Connection, incident_id: str) -> list[str]:
    rows = await conn.fetch("SELECT ticket_id FROM links WHERE incident_id = $1 AND active ORDER BY linked_at, "
                            "ticket_id", incident_id)
    return [r["ticket_id"] for r in rows]


async def insert_link(conn: asyncpg.Connection, incident_id: str, ticket_id: str, reason: str, *,
                      relink: bool = False) -> int | None:
    """Link a ticket; None if this pair was ever linked (and `relink` is off) or is active now.

    Returns how many times the pair has been linked (part of the TicketLinked event id)."""
    if relink:
        return await conn.fetchval(
            "INSERT INTO links(incident_id, ticket_id, reason) VALUES ($1,$2,$3) "
            "ON CONFLICT (incident_id, ticket_id) DO UPDATE SET active = true, reason = $3, linked_at = now(), "
            "times_linked = links.times_linked + 1 WHERE NOT links.active RETURNING times_linked",
            incident_id, ticket_id, reason)
    return await conn.fetchval("INSERT INTO links(incident_id, ticket_id, reason) VALUES ($1,$2,$3) "
                               "ON CONFLICT DO NOTHING RETURNING times_linked", incident_id, ticket_id, reason)


async def deactivate_link(conn: asyncpg.Connection, incident_id: str, ticket_id: str) -> bool:
    return bool(await conn.fetchval("UPDATE links SET active = false WHERE incident_id = $1 AND ticket_id = $2 "
                                    "AND active RETURNING true", incident_id, ticket_id))


def _json(rows: list[dict[str, Any]]) -> str:
    return orjson.dumps(rows).decode()


@dataclass
class TicketWrites:
    """What a batch of new tickets writes, buffered in decision order and written with a few set-based
    statements (`flush`). Every row is one a per-ticket statement would have written: flush before reading
    anything these rows may change, and before any write that is not buffered, and the result is the same."""

    tickets: list[dict[str, Any]] = field(default_factory=list)
    decisions: list[dict[str, Any]] = field(default_factory=list)
    links: list[dict[str, str]] = field(default_factory=list)
    ticket_texts: dict[str, list[str]] = field(default_factory=dict)

    def ticket(self, t: Ticket, *, problem_score: float, outcome: str, incident_id: str | None,
               pending: bool) -> None:
        """A new ticket's row, already in its state after this batch's decision."""
        self.tickets.append({"id": t.ticket_id, "source": t.source, "subject": t.subject,
                             "description": t.description, "org": t.organization_id, "requester": t.requester_id,
                             "product": t.product, "product_from": t.product_from, "priority": t.priority,
                             "locale": t.locale, "tags": t.tags, "created_at": t.created_at,
                             "score": problem_score, "outcome": outcome, "incident_id": incident_id,
                             "pending": pending})

    def decision(self, ticket_id: str, *, outcome: str, incident_id: str | None, reason: str, score: float,
                 features: dict[str, float]) -> None:
        """An automatic decision (decided_by triage), appended to the history in this order."""
        self.decisions.append({"t": ticket_id, "o": outcome, "i": incident_id, "r": reason, "s": score,
                               "f": features})

    def link(self, incident_id: str, ticket_id: str, reason: str, subject: str) -> None:
        """A first link of a new ticket; its subject grows the incident's ticket text (as append_ticket_text)."""
        self.links.append({"i": incident_id, "t": ticket_id, "r": reason})
        self.ticket_texts.setdefault(incident_id, []).append(subject)

    async def flush(self, conn: asyncpg.Connection) -> None:
        # Rows travel as one JSON document per statement (cheaper to encode than one array per column);
        # WITH ORDINALITY keeps their order.
        if self.tickets:
            await conn.execute(
                f"INSERT INTO tickets({_TICKET_COLS}, problem_score, outcome, incident_id, pending_cluster) "
                "SELECT x.id, x.source, x.subject, x.description, x.org, x.requester, x.product, x.product_from, "
                "x.priority, x.locale, ARRAY(SELECT e FROM jsonb_array_elements_text(x.tags) WITH ORDINALITY "
                "AS j(e, n) ORDER BY n), x.created_at, x.score, x.outcome, x.incident_id, x.pending "
                "FROM ROWS FROM (jsonb_to_recordset($1::jsonb) AS (id text, source text, subject text, "
                "description text, org text, requester text, product text, product_from text, priority text, "
                "locale text, tags jsonb, created_at timestamptz, score float8, outcome text, incident_id text, "
                "pending bool)) WITH ORDINALITY AS x(id, source, subject, description, org, requester, product, "
                "product_from, priority, locale, tags, created_at, score, outcome, incident_id, pending, ord) "
                "ORDER BY x.ord", _json(self.tickets))
        if self.links:
            await conn.execute("INSERT INTO links(incident_id, ticket_id, reason) SELECT x.i, x.t, x.r "
                               "FROM jsonb_to_recordset($1::jsonb) AS x(i text, t text, r text)", _json(self.links))
        if self.decisions:
            await conn.execute(  # ids in decision order, as one insert per decision would give them
                "INSERT INTO decisions(ticket_id, outcome, incident_id, reason, score, features) "
                "SELECT x.t, x.o, x.i, x.r, x.s, x.f FROM ROWS FROM (jsonb_to_recordset($1::jsonb) AS (t text, "
                "o text, i text, r text, s float8, f jsonb)) WITH ORDINALITY AS x(t, o, i, r, s, f, ord) "
                "ORDER BY x.ord",
                _json(self.decisions))
        if self.ticket_texts:
            # right(right(a || ' ' || s1, n) || ' ' || s2, n) = right(a || ' ' || s1 || ' ' || s2, n)
            ids = list(self.ticket_texts)
            await conn.execute("UPDATE incidents i SET ticket_text = right(i.ticket_text || x.suffix, 8000), "
                               "updated_at = now() FROM unnest($1::text[], $2::text[]) AS x(id, suffix) "
                               "WHERE i.incident_id = x.id",
                               ids, ["".join(" " + s for s in self.ticket_texts[i]) for i in ids])
        self.tickets.clear()
        self.decisions.clear()
        self.links.clear()
        self.ticket_texts.clear()
