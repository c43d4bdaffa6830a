"""Use cases: apply consumed events (one transaction per batch: claim, update the view, record deliveries)
and run the periodic schedules. Nothing is sent here; the senders (sender.py) deliver what is recorded."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import structlog
from aiokafka import ConsumerRecord

from shared.contracts import INCIDENT_EVENTS, VALIDATION_EVENTS, Envelope, ValidationEscalated
from shared.dead_letter import DeadLetter, outbox_rows
from shared.outbox import enqueue_rows
from shared.tracking import claim_events, claim_records

from . import store
from .domain.cadence import cadence_for, next_due, next_update_for_new_link, skips_periodic
from .domain.incidents import Decision, Incident, decide
from .domain.messages import render
from .settings import Settings
from .store import NewDelivery

log = structlog.get_logger(__name__)
CONSUMER = "notifier"


def _now() -> datetime:
    return datetime.now(UTC)


class Notifier:
    """The notifier's use cases, over one pool."""

    def __init__(self, pool: asyncpg.Pool, settings: Settings, *, group: str, incidents_topic: str,
                 service: str = "notifier") -> None:
        self.pool = pool
        self.incidents_topic = incidents_topic
        self.settings = settings
        self.group = group
        self.service = service
        self.cadences = settings.cadences()

    # --- consuming ---------------------------------------------------------------------------------------

    async def on_records(self, records: Sequence[ConsumerRecord]) -> None:
        """A batch from either topic: incident events first, then validation events (separate transactions)."""
        incidents = [r for r in records if r.topic == self.incidents_topic]
        others = [r for r in records if r.topic != self.incidents_topic]
        if incidents:
            await self.on_incident_records(incidents)
        if others:
            await self.on_validation_records(others)

    async def on_incident_records(self, records: Sequence[ConsumerRecord]) -> None:
        """incidents.updates: update the view, record comments and webhook deliveries, in one transaction."""
        await self._consume(records, INCIDENT_EVENTS, self._apply_incident_event)

    async def on_validation_records(self, records: Sequence[ConsumerRecord]) -> None:
        """alerts.validated: escalations to the owning team's webhook, and subscribed webhooks."""
        await self._consume(records, VALIDATION_EVENTS, self._apply_validation_event)

    async def _consume(self, records: Sequence[ConsumerRecord], registry: Any, apply: Any) -> None:
        async with self.pool.acquire() as conn, conn.transaction():
            fresh = await claim_records(conn, self.group, records)
            decoded: list[tuple[ConsumerRecord, Envelope[Any]]] = []
            letters: list[DeadLetter] = []
            for r in fresh:
                try:
                    decoded.append((r, registry.decode(r.value)))
                except Exception as exc:  # bad input: dead-letter it with the batch
                    letters.append(DeadLetter(r.topic, r.partition, r.offset, r.key, r.value,
                                              type(exc).__name__, str(exc), r.timestamp))
            new_ids = await claim_events(conn, CONSUMER, [e.id for _, e in decoded])
            now = _now()
            for r, event in decoded:
                if event.id not in new_ids:
                    continue  # the same event published twice (relay retry)
                structlog.contextvars.bind_contextvars(topic=r.topic, partition=r.partition, offset=r.offset,
                                                       event_id=event.id)
                await apply(conn, event, r.value, now)
            structlog.contextvars.clear_contextvars()
            await enqueue_rows(conn, outbox_rows(letters, service=self.service))

    async def _apply_incident_event(self, conn: asyncpg.Connection, event: Envelope[Any], raw: bytes,
                                    now: datetime) -> None:
        data = event.data
        structlog.contextvars.bind_contextvars(incident_id=data.incident_id)
        current = await store.load_incident(conn, data.incident_id)
        decision = decide(current, data, event_id=event.id)
        inc = decision.incident
        await store.save_incident(conn, inc)
        items = self._webhook_items(event, raw, inc.product)
        if decision.link is not None:
            await store.upsert_link(conn, inc.incident_id, decision.link)
            if inc.open:  # a resolved or merged incident has nothing more to tell
                row = await store.get_schedule(conn, inc.incident_id)
                promised = next_update_for_new_link(row["next_due_at"] if row else None,
                                                    cadence_for(inc.severity, self.cadences), now)
                items.append(self._comment(inc, "link", f"link:{inc.incident_id}", decision.link.ticket_id,
                                           decision.link.locale, inc.latest_update, now, next_update_at=promised))
        if decision.unlink is not None:
            await store.unlink(conn, inc.incident_id, decision.unlink)
        if decision.move_links_to is not None:
            await store.move_links(conn, inc.incident_id, decision.move_links_to)
        if decision.broadcast is not None:
            b = decision.broadcast
            for ticket_id, locale, _ in await store.active_links(conn, inc.incident_id):
                items.append(self._comment(inc, b.kind, f"{b.key}:{inc.incident_id}", ticket_id, locale,
                                           b.message or inc.latest_update, now, event_id=event.id))
        await store.insert_deliveries(conn, items)
        await self._schedule(conn, inc, decision, now)

    async def _apply_validation_event(self, conn: asyncpg.Connection, event: Envelope[Any], raw: bytes,
                                      now: datetime) -> None:
        data = event.data
        items = self._webhook_items(event, raw, data.product)
        if isinstance(data, ValidationEscalated):
            # without a webhook for the team the escalation is dead at once: visible, not silently pending
            missing = data.team not in self.settings.team_webhooks
            items.append(NewDelivery(key=f"escalation:{data.team}:{event.id}", channel="webhook",
                                     target=f"team:{data.team}", kind="escalation", incident_id=None,
                                     event_id=event.id, payload=raw, status="dead" if missing else "pending",
                                     error=f"no webhook configured for team {data.team!r}" if missing else None))
            if missing:
                log.error("escalation has no team webhook", team=data.team, candidate_id=data.candidate_id)
        await store.insert_deliveries(conn, items)

    async def _schedule(self, conn: asyncpg.Connection, inc: Incident, decision: Decision, now: datetime) -> None:
        if decision.schedule == "end" or not inc.open:
            await store.end_schedule(conn, inc.incident_id)
            return
        cadence = cadence_for(inc.severity, self.cadences)
        if decision.schedule == "reset" or decision.broadcast is not None:
            await store.set_schedule(conn, inc.incident_id, cadence, now,
                                     now + timedelta(seconds=cadence) if cadence else None)
            return
        row = await store.get_schedule(conn, inc.incident_id)
        last = row["last_broadcast_at"] if row else now
        if cadence is None or row is None or row["cadence_s"] != cadence:
            # a severity change keeps the last broadcast and applies the new cadence from there
            await store.set_schedule(conn, inc.incident_id, cadence, last,
                                     next_due(last, cadence, now) if cadence else None)

    def _comment(self, inc: Incident, kind: str, key: str, ticket_id: str, locale: str | None, message: str,
                 now: datetime, event_id: str | None = None, next_update_at: datetime | None = None) -> NewDelivery:
        cadence = cadence_for(inc.severity, self.cadences) if inc.open and kind != "resolved" else None
        if next_update_at is None and cadence:
            next_update_at = now + timedelta(seconds=cadence)  # broadcasts and periodic updates reset the schedule
        body = render(kind, locale, title=inc.title or inc.incident_id, status=inc.status, message=message,
                      product=inc.product, default=self.settings.default_locale, next_update_at=next_update_at)
        return NewDelivery(key=f"zendesk:{ticket_id}:{key}", channel="zendesk", target="zendesk", kind=kind,
                           incident_id=inc.incident_id, ticket_id=ticket_id, event_id=event_id, body=body)

    def _webhook_items(self, event: Envelope[Any], raw: bytes, product: str | None) -> list[NewDelivery]:
        out = []
        for sub in self.settings.webhooks:
            if not (_matches(event.type, sub.event_types) and ("*" in sub.products or product in sub.products)):
                continue
            out.append(NewDelivery(key=f"webhook:{sub.name}:{event.id}", channel="webhook",
                                   target=f"webhook:{sub.name}", kind="event",
                                   incident_id=getattr(event.data, "incident_id", None), event_id=event.id,
                                   payload=raw))
        return out

    # --- periodic updates --------------------------------------------------------------------------------

    async def run_due_schedules(self, limit: int = 100) -> int:
        """Enqueue the periodic updates that are due; returns how many incidents got one."""
        done = 0
        async with self.pool.acquire() as conn, conn.transaction():
            for row in await store.due_schedules(conn, limit):
                now = _now()
                # no incident row lock: handlers lock incident then schedule, so locking here could deadlock
                inc = await store.load_incident(conn, row["incident_id"], lock=False)
                if inc is None or not inc.open:
                    await store.end_schedule(conn, row["incident_id"])
                    continue
                period = row["period"] + 1
                cadence = row["cadence_s"]
                # a ticket linked within the last half cadence just heard the current status: it joins the next
                links = await store.active_links(conn, inc.incident_id)
                tickets = [(t, loc) for t, loc, at in links if not skips_periodic(at, now, cadence)]
                items = [self._comment(inc, "periodic", f"periodic:{inc.incident_id}:{period}", t, loc,
                                       inc.latest_update, now) for t, loc in tickets]
                await store.insert_deliveries(conn, items)
                await store.advance_schedule(conn, inc.incident_id, period, now,
                                             now + timedelta(seconds=cadence))
                done += 1
        return done


def _matches(event_type: str, wanted: list[str]) -> bool:
    """'*', the full CloudEvents type, or its short form ('incident.opened' matches ...incident.opened.v1)."""
    return any(w == "*" or w == event_type or f".{w}." in f".{event_type}" for w in wanted)
