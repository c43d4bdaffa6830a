"""Helpers for ticket-triage integration tests: settings on an isolated stack, tickets, incident events."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import orjson

from services.ticket_triage.domain.policy import TriagePolicy
from services.ticket_triage.settings import Settings
from shared.contracts import IncidentMerged, IncidentOpened, Severity, encode, make_event
from tests.support.kafka import unique
from tests.support.services import free_port

SECRET = "test-signing-secret"


def settings(stack: Any, **policy: Any) -> Settings:
    return Settings(database_url=stack.database_url, kafka=stack.kafka, http_port=free_port(),
                    zendesk_signing_secret=SECRET, relay_poll_interval_s=0.1, db_pool_max=4,
                    policy=TriagePolicy(**policy))


def native(subject: str, description: str, *, org: str | None = None, product: str | None = None,
           priority: str = "normal", ticket_id: str | None = None, created_at: datetime | None = None) -> dict:
    return {"ticket_id": ticket_id or unique("T"), "subject": subject, "description": description,
            "organization": org or unique("org"), "requester": unique("u"), "product": product,
            "priority": priority, "created_at": (created_at or datetime.now(UTC)).isoformat()}


def zendesk(subject: str, description: str, *, priority: str = "HIGH", tags: list[str] | None = None) -> dict:
    tid = str(int(unique("")[:8], 16))
    now = datetime.now(UTC).isoformat()
    return {"type": "zen:event-type:ticket.created", "account_id": 1, "id": unique("evt"), "time": now,
            "zendesk_event_version": "2022-11-06", "subject": f"zen:ticket:{tid}",
            "detail": {"id": tid, "subject": subject, "description": description, "status": "NEW",
                       "priority": priority, "type": "INCIDENT", "tags": tags or [], "requester_id": "42",
                       "organization_id": unique("org"), "brand_id": "1", "group_id": "2", "form_id": "3",
                       "created_at": now, "via": {"channel": "WEB"}}}


def incident_opened(incident_id: str, product: str, title: str, summary: str = "", signal: str | None = None) -> bytes:
    data = IncidentOpened(incident_id=incident_id, title=title, product=product, severity=Severity.SEV2,
                          opened_from="alerts", summary=summary, signal=signal)
    return encode(make_event(data, source="/services/engineering-validation", subject=incident_id))


def incident_merged(source_id: str, into: str) -> bytes:
    data = IncidentMerged(incident_id=source_id, into_incident_id=into)
    return encode(make_event(data, source="/services/engineering-validation", subject=source_id))


def inc_id() -> str:
    return "INC-" + unique("")[:12].ljust(12, "0")


def of_type(events: list[dict], suffix: str, **match: Any) -> list[dict]:
    """Events whose type ends with `suffix` and whose data has the given values (ticket_id looks in data.ticket)."""
    out = []
    for e in events:
        if not e["type"].endswith(suffix):
            continue
        d = e["data"]
        tid = d.get("ticket", {}).get("ticket_id", d.get("ticket_id"))
        if all((tid if k == "ticket_id" else d.get(k)) == v for k, v in match.items()):
            out.append(e)
    return out


def dumps(doc: dict) -> bytes:
    return orjson.dumps(doc)
