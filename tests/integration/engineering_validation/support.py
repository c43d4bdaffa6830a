"""Helpers for engineering-validation integration tests: settings on a stack slice, events in, events out."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

from services.engineering_validation.app import create_app
from services.engineering_validation.settings import Settings
from shared.auth import create_token
from shared.contracts import (
    AlertChange, AlertStateChanged, CanonicalAlert, IncidentOpened, Severity, TicketLinked, TicketRef,
    TicketTriaged, TriageOutcome, encode, make_event,
)
from tests.support.kafka import KafkaTestClient, unique
from tests.support.services import RunningApp, run_in_process


def settings(stack: Any, **overrides: Any) -> Settings:
    """Settings on a stack slice, with test-sized cadences."""
    base: dict[str, Any] = {"database_url": stack.database_url, "kafka": stack.kafka, "relay_poll_interval_s": 0.2,
                            "timer_poll_interval_s": 0.05, "escalate_after_s": 3600, "transient_window_s": 30,
                            "log_json": True, "log_level": "WARNING"}
    return Settings(**{**base, **overrides})


@contextlib.asynccontextmanager
async def running(stack: Any, **overrides: Any) -> AsyncIterator[RunningApp]:
    async with run_in_process(create_app(settings(stack, **overrides))) as app:
        yield app


async def token(app: RunningApp, team: str) -> dict[str, str]:
    """Authorization header for a fresh token of `team`."""
    async with app.pool.acquire() as conn:
        tok = await create_token(conn, name=unique("eng-"), team=team)
    return {"Authorization": f"Bearer {tok}"}


def product() -> str:
    """A product name of its own, so tests sharing a slice never see each other's candidates."""
    return unique("P")


def alert_event(fp: str, product: str, *, signal: str = "error_rate", severity: str = "critical",
                status: str = "firing", change: str | None = None, event_id: str | None = None) -> bytes:
    change = change or ("first_firing" if status == "firing" else "resolved")
    alert = CanonicalAlert(id=f"{fp}-1", fingerprint=fp, product=product, signal=signal, status=status,
                           severity=severity, summary=f"{product} {signal} {severity}", starts_at=datetime.now(UTC),
                           source="native")
    data = AlertStateChanged(change=AlertChange(change), alert=alert)
    return encode(make_event(data, source="/services/alert-ingest", subject=fp, event_id=event_id))


async def send_alert(kafka: KafkaTestClient, stack: Any, fp: str, product: str, **kw: Any) -> None:
    await kafka.produce(stack.topics.alerts_state, alert_event(fp, product, **kw), key=fp)


async def send_ticket(kafka: KafkaTestClient, stack: Any, product: str | None, *, outcome: str = "new_incident",
                      ticket_id: str | None = None, incident_id: str | None = None) -> str:
    ticket_id = ticket_id or unique("T")
    data = TicketTriaged(ticket=TicketRef(ticket_id=ticket_id, product=product, organization_id=unique("org")),
                         outcome=TriageOutcome(outcome), incident_id=incident_id, reason="test")
    await kafka.produce(stack.topics.tickets_triaged, encode(make_event(data, source="/services/ticket-triage")),
                        key=ticket_id)
    return ticket_id


async def send_triage_incident(kafka: KafkaTestClient, stack: Any, product: str, ticket_ids: list[str], *,
                               incident_id: str | None = None) -> str:
    """ticket-triage opens an incident from tickets and links them (same key, so in order)."""
    incident_id = incident_id or unique("INC-")
    events = [IncidentOpened(incident_id=incident_id, title=f"{product}: customers report errors", product=product,
                             severity=Severity.SEV3, opened_from="tickets")]
    events += [TicketLinked(incident_id=incident_id, ticket=TicketRef(ticket_id=t, product=product),
                            link_reason="new_incident") for t in ticket_ids]
    for data in events:
        env = make_event(data, source="/services/ticket-triage", subject=incident_id)
        await kafka.produce(stack.topics.incidents_updates, encode(env), key=incident_id)
    return incident_id


def about(events: list[dict[str, Any]], *, product: str | None = None, incident: str | None = None,
          type_suffix: str = "") -> list[dict[str, Any]]:
    """Events of one test (by product or incident id), optionally of one type (suffix of the CE type)."""
    out = []
    for e in events:
        d = e["data"]
        if product is not None and d.get("product") != product:
            continue
        if incident is not None and d.get("incident_id") != incident:
            continue
        if type_suffix and not e["type"].endswith(type_suffix):
            continue
        out.append(e)
    return out


async def validated(kafka: KafkaTestClient, stack: Any, product: str, n: int = 1, timeout: float = 20,
                    type_suffix: str = "alert.validated.v1") -> list[dict[str, Any]]:
    """Wait for `n` events on alerts.validated about the product."""
    events = await kafka.read_json(stack.topics.alerts_validated, timeout=timeout,
                                   until=lambda es: len(about(es, product=product, type_suffix=type_suffix)) >= n)
    return about(events, product=product, type_suffix=type_suffix)


async def incident_events(kafka: KafkaTestClient, stack: Any, until: Any, timeout: float = 20) -> list[dict]:
    """Read incidents.updates until `until(events)` holds, returning all events."""
    return await kafka.read_json(stack.topics.incidents_updates, until=until, timeout=timeout)


async def send_ticket_link(kafka: KafkaTestClient, stack: Any, incident_id: str, ticket_id: str,
                           reason: str = "late_link") -> None:
    """ticket-triage links a ticket to an incident."""
    data = TicketLinked(incident_id=incident_id, ticket=TicketRef(ticket_id=ticket_id), link_reason=reason)
    env = make_event(data, source="/services/ticket-triage", subject=incident_id)
    await kafka.produce(stack.topics.incidents_updates, encode(env), key=incident_id)
