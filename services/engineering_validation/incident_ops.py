"""Incident lifecycle steps: each changes the incident view and enqueues its event, in the caller's transaction."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import asyncpg
import structlog

from shared.contracts import (
    AlertAttached, Envelope, IncidentMerged, IncidentOpened, IncidentResolved, IncidentStatus, Severity,
    SeverityChanged, Signal, StatusChanged, StatusUpdatePosted, TicketLinked, TicketUnlinked, deterministic_id,
)

from . import incident_store as inc
from . import store
from .events import Publisher
from .metrics import INCIDENTS_OPENED

log = structlog.get_logger(__name__)
Conn = asyncpg.Connection


async def open_incident(conn: Conn, pub: Publisher, *, id: str, title: str, product: str, signal: Signal | None,
                        severity: Severity, opened_from: str, team: str, summary: str, actor: str,
                        now: datetime) -> None:
    """Record a new incident and announce it (IncidentOpened)."""
    await inc.insert(conn, id=id, title=title, product=product, signal=signal.value if signal else None,
                     severity=severity.value, status=IncidentStatus.INVESTIGATING.value, opened_from=opened_from,
                     team=team, summary=summary, now=now)
    await inc.add_timeline(conn, id, now, "opened", actor, severity=severity.value, opened_from=opened_from,
                           title=title)
    data = IncidentOpened(incident_id=id, title=title[:512], product=product, signal=signal, severity=severity,
                          opened_from=opened_from, team=team, summary=summary[:4096])  # type: ignore[arg-type]
    await pub.incident(conn, data, event_id=deterministic_id("incident-opened", id))
    INCIDENTS_OPENED.labels(opened_from).inc()


async def attach(conn: Conn, pub: Publisher, incident_id: str, alerts: list[asyncpg.Record], actor: str,
                 now: datetime) -> None:
    """Attach alerts to an incident (AlertAttached per fingerprint); a firing one cancels a pending auto-resolve."""
    if not alerts:
        return
    await inc.attach_alerts(conn, [a["fingerprint"] for a in alerts], incident_id)
    await inc.add_timeline_many(conn, incident_id, now, "alert_attached", actor, [
        {"fingerprint": a["fingerprint"], "signal": a["signal"], "summary": a["summary"]} for a in alerts])
    await pub.incidents(conn, [
        (AlertAttached(incident_id=incident_id, fingerprint=a["fingerprint"], signal=Signal(a["signal"]),
                       summary=a["summary"]),
         deterministic_id("alert-attached", incident_id, a["fingerprint"], a["fired_at"].isoformat()))
        for a in alerts])
    if any(a["status"] == "firing" for a in alerts):
        await store.cancel(conn, "auto_resolve", incident_id)


async def change_severity(conn: Conn, pub: Publisher, row: asyncpg.Record, new: Severity, by: str,
                          now: datetime) -> None:
    previous = Severity(row["severity"])
    if previous == new:
        return
    await inc.update(conn, row["id"], now, severity=new.value)
    await inc.add_timeline(conn, row["id"], now, "severity_changed", by, previous=previous.value, severity=new.value)
    await pub.incident(conn, SeverityChanged(incident_id=row["id"], previous=previous, severity=new, changed_by=by))


async def change_status(conn: Conn, pub: Publisher, row: asyncpg.Record, new: IncidentStatus, by: str,
                        now: datetime, *, update_id: str | None = None) -> None:
    previous = IncidentStatus(row["status"])
    await inc.update(conn, row["id"], now, status=new.value)
    await inc.add_timeline(conn, row["id"], now, "status_changed", by, previous=previous.value, status=new.value)
    await pub.incident(conn, StatusChanged(incident_id=row["id"], previous=previous, status=new, changed_by=by,
                                           update_id=update_id))


def new_update_id() -> str:
    return uuid.uuid4().hex


async def post_update(conn: Conn, pub: Publisher, row: asyncpg.Record, message: str, author: str,
                      now: datetime, *, update_id: str | None = None) -> str:
    """A public status message (StatusUpdatePosted); returns its update id."""
    update_id = update_id or new_update_id()
    await inc.update(conn, row["id"], now)
    await inc.add_timeline(conn, row["id"], now, "status_update", author, update_id=update_id, message=message)
    await pub.incident(conn, StatusUpdatePosted(incident_id=row["id"], update_id=update_id, message=message,
                                                status=IncidentStatus(row["status"]), author=author))
    return update_id


async def resolve(conn: Conn, pub: Publisher, row: asyncpg.Record, message: str, by: str, now: datetime) -> None:
    await inc.update(conn, row["id"], now, status=IncidentStatus.RESOLVED.value, resolved_at=now)
    await inc.add_timeline(conn, row["id"], now, "resolved", by, message=message)
    await store.cancel(conn, "auto_resolve", row["id"])
    await pub.incident(conn, IncidentResolved(incident_id=row["id"], message=message, resolved_by=by),
                       event_id=deterministic_id("incident-resolved", row["id"]))


async def merge(conn: Conn, pub: Publisher, source: asyncpg.Record, target: asyncpg.Record, by: str,
                now: datetime) -> IncidentMerged:
    """Fold `source` into `target`: its alerts and tickets move; `source` ends as merged."""
    fingerprints = [a["fingerprint"] for a in await inc.alerts(conn, source["id"])]
    ticket_ids = [t["ticket_id"] for t in await inc.tickets(conn, source["id"])]
    await inc.attach_alerts(conn, fingerprints, target["id"])
    await inc.move_tickets(conn, source["id"], target["id"])
    await inc.update(conn, source["id"], now, merged_into=target["id"], resolved_at=now)
    await store.cancel(conn, "auto_resolve", source["id"])
    await inc.add_timeline(conn, source["id"], now, "merged", by, into=target["id"])
    await inc.add_timeline(conn, target["id"], now, "merged_in", by, incident=source["id"], tickets=ticket_ids,
                           fingerprints=fingerprints)
    data = IncidentMerged(incident_id=source["id"], into_incident_id=target["id"], ticket_ids=ticket_ids,
                          fingerprints=fingerprints, merged_by=by)
    await pub.incident(conn, data, event_id=deterministic_id("incident-merged", source["id"]))
    return data


async def mirror(conn: Conn, env: Envelope[Any], owners: dict[str, str], fallback_team: str,
                 now: datetime) -> None:
    """Apply another service's incident event (ticket-triage: opened from tickets, ticket links)."""
    d = env.data
    if isinstance(d, IncidentOpened):
        inserted = await inc.insert(conn, id=d.incident_id, title=d.title, product=d.product,
                                    signal=d.signal.value if d.signal else None, severity=d.severity.value,
                                    status=d.status.value, opened_from=d.opened_from,
                                    team=d.team or owners.get(d.product, fallback_team), summary=d.summary, now=now)
        if inserted:
            await inc.add_timeline(conn, d.incident_id, now, "opened", env.source, severity=d.severity.value,
                                   opened_from=d.opened_from, title=d.title)
    elif isinstance(d, TicketLinked):
        if await inc.link_ticket(conn, d.incident_id, d.ticket.model_dump(mode="json"), d.link_reason, now):
            await inc.add_timeline(conn, d.incident_id, now, "ticket_linked", env.source,
                                   ticket_id=d.ticket.ticket_id, reason=d.link_reason)
    elif isinstance(d, TicketUnlinked):
        await inc.unlink_ticket(conn, d.incident_id, d.ticket_id)
        await inc.add_timeline(conn, d.incident_id, now, "ticket_unlinked", env.source, ticket_id=d.ticket_id,
                               reason=d.reason)
    else:
        log.warning("incident event from another producer ignored", type=env.type, source=env.source,
                    incident_id=d.incident_id)
