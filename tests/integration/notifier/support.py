"""Helpers for the notifier's integration tests: settings on the test's slice, and incident events."""

from __future__ import annotations

import base64
from typing import Any

from services.notifier.settings import Settings
from shared.contracts import (
    IncidentMerged, IncidentOpened, IncidentResolved, Severity, SeverityChanged, StatusChanged, StatusUpdatePosted,
    TicketLinked, TicketRef, TicketUnlinked, encode, make_event,
)
from tests.support.kafka import unique
from tests.support.services import free_port

SECRET = "whsec_" + base64.b64encode(b"notifier-test-secret-0123456789ab").decode()
TOKEN = "zd-test-token"
SRC = "/services/engineering-validation"


def settings(stack: Any, zendesk_url: str, **over: Any) -> Settings:
    """Notifier settings on the test's slice, with short cadences and delays."""
    base: dict[str, Any] = dict(
        database_url=stack.database_url, kafka=stack.kafka, http_port=free_port(),
        zendesk_base_url=zendesk_url, zendesk_api_token=TOKEN, zendesk_email="notifier@example.com",
        zendesk_rate_limit_per_minute=60_000, zendesk_job_poll_interval_s=0.05, webhook_allowed_hosts="127.0.0.1",
        sender_poll_interval_s=0.05, scheduler_poll_interval_s=0.1, backoff_base_s=0.05, backoff_max_s=0.3,
        relay_poll_interval_s=0.2, http_timeout_s=2.0, cadence_seconds={"SEV-1": 3600, "SEV-2": 3600},
    )
    base.update(over)
    return Settings(**base)


def incident_id() -> str:
    return "INC-" + unique("")[:12].ljust(12, "0")


def ev(data: Any, source: str = SRC) -> bytes:
    return encode(make_event(data, source=source, subject=data.incident_id))


def opened(inc: str, *, severity: str = "SEV-2", product: str = "Chat", message: str = "We are investigating.",
           title: str = "Chat: messages delayed") -> bytes:
    return ev(IncidentOpened(incident_id=inc, title=title, product=product, severity=Severity(severity),
                             opened_from="alerts", public_message=message))


def linked(inc: str, ticket: str, *, locale: str | None = "en", reason: str = "triage") -> bytes:
    return ev(TicketLinked(incident_id=inc, ticket=TicketRef(ticket_id=ticket, locale=locale), link_reason=reason),
              source="/services/ticket-triage")


def unlinked(inc: str, ticket: str) -> bytes:
    return ev(TicketUnlinked(incident_id=inc, ticket_id=ticket), source="/services/ticket-triage")


def posted(inc: str, message: str, *, status: str = "identified", update_id: str | None = None) -> bytes:
    return ev(StatusUpdatePosted(incident_id=inc, update_id=update_id or unique("u"), message=message,
                                 status=status))


def status_changed(inc: str, previous: str, status: str) -> bytes:
    return ev(StatusChanged(incident_id=inc, previous=previous, status=status))


def severity_changed(inc: str, previous: str, severity: str) -> bytes:
    return ev(SeverityChanged(incident_id=inc, previous=Severity(previous), severity=Severity(severity)))


def resolved(inc: str, message: str = "Fixed.") -> bytes:
    return ev(IncidentResolved(incident_id=inc, message=message))


def merged(inc: str, into: str) -> bytes:
    return ev(IncidentMerged(incident_id=inc, into_incident_id=into))
