"""Use cases of ticket-triage, one transaction each: claim the input, decide, store, enqueue the events."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import asyncpg
import orjson
import structlog
from prometheus_client import Counter

from shared.contracts import INCIDENT_EVENTS, TriageOutcome
from shared.dead_letter import DeadLetter, outbox_rows
from shared.tracking import claim_events, claim_records

from . import store
from .domain.classify import IncidentIndex, IncidentView
from .domain.decide import Decision, NewIncident, decide, late_links
from .domain.policy import TriagePolicy
from .domain.tickets import Ticket, TicketFormatError, parse_raw
from .events import SOURCE, Emitter, Tx

log = structlog.get_logger(__name__)
_debug = logging.getLogger(__name__)  # per-ticket debug lines are built only when they are shown
NAME = "ticket-triage"
DECISIONS = Counter("triage_decisions_total", "Triage decisions", ["outcome", "reason"])


def dead_letter(r: Any, exc: Exception) -> DeadLetter:
    return DeadLetter(r.topic, r.partition, r.offset, r.key, r.value, type(exc).__name__, str(exc), r.timestamp)


@dataclass
class _BatchView:
    """What a batch reads once and keeps current itself: open incidents (prepared for matching), pending
    tickets, known ticket ids; and the writes of its ticket decisions, buffered until the next read."""

    known: set[str]
    incidents: IncidentIndex | None = None
    pending: dict[str, list[Ticket]] = field(default_factory=dict)
    writes: store.TicketWrites = field(default_factory=store.TicketWrites)


class TriageService:
    def __init__(self, pool: asyncpg.Pool, emitter: Emitter, policy: TriagePolicy, *, group_id: str) -> None:
        self.pool = pool
        self.emit = emitter
        self.policy = policy
        self.group_id = group_id

    async def link(self, tx: Tx, incident_id: str, t: Ticket, *, link_reason: str, reason: str,
                   outcome: TriageOutcome, score: float = 0.0, features: dict[str, float] | None = None,
                   decided_by: str = "triage", override: bool = False) -> bool:
        """Link a ticket (once per pair; overrides may re-link after an unlink) with its decision and events."""
        times = await store.insert_link(tx.conn, incident_id, t.ticket_id, link_reason, relink=override)
        if times is None:
            return False
        await store.set_state(tx.conn, t.ticket_id, outcome=outcome.value, incident_id=incident_id,
                              overridden=True if override else None)
        n = await store.add_decision(tx.conn, t.ticket_id, outcome=outcome.value, incident_id=incident_id,
                                     reason=reason, score=score, features=features or {}, decided_by=decided_by,
                                     override=override)
        self.emit.triaged(tx, t, n, outcome=outcome, incident_id=incident_id, reason=reason, score=score,
                          features=features or {}, decided_by=decided_by, override=override)
        self.emit.linked(tx, incident_id, t, link_reason, times)
        await store.append_ticket_text(tx.conn, incident_id, t.subject)
        DECISIONS.labels(outcome.value, link_reason).inc()
        return True

    # --- tickets.new ---------------------------------------------------------------------------------------

    async def handle_tickets(self, records: Sequence[Any]) -> None:
        """Triage a batch of tickets.new records; bad ones go to tickets.new.DLT in the same transaction."""
        async with self.pool.acquire() as conn, conn.transaction():
            tx = Tx(conn)
            await store.lock(conn)
            fresh = await claim_records(conn, self.group_id, records)
            letters, tickets = [], []
            for r in fresh:
                try:
                    tickets.append(parse_raw(r.value, self.policy))
                except (orjson.JSONDecodeError, TicketFormatError, TypeError) as exc:
                    letters.append(dead_letter(r, exc))
            view = _BatchView(known=await store.known_tickets(conn, [t.ticket_id for t in tickets]))
            for ticket in tickets:
                if ticket.ticket_id in view.known:
                    continue  # the same ticket sent twice (webhook retry): one decision only
                view.known.add(ticket.ticket_id)
                await self._triage(tx, ticket, view)
            await view.writes.flush(conn)
            tx.rows.extend(outbox_rows(letters, service=NAME))
            await tx.flush()

    async def _triage(self, tx: Tx, t: Ticket, view: _BatchView) -> None:
        if view.incidents is None:
            await view.writes.flush(tx.conn)  # the read sees every earlier decision of the batch
            view.incidents = IncidentIndex(await store.open_incidents(tx.conn))
        pending: list[Ticket] = []
        if t.product:
            if t.product not in view.pending:
                await view.writes.flush(tx.conn)
                view.pending[t.product] = await store.pending_tickets(tx.conn, t.product)
            pending = view.pending[t.product]
        d = decide(t, view.incidents, pending, self.policy)
        if d.outcome is TriageOutcome.LINKED and d.incident_id:
            # A new ticket has no link and no decision yet: this is link 1 of the pair and decision 1.
            view.writes.ticket(t, problem_score=d.problem_score, outcome=d.outcome.value, incident_id=d.incident_id,
                               pending=False)
            view.writes.link(d.incident_id, t.ticket_id, "triage", t.subject)
            view.writes.decision(t.ticket_id, outcome=d.outcome.value, incident_id=d.incident_id, reason=d.reason,
                                 score=d.score, features=d.features)
            self.emit.triaged(tx, t, 1, outcome=d.outcome, incident_id=d.incident_id, reason=d.reason,
                              score=d.score, features=d.features)
            self.emit.linked(tx, d.incident_id, t, "triage", 1)
            DECISIONS.labels(d.outcome.value, "triage").inc()
        elif d.new_incident is not None:
            # Rare: opening an incident takes the per-statement path, after the buffered writes.
            with structlog.contextvars.bound_contextvars(ticket_id=t.ticket_id):
                await view.writes.flush(tx.conn)
                placeholder = Decision(TriageOutcome.STANDARD_SUPPORT, "", 0, {}, problem_score=d.problem_score)
                await store.insert_ticket(tx.conn, t, placeholder)
                await self._open(tx, d.new_incident, d)
            view.incidents = None  # re-read: the new incident is open for the rest of the batch
            view.pending.pop(t.product or "", None)
        else:
            view.writes.ticket(t, problem_score=d.problem_score, outcome=d.outcome.value, incident_id=d.incident_id,
                               pending=d.pending_cluster)
            view.writes.decision(t.ticket_id, outcome=d.outcome.value, incident_id=None, reason=d.reason,
                                 score=d.score, features=d.features)
            self.emit.triaged(tx, t, 1, outcome=d.outcome, incident_id=None, reason=d.reason, score=d.score,
                              features=d.features)
            if d.pending_cluster:
                pending.append(t)
            DECISIONS.labels(d.outcome.value, "pending_cluster" if d.pending_cluster else "standard").inc()
        if _debug.isEnabledFor(logging.DEBUG):
            log.debug("ticket triaged", ticket_id=t.ticket_id, incident_id=d.incident_id, outcome=d.outcome.value,
                      score=d.score, product=t.product)

    async def _open(self, tx: Tx, new: NewIncident, d: Decision) -> None:
        """IncidentOpened first, then TicketLinked(new_incident) for every ticket of the cluster (same key)."""
        await store.insert_incident(tx.conn, incident_id=new.incident_id, product=new.product, title=new.title,
                                    text=new.summary, opened_from="tickets", opened_at=new.tickets[-1].created_at)
        self.emit.opened(tx, new)
        for member in new.tickets:
            await self.link(tx, new.incident_id, member, link_reason="new_incident", reason=d.reason,
                            outcome=TriageOutcome.NEW_INCIDENT, score=d.score, features=d.features)
        log.info("incident opened from tickets", incident_id=new.incident_id, tickets=len(new.tickets),
                 severity=new.severity.value)

    # --- incidents.updates ---------------------------------------------------------------------------------

    async def handle_incident_updates(self, records: Sequence[Any]) -> None:
        """Keep the view of open incidents; late links on IncidentOpened, move links on IncidentMerged."""
        async with self.pool.acquire() as conn, conn.transaction():
            tx = Tx(conn)
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
                    with structlog.contextvars.bound_contextvars(event_id=ev.id, incident_id=ev.data.incident_id):
                        await self._apply(tx, ev)
            tx.rows.extend(outbox_rows(letters, service=NAME))
            await tx.flush()

    async def _apply(self, tx: Tx, ev: Any) -> None:
        d = ev.data
        kind = type(d).__name__
        if kind == "IncidentOpened":
            text = f"{d.summary} {d.signal.value if d.signal else ''}"  # "latency" / "error_rate" name a symptom
            if await store.insert_incident(tx.conn, incident_id=d.incident_id, product=d.product, title=d.title,
                                           text=text, opened_from=d.opened_from, opened_at=ev.time):
                await self._late_links(tx, IncidentView(d.incident_id, d.product, d.title, ev.time, text))
        elif kind == "AlertAttached":
            await store.append_incident_text(tx.conn, d.incident_id, d.summary)
        elif kind == "IncidentMerged":
            await self._merge(tx, d.incident_id, d.into_incident_id)
        elif kind == "IncidentResolved" or (kind == "StatusChanged" and d.status == "resolved"):
            await store.close_incident(tx.conn, d.incident_id, status="resolved")

    async def _late_links(self, tx: Tx, inc: IncidentView) -> None:
        since = inc.opened_at - timedelta(seconds=self.policy.late_link_window_s)
        candidates = await store.late_link_candidates(tx.conn, since)
        for t, m in late_links(inc, candidates, self.policy):
            reason = f"late link: matches newly opened incident {inc.incident_id} (score {m.score:.2f})"
            await self.link(tx, inc.incident_id, t, link_reason="late_link", reason=reason,
                            outcome=TriageOutcome.LINKED, score=m.score, features=m.features)

    async def _merge(self, tx: Tx, source_id: str, target_id: str) -> None:
        await store.close_incident(tx.conn, source_id, status="merged", merged_into=target_id)
        for ticket_id in await store.linked_tickets(tx.conn, source_id):
            await store.deactivate_link(tx.conn, source_id, ticket_id)
            row = await store.get_ticket(tx.conn, ticket_id)
            t = await store.load_ticket(tx.conn, ticket_id)
            if row is None or t is None:
                continue
            outcome = TriageOutcome(row["outcome"])
            if not await self.link(tx, target_id, t, link_reason="merge", outcome=outcome,
                                   reason=f"incident {source_id} merged into {target_id}"):
                await store.set_state(tx.conn, ticket_id, outcome=outcome.value, incident_id=None)
