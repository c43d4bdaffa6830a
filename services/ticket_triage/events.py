"""Outgoing events of ticket-triage, enqueued on the caller's transaction (the outbox)."""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from typing import Any

import asyncpg

from shared.contracts import (
    IncidentOpened, TicketLinked, TicketRef, TicketTriaged, TicketUnlinked, TriageOutcome, deterministic_id,
    make_event, utcnow,
)
from shared.contracts.envelope import Envelope
from shared.outbox import enqueue_rows, event_row
from shared.topics import Topics

from .domain.decide import NewIncident
from .domain.tickets import Ticket

SOURCE = "/services/ticket-triage"


@functools.lru_cache(maxsize=1024)  # a linked ticket's TicketTriaged and TicketLinked carry the same ref
def ref(t: Ticket) -> TicketRef:
    return TicketRef(ticket_id=t.ticket_id, source=t.source, subject=t.subject[:1024], organization_id=t.organization_id,
                     requester_id=t.requester_id, locale=t.locale, product=t.product, priority=t.priority)


@dataclass
class Tx:
    """One transaction: its connection and the outbox rows it will write (in order) before committing."""

    conn: asyncpg.Connection
    rows: list[tuple[str, bytes | None, bytes, str]] = field(default_factory=list)

    def add(self, topic: str, event: Envelope[Any], key: str) -> None:
        self.rows.append(event_row(topic, event, key))

    async def flush(self) -> None:
        """Write the buffered events to the outbox in one statement (call before the transaction commits)."""
        await enqueue_rows(self.conn, self.rows)
        self.rows.clear()


@dataclass(frozen=True)
class Emitter:
    topics: Topics
    product_teams: dict[str, str]

    def triaged(self, tx: Tx, t: Ticket, n: int, *, outcome: TriageOutcome,
                      incident_id: str | None, reason: str, score: float, features: dict[str, float],
                      decided_by: str = "triage", override: bool = False) -> None:
        """TicketTriaged for the ticket's n-th decision."""
        data = TicketTriaged(ticket=ref(t), outcome=outcome, incident_id=incident_id, reason=reason[:1000],
                             score=score, features=features, decided_by=decided_by, decided_at=utcnow(),
                             override=override)
        ev = make_event(data, source=SOURCE, subject=t.ticket_id,
                        event_id=deterministic_id(SOURCE, "triaged", t.ticket_id, n))
        tx.add(self.topics.tickets_triaged, ev, key=t.ticket_id)

    def opened(self, tx: Tx, new: NewIncident) -> None:
        data = IncidentOpened(
            incident_id=new.incident_id, title=new.title, product=new.product, severity=new.severity,
            opened_from="tickets", team=self.product_teams.get(new.product), summary=new.summary,
            public_message=f"We are investigating reports of a problem with {new.product}.")
        ev = make_event(data, source=SOURCE, subject=new.incident_id,
                        event_id=deterministic_id(SOURCE, "opened", new.incident_id))
        tx.add(self.topics.incidents_updates, ev, key=new.incident_id)

    def linked(self, tx: Tx, incident_id: str, t: Ticket, reason: str, times: int) -> None:
        data = TicketLinked(incident_id=incident_id, ticket=ref(t), link_reason=reason)  # type: ignore[arg-type]
        ev = make_event(data, source=SOURCE, subject=incident_id,
                        event_id=deterministic_id(SOURCE, "linked", incident_id, t.ticket_id, times))
        tx.add(self.topics.incidents_updates, ev, key=incident_id)

    def unlinked(self, tx: Tx, incident_id: str, ticket_id: str, reason: str, n: int) -> None:
        data = TicketUnlinked(incident_id=incident_id, ticket_id=ticket_id, reason=reason[:1000])
        ev = make_event(data, source=SOURCE, subject=incident_id,
                        event_id=deterministic_id(SOURCE, "unlinked", incident_id, ticket_id, n))
        tx.add(self.topics.incidents_updates, ev, key=incident_id)
