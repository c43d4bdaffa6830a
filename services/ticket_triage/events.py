"""Outgoing events of ticket-triage, enqueued on the caller's transaction (the outbox)."""

from __future__ import annotations

from dataclasses import dataclass

import asyncpg

from shared.contracts import (
    IncidentOpened, TicketLinked, TicketRef, TicketTriaged, TicketUnlinked, TriageOutcome, deterministic_id,
    make_event, utcnow,
)
from shared.outbox import enqueue
from shared.topics import Topics

from .domain.decide import NewIncident
from .domain.tickets import Ticket

SOURCE = "/services/ticket-triage"


def ref(t: Ticket) -> TicketRef:
    return TicketRef(ticket_id=t.ticket_id, source=t.source, subject=t.subject[:1024], organization_id=t.organization_id,
                     requester_id=t.requester_id, locale=t.locale, product=t.product, priority=t.priority)


@dataclass(frozen=True)
class Emitter:
    topics: Topics
    product_teams: dict[str, str]

    async def triaged(self, conn: asyncpg.Connection, t: Ticket, n: int, *, outcome: TriageOutcome,
                      incident_id: str | None, reason: str, score: float, features: dict[str, float],
                      decided_by: str = "triage", override: bool = False) -> None:
        """TicketTriaged for the ticket's n-th decision."""
        data = TicketTriaged(ticket=ref(t), outcome=outcome, incident_id=incident_id, reason=reason[:1000],
                             score=score, features=features, decided_by=decided_by, decided_at=utcnow(),
                             override=override)
        ev = make_event(data, source=SOURCE, subject=t.ticket_id,
                        event_id=deterministic_id(SOURCE, "triaged", t.ticket_id, n))
        await enqueue(conn, self.topics.tickets_triaged, ev, key=t.ticket_id)

    async def opened(self, conn: asyncpg.Connection, new: NewIncident) -> None:
        data = IncidentOpened(
            incident_id=new.incident_id, title=new.title, product=new.product, severity=new.severity,
            opened_from="tickets", team=self.product_teams.get(new.product), summary=new.summary,
            public_message=f"We are investigating reports of a problem with {new.product}.")
        ev = make_event(data, source=SOURCE, subject=new.incident_id,
                        event_id=deterministic_id(SOURCE, "opened", new.incident_id))
        await enqueue(conn, self.topics.incidents_updates, ev, key=new.incident_id)

    async def linked(self, conn: asyncpg.Connection, incident_id: str, t: Ticket, reason: str, times: int) -> None:
        data = TicketLinked(incident_id=incident_id, ticket=ref(t), link_reason=reason)  # type: ignore[arg-type]
        ev = make_event(data, source=SOURCE, subject=incident_id,
                        event_id=deterministic_id(SOURCE, "linked", incident_id, t.ticket_id, times))
        await enqueue(conn, self.topics.incidents_updates, ev, key=incident_id)

    async def unlinked(self, conn: asyncpg.Connection, incident_id: str, ticket_id: str, reason: str, n: int) -> None:
        data = TicketUnlinked(incident_id=incident_id, ticket_id=ticket_id, reason=reason[:1000])
        ev = make_event(data, source=SOURCE, subject=incident_id,
                        event_id=deterministic_id(SOURCE, "unlinked", incident_id, ticket_id, n))
        await enqueue(conn, self.topics.incidents_updates, ev, key=incident_id)
