"""Incident events on incidents.updates, keyed by incident id so one incident's events stay in order."""

from __future__ import annotations

from enum import StrEnum
from typing import ClassVar, Literal

from pydantic import Field

from .alerts import Signal
from .envelope import TYPE_PREFIX, Contract, EventRegistry
from .severity import Severity
from .tickets import TicketRef


class IncidentStatus(StrEnum):
    INVESTIGATING = "investigating"
    IDENTIFIED = "identified"
    MONITORING = "monitoring"
    RESOLVED = "resolved"


class _IncidentEvent(Contract):
    incident_id: str = Field(description="Incident id (also the Kafka key).", examples=["INC-7d3f9a2c"])


class IncidentOpened(_IncidentEvent):
    event_type: ClassVar[str] = TYPE_PREFIX + "incident.opened.v1"
    title: str = Field(max_length=512, examples=["Chat: error rate elevated"])
    product: str = Field(examples=["Chat"])
    signal: Signal | None = Field(None, description="Main signal, when opened from alerts.")
    severity: Severity
    status: IncidentStatus = IncidentStatus.INVESTIGATING
    opened_from: Literal["alerts", "tickets", "engineer"] = Field(examples=["alerts"])
    team: str | None = Field(None, examples=["chat-eng"])
    summary: str = Field("", max_length=4096)
    public_message: str = Field("", max_length=4096, description="First public status text for customers.")


class AlertAttached(_IncidentEvent):
    event_type: ClassVar[str] = TYPE_PREFIX + "incident.alert_attached.v1"
    fingerprint: str
    signal: Signal
    summary: str = ""


class SeverityChanged(_IncidentEvent):
    event_type: ClassVar[str] = TYPE_PREFIX + "incident.severity_changed.v1"
    previous: Severity
    severity: Severity
    changed_by: str = ""


class StatusChanged(_IncidentEvent):
    event_type: ClassVar[str] = TYPE_PREFIX + "incident.status_changed.v1"
    previous: IncidentStatus
    status: IncidentStatus
    changed_by: str = ""
    update_id: str | None = Field(
        None, description="Set when the change came with a public status update (StatusUpdatePosted with this "
                          "id follows and carries the new status): customers hear it once, with the update.")


class StatusUpdatePosted(_IncidentEvent):
    """A public status message written by an engineer; every linked customer receives it."""

    event_type: ClassVar[str] = TYPE_PREFIX + "incident.status_update_posted.v1"
    update_id: str
    message: str = Field(max_length=8192)
    status: IncidentStatus
    author: str = ""


class IncidentMerged(_IncidentEvent):
    """`incident_id` was folded into `into_incident_id`; its tickets and alerts moved there."""

    event_type: ClassVar[str] = TYPE_PREFIX + "incident.merged.v1"
    into_incident_id: str
    ticket_ids: list[str] = Field(default_factory=list)
    fingerprints: list[str] = Field(default_factory=list)
    merged_by: str = ""


class IncidentResolved(_IncidentEvent):
    event_type: ClassVar[str] = TYPE_PREFIX + "incident.resolved.v1"
    message: str = Field("", max_length=8192, description="Public resolution text.")
    resolved_by: str = ""


class TicketLinked(_IncidentEvent):
    event_type: ClassVar[str] = TYPE_PREFIX + "incident.ticket_linked.v1"
    ticket: TicketRef
    link_reason: Literal["triage", "late_link", "override", "merge", "new_incident"] = "triage"


class TicketUnlinked(_IncidentEvent):
    event_type: ClassVar[str] = TYPE_PREFIX + "incident.ticket_unlinked.v1"
    ticket_id: str
    reason: str = ""


INCIDENT_EVENTS = EventRegistry(
    IncidentOpened, AlertAttached, SeverityChanged, StatusChanged, StatusUpdatePosted,
    IncidentMerged, IncidentResolved, TicketLinked, TicketUnlinked,
)
