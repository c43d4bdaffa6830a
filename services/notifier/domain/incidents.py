"""The notifier's view of an incident and what each incident event means for the customers linked to it.

Pure: no Kafka, no SQL, no clock. `decide` takes the current view and one event and returns the new view
plus the communication it calls for; the service layer stores both in one transaction.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any, Literal

from shared.contracts import (
    IncidentMerged, IncidentOpened, IncidentResolved, SeverityChanged, StatusChanged, StatusUpdatePosted,
    TicketLinked, TicketRef, TicketUnlinked,
)

DEFAULT_TEAMS = {"Support": "support-eng", "Guide": "guide-eng", "Chat": "chat-eng", "Talk": "talk-eng"}

ScheduleAction = Literal["keep", "reset", "end"]


@dataclass(frozen=True)
class Incident:
    """What the notifier remembers about an incident."""

    incident_id: str
    product: str | None = None
    title: str = ""
    team: str | None = None
    severity: str | None = None
    status: str = "investigating"
    latest_update: str = ""
    merged_into: str | None = None
    resolved: bool = False

    @property
    def open(self) -> bool:
        return not self.resolved and self.merged_into is None


@dataclass(frozen=True)
class Broadcast:
    """One comment to every ticket actively linked to the incident; `key` makes it unique per update."""

    kind: Literal["update", "status", "resolved"]
    key: str
    message: str = ""


@dataclass(frozen=True)
class Decision:
    incident: Incident
    broadcast: Broadcast | None = None
    link: TicketRef | None = None  # link this ticket and tell it the current status (once per incident, ticket)
    unlink: str | None = None
    move_links_to: str | None = None  # merged: move every active link to this incident
    schedule: ScheduleAction = "keep"


def decide(current: Incident | None, data: Any, *, event_id: str) -> Decision:
    """Apply one incident event to the view; return the new view and the communication it calls for."""
    inc = current or Incident(incident_id=data.incident_id)
    match data:
        case IncidentOpened():
            inc = replace(inc, product=data.product, title=data.title, severity=str(data.severity),
                          status=str(data.status), team=data.team or DEFAULT_TEAMS.get(data.product),
                          latest_update=data.public_message or inc.latest_update)
            return Decision(inc, schedule="reset")
        case SeverityChanged():
            return Decision(replace(inc, severity=str(data.severity)), schedule="keep")
        case StatusChanged():
            inc = replace(inc, status=str(data.status))
            if data.status == "resolved" or not inc.open or data.update_id:
                # IncidentResolved carries the resolution message; an update that came with the change
                # (StatusUpdatePosted, same update_id) tells customers the new status: one comment, not two.
                return Decision(inc)
            return Decision(inc, Broadcast("status", f"status:{event_id}"), schedule="reset")
        case StatusUpdatePosted():
            inc = replace(inc, status=str(data.status), latest_update=data.message)
            if not inc.open:
                return Decision(inc)
            return Decision(inc, Broadcast("update", f"update:{data.update_id}", data.message), schedule="reset")
        case IncidentResolved():
            inc = replace(inc, status="resolved", resolved=True, latest_update=data.message or inc.latest_update)
            return Decision(inc, Broadcast("resolved", "resolved", data.message), schedule="end")
        case IncidentMerged():
            return Decision(replace(inc, merged_into=data.into_incident_id), move_links_to=data.into_incident_id,
                            schedule="end")
        case TicketLinked():
            return Decision(inc, link=data.ticket)
        case TicketUnlinked():
            return Decision(inc, unlink=data.ticket_id)
    return Decision(inc)  # AlertAttached and others change nothing customers see
