"""Agent overrides: link a ticket to an incident, unlink it, or move it to the standard route.

Each override is one transaction: a decision in the history, TicketTriaged(override=True), and the
TicketLinked/TicketUnlinked event; repeating an override that is already in effect changes nothing."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass


from shared.contracts import TriageOutcome

from . import store
from .events import Tx
from .service import TriageService


class OverrideError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class OverrideResult:
    changed: bool
    outcome: str
    incident_id: str | None


class Overrides:
    def __init__(self, service: Callable[[], TriageService]) -> None:
        self._service = service

    @classmethod
    def lazy(cls, service: Callable[[], TriageService]) -> Overrides:
        """Overrides over a service built on first use (after the pool opened)."""
        return cls(service)

    @property
    def svc(self) -> TriageService:
        return self._service()

    async def ticket_product(self, ticket_id: str) -> str | None:
        row = await store.get_ticket(self.svc.pool, ticket_id)
        if row is None:
            raise OverrideError(404, f"ticket {ticket_id} not found")
        return row["product"]

    async def _unlink(self, tx: Tx, ticket_id: str, by: str, reason: str) -> str | None:
        current = await store.active_link(tx.conn, ticket_id)
        if current is not None:
            await store.deactivate_link(tx.conn, current, ticket_id)
            n = await tx.conn.fetchval("SELECT count(*) FROM decisions WHERE ticket_id = $1", ticket_id)
            self.svc.emit.unlinked(tx, current, ticket_id, f"{reason} (by {by})", n)
        return current

    async def link(self, ticket_id: str, incident_id: str, *, by: str, reason: str) -> OverrideResult:
        async with self.svc.pool.acquire() as conn, conn.transaction():
            await store.lock(conn)
            t = await store.load_ticket(conn, ticket_id)
            if t is None:
                raise OverrideError(404, f"ticket {ticket_id} not found")
            inc = await store.get_incident(conn, incident_id)
            if inc is None:
                raise OverrideError(404, f"incident {incident_id} not known to triage")
            if inc["status"] != "open":
                raise OverrideError(409, f"incident {incident_id} is {inc['status']}")
            if await store.active_link(conn, ticket_id) == incident_id:
                return OverrideResult(False, "linked", incident_id)
            tx = Tx(conn)
            await self._unlink(tx, ticket_id, by, f"moved to {incident_id}")
            await self.svc.link(tx, incident_id, t, link_reason="override", outcome=TriageOutcome.LINKED,
                                reason=f"override by {by}: {reason}", decided_by=by, override=True)
            await tx.flush()
            return OverrideResult(True, "linked", incident_id)

    async def to_standard(self, ticket_id: str, *, by: str, reason: str, unlink_only: bool = False) -> OverrideResult:
        """Unlink (if linked) and record the standard route; `unlink_only` refuses when nothing is linked."""
        async with self.svc.pool.acquire() as conn, conn.transaction():
            await store.lock(conn)
            row = await store.get_ticket(conn, ticket_id)
            if row is None:
                raise OverrideError(404, f"ticket {ticket_id} not found")
            if unlink_only and await store.active_link(conn, ticket_id) is None:
                raise OverrideError(409, f"ticket {ticket_id} is not linked to an incident")
            if row["outcome"] == "standard_support" and row["overridden"] and row["incident_id"] is None:
                return OverrideResult(False, "standard_support", None)
            tx = Tx(conn)
            previous = await self._unlink(tx, ticket_id, by, reason)
            await store.set_state(conn, ticket_id, outcome="standard_support", incident_id=None, overridden=True)
            text = f"override by {by}: " + (f"unlinked from {previous}: " if previous else "") + reason
            n = await store.add_decision(conn, ticket_id, outcome="standard_support", incident_id=None, reason=text,
                                         score=0.0, features={}, decided_by=by, override=True)
            t = await store.load_ticket(conn, ticket_id)
            assert t is not None
            self.svc.emit.triaged(tx, t, n, outcome=TriageOutcome.STANDARD_SUPPORT, incident_id=None,
                                  reason=text, score=0.0, features={}, decided_by=by, override=True)
            await tx.flush()
            return OverrideResult(True, "standard_support", None)
