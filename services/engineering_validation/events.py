"""Outgoing events: envelopes with this service's source, enqueued in the caller's transaction."""

from __future__ import annotations

from dataclasses import dataclass

import asyncpg

from shared.contracts import AlertValidated, ValidationEscalated, make_event
from shared.contracts.incidents import _IncidentEvent
from shared.outbox import enqueue, enqueue_rows, event_row
from shared.topics import Topics

SERVICE = "engineering-validation"
SOURCE = "/services/engineering-validation"


@dataclass(frozen=True)
class Publisher:
    topics: Topics

    async def incident(self, conn: asyncpg.Connection, data: _IncidentEvent, *, event_id: str | None = None) -> None:
        """An event on incidents.updates, keyed by incident id."""
        event = make_event(data, source=SOURCE, subject=data.incident_id, event_id=event_id)
        await enqueue(conn, self.topics.incidents_updates, event, key=data.incident_id)

    async def incidents(self, conn: asyncpg.Connection, items: list[tuple[_IncidentEvent, str]]) -> None:
        """Several events on incidents.updates at once, in order: (payload, event id) pairs."""
        rows = [event_row(self.topics.incidents_updates,
                          make_event(d, source=SOURCE, subject=d.incident_id, event_id=eid), d.incident_id)
                for d, eid in items]
        await enqueue_rows(conn, rows)

    async def validation(self, conn: asyncpg.Connection, data: AlertValidated | ValidationEscalated, *,
                         event_id: str) -> None:
        """An event on alerts.validated, keyed by candidate id."""
        event = make_event(data, source=SOURCE, subject=data.candidate_id, event_id=event_id)
        await enqueue(conn, self.topics.alerts_validated, event, key=data.candidate_id)
