"""Use cases of ticket-triage, one transaction each: claim the input, decide, store, enqueue the events."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from typing import Any

import asyncpg
import orjson
import structlog
from prometheus_client import Counter

from shared.contracts import INCIDENT_EVENTS, TriageOutcome
from shared.dead_letter import DeadLetter, outbox_rows
from shared.outbox import enqueue_rows
from shared.tracking import claim_events, claim_records

from . import store
from .domain.classify import IncidentView
from .domain.decide import Decision, NewIncident, decide, late_links
from .domain.policy import TriagePolicy
from .domain.tickets import Ticket, TicketFormatError, parse_ticket
from .events import SOURCE, Emitter

log = structlog.get_logger(__name__)
NAME = "ticket-triage"
DECISIONS = Counter("triage_decisions_total", "Triage decisions", ["outcome", "reason"])


def dead_letter(r: Any, exc: Exception) -> DeadLetter:
    return DeadLetter(r.topic, r.partition, r.offset, r.key, r.value, type(exc).__name__, str(exc), r.timestamp)


class TriageService:
    def __init__(self, pool: asyncpg.Pool, emitter: Emitter, policy: TriagePolicy, *, group_id: str) -> None:
        self.pool = pool
        self.emit = emitter
        self.policy = policy
        self.group_id = group_id

    async def link(self, conn: asyncpg.Connection, incident_id: str, t: Ticket, *, link_reason: str, reason: str,
                   outcome: TriageOutcome, score: float = 0.0, features: dict[str, float] | None = None,
                   decided_by: str = "triage", override: bool = False) -> bool:
        """Link a ticket (once per pair; overrides may re-link after an unlink) with its decision and events."""
        times = await store.insert_link(conn, incident_id, t.ticket_id, link_reason, relink=override)
        if times is None:
            return False
        await store.set_state(conn, t.ticket_id, outcome=outcome.value, incident_id=incident_id,
                              overridden=True if override else None)
        n = await store.add_decision(conn, t.ticket_id, outcome=outcome.value, incident_id=incident_id, reason=reason,
                                     score=score, features=features or {}, decided_by=decided_by, override=override)
        await self.emit.triaged(conn, t, n, outcome=outcome, incident_id=incident_id, reason=reason, score=score,
                                features=features or {}, decided_by=decided_by, override=override)
        await self.emit.linked(conn, incident_id, t, link_reason, times)
        await store.append_incident_text(conn, incident_id, t.subject)
        DECISIONS.labels(outcome.value, link_reason).inc()
        return True

    # --- tickets.new ---------------------------------------------------------------------------------------

    async def handle_tickets(self, records: Sequence[Any]) -> None:
        """Triage a batch of tickets.new records; bad ones go to tickets.new.DLT in the same transaction."""
        async with self.pool.acquire() as conn, conn.transaction():
            await store.lock(conn)
            fresh = await claim_records(conn, self.group_id, records)
            letters = []
            for r in fresh:
                try:
                    ticket = parse_ticket(orjson.loads(r.value), self.policy)
                except (orjson.JSONDecodeError, TicketFormatError, TypeError) as exc:
                    letters.append(dead_letter(r, exc))
                    continue
                if await store.ticket_exists(conn, ticket.ticket_id):
                    continue  # the same ticket sent twice (webhook retry): one decision only
                await self._triage(conn, ticket)
            await enqueue_rows(conn, outbox_rows(letters, service=NAME))

    async def _triage(self, conn: asyncpg.Connection, t: Ticket) -> None:
        incidents = await store.open_incidents(conn)
        pending = await store.pending_tickets(conn, t.product) if t.product else []
        d = decide(t, incidents, pending, self.policy)
        structlog.contextvars.bind_contextvars(ticket_id=t.ticket_id, incident_id=d.incident_id)
        if d.outcome is TriageOutcome.LINKED and d.incident_id:
            await store.insert_ticket(conn, t, Decision(TriageOutcome.STANDARD_SUPPORT, "", 0, {},
                                                        problem_score=d.problem_score))
            await self.link(conn, d.incident_id, t, link_reason="triage", reason=d.reason, outcome=d.outcome,
                            score=d.score, features=d.features)
        elif d.new_incident is not None:
            await store.insert_ticket(conn, t, Decision(TriageOutcome.STANDARD_SUPPORT, "", 0, {},
                                                        problem_score=d.problem_score))
            await self._open(conn, d.new_incident, d)
        else:
            await store.insert_ticket(conn, t, d)
            n = await store.add_decision(conn, t.ticket_id, outcome=d.outcome.value, incident_id=None,
                                         reason=d.reason, score=d.score, features=d.features)
            await self.emit.triaged(conn, t, n, outcome=d.outcome, incident_id=None, reason=d.reason, score=d.score,
                                    features=d.features)
            DECISIONS.labels(d.outcome.value, "pending_cluster" if d.pending_cluster else "standard").inc()
        log.info("ticket triaged", outcome=d.outcome.value, score=d.score, product=t.product)

    async def _open(self, conn: asyncpg.Connection, new: NewIncident, d: Decision) -> None:
        """IncidentOpened first, then TicketLinked(new_incident) for every ticket of the cluster (same key)."""
        await store.insert_incident(conn, incident_id=new.incident_id, product=new.product, title=new.title,
                                    text=new.summary, opened_from="tickets", opened_at=new.tickets[-1].created_at)
        await self.emit.opened(conn, new)
        for member in new.tickets:
            await self.link(conn, new.incident_id, member, link_reason="new_incident", reason=d.reason,
                            outcome=TriageOutcome.NEW_INCIDENT, score=d.score, features=d.features)

    # --- incidents.updates ---------------------------------------------------------------------------------

    async def handle_incident_updates(self, records: Sequence[Any]) -> None:
        """Keep the view of open incidents; late links on IncidentOpened, move links on IncidentMerged."""
        async with self.pool.acquire() as conn, conn.transaction():
            await store.lock(conn)
            fresh = await claim_records(conn, self.group_id, records)
            letters, events = [], []
            for r in fresh:
                try:
                    events.append(INCIDENT_EVENTS.decode(r.value))
                except Exception as exc:  # undecodable or unknown: dead-letter, never block the partition
                    letters.append(dead_letter(r, exc))
            new_ids = await claim_events(conn, NAME, [e.id for e in events])
            for ev in events:
                if ev.id in new_ids and ev.source != SOURCE:
                    await self._apply(conn, ev)
            await enqueue_rows(conn, outbox_rows(letters, service=NAME))

    async def _apply(self, conn: asyncpg.Connection, ev: Any) -> None:
        d = ev.data
        kind = type(d).__name__
        structlog.contextvars.bind_contextvars(incident_id=d.incident_id, event_id=ev.id)
        if kind == "IncidentOpened":
            if await store.insert_incident(conn, incident_id=d.incident_id, product=d.product, title=d.title,
                                           text=d.summary, opened_from=d.opened_from, opened_at=ev.time):
                await self._late_links(conn, IncidentView(d.incident_id, d.product, d.title, ev.time, d.summary))
        elif kind == "AlertAttached":
            await store.append_incident_text(conn, d.incident_id, d.summary)
        elif kind == "IncidentMerged":
            await self._merge(conn, d.incident_id, d.into_incident_id)
        elif kind == "IncidentResolved" or (kind == "StatusChanged" and d.status == "resolved"):
            await store.close_incident(conn, d.incident_id, status="resolved")

    async def _late_links(self, conn: asyncpg.Connection, inc: IncidentView) -> None:
        since = inc.opened_at - timedelta(seconds=self.policy.late_link_window_s)
        candidates = await store.late_link_candidates(conn, since)
        for t, m in late_links(inc, candidates, self.policy):
            reason = f"late link: matches newly opened incident {inc.incident_id} (score {m.score:.2f})"
            await self.link(conn, inc.incident_id, t, link_reason="late_link", reason=reason,
                            outcome=TriageOutcome.LINKED, score=m.score, features=m.features)

    async def _merge(self, conn: asyncpg.Connection, source_id: str, target_id: str) -> None:
        await store.close_incident(conn, source_id, status="merged", merged_into=target_id)
        for ticket_id in await store.linked_tickets(conn, source_id):
            await store.deactivate_link(conn, source_id, ticket_id)
            t = await store.load_ticket(conn, ticket_id)
            if t is None:
                continue
            row = await store.get_ticket(conn, ticket_id)
            outcome = TriageOutcome(row["outcome"]) if row else TriageOutcome.LINKED
            if not await self.link(conn, target_id, t, link_reason="merge", outcome=outcome,
                                   reason=f"incident {source_id} merged into {target_id}"):
                await store.set_state(conn, ticket_id, outcome=outcome.value, incident_id=None)
