"""Consumer use case: one transaction per batch from alerts.state, tickets.triaged and incidents.updates.

Claim the records (redeliveries drop out), decode them (bad ones become dead letters in the same
transaction), drop events already seen by id, take the product locks, apply each in order.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import asyncpg
import structlog
from aiokafka import ConsumerRecord

from shared.contracts import (
    ALERT_STATE_EVENTS, INCIDENT_EVENTS, TRIAGE_EVENTS, AlertStateChanged, Envelope, EventRegistry, IncidentOpened,
    TicketTriaged, utcnow,
)
from shared.dead_letter import DeadLetter, outbox_rows
from shared.outbox import enqueue_rows
from shared.service import ServiceRuntime
from shared.tracking import claim_events, claim_records

from . import incident_ops as ops
from . import incident_store as inc
from . import store
from .events import SERVICE, SOURCE
from .service import BatchWork, Validation

log = structlog.get_logger(__name__)
Item = tuple[ConsumerRecord, Envelope[Any]]


class Intake:
    """Applies batches; `runtime.pool` is looked up per batch (it opens in the lifespan)."""

    def __init__(self, runtime: ServiceRuntime, validation: Validation) -> None:
        self.runtime = runtime
        self.v = validation
        self.group = runtime.topics.group(SERVICE)
        t = runtime.topics
        self._registries: dict[str, EventRegistry] = {
            t.alerts_state: ALERT_STATE_EVENTS, t.tickets_triaged: TRIAGE_EVENTS, t.incidents_updates: INCIDENT_EVENTS}
        self._order = {t.incidents_updates: 0, t.tickets_triaged: 1, t.alerts_state: 2}

    def _decode(self, records: Sequence[ConsumerRecord]) -> tuple[list[Item], list[DeadLetter]]:
        good, bad = [], []
        for r in records:
            try:
                good.append((r, self._registries[r.topic].decode(r.value or b"")))
            except Exception as exc:  # invalid input: dead-letter it, never stop the consumer
                bad.append(DeadLetter(r.topic, r.partition, r.offset, r.key, r.value, type(exc).__name__,
                                      str(exc)[:2000], r.timestamp))
        return good, bad

    async def handle(self, records: Sequence[ConsumerRecord]) -> None:
        """Apply one batch in one transaction (raises on infrastructure failure: the batch is redelivered)."""
        async with self.runtime.pool.acquire() as conn, conn.transaction():
            fresh = await claim_records(conn, self.group, list(records))
            good, bad = self._decode(fresh)
            good = [(r, e) for r, e in good if e.source != SOURCE]  # our own events: applied when enqueued
            if good:
                new_ids = await claim_events(conn, SERVICE, [e.id for _, e in good])
                good = [(r, e) for r, e in good if e.id in new_ids]
            # incidents first, then tickets, then alerts: a ticket or alert may refer to an incident in the batch
            good.sort(key=lambda item: self._order[item[0].topic])
            await store.lock_products(conn, [p for _, e in good if (p := await self._product(conn, e))])
            now = utcnow()
            work = BatchWork()
            for r, e in good:
                with structlog.contextvars.bound_contextvars(topic=r.topic, partition=r.partition, offset=r.offset,
                                                             event_id=e.id):
                    await self._apply(conn, e, now, work)
            await self.v.finish(conn, work, now)  # policies once per product and batch, after all its changes
            await enqueue_rows(conn, outbox_rows(bad, service=SERVICE))

    async def _product(self, conn: asyncpg.Connection, e: Envelope[Any]) -> str | None:
        d = e.data
        if isinstance(d, AlertStateChanged):
            return d.alert.product
        if isinstance(d, TicketTriaged):
            return d.ticket.product
        if isinstance(d, IncidentOpened):
            return d.product
        row = await inc.get(conn, d.incident_id)
        return row["product"] if row else None

    async def _apply(self, conn: asyncpg.Connection, e: Envelope[Any], now: datetime, work: BatchWork) -> None:
        """Apply one event; note in `work` the product whose candidates it may decide."""
        d = e.data
        if isinstance(d, AlertStateChanged):
            await self.v.apply_alert(conn, d, now, work)
        elif isinstance(d, TicketTriaged):
            t = d.ticket
            if not t.product:
                return  # no product: it cannot corroborate anything
            await store.record_ticket(conn, ticket_id=t.ticket_id, product=t.product, outcome=d.outcome.value,
                                      organization_id=t.organization_id, priority=t.priority,
                                      incident_id=d.incident_id, now=now)
            work.touched.add(t.product)
        else:
            await ops.mirror(conn, e, self.v.s.owners, self.v.s.fallback_team, now)
            if isinstance(d, IncidentOpened):  # a candidate may have been waiting for it (mirror_grace_s)
                work.touched.add(d.product)
