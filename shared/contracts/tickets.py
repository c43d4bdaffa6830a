"""Ticket contracts: the normalised ticket and the triage decision on tickets.triaged."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import ClassVar

from pydantic import BaseModel, ConfigDict, Field

from .envelope import TYPE_PREFIX, Contract


class TriageOutcome(StrEnum):
    LINKED = "linked"  # part of an existing incident
    NEW_INCIDENT = "new_incident"  # a new service problem: an incident was opened
    STANDARD_SUPPORT = "standard_support"  # not a service incident


class TicketRef(BaseModel):
    """What downstream needs to know about a ticket to talk to its requester (no e-mail addresses)."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    ticket_id: str = Field(examples=["35436"])
    source: str = Field("zendesk", examples=["zendesk"])
    subject: str = Field("", max_length=1024)
    organization_id: str | None = None
    requester_id: str | None = None
    locale: str | None = Field(None, description="Language of the ticket (en, es, ...), where known.", examples=["en"])
    product: str | None = None
    priority: str | None = Field(None, examples=["high"])


class TicketTriaged(Contract):
    """tickets.triaged, key = ticket id: exactly one decision per ticket (overrides follow as new decisions)."""

    event_type: ClassVar[str] = TYPE_PREFIX + "ticket.triaged.v1"
    ticket: TicketRef
    outcome: TriageOutcome
    incident_id: str | None = None
    reason: str = Field(examples=["matches open incident INC-... (score 0.62)"])
    score: float = Field(0.0, description="Match or problem score behind the decision.")
    features: dict[str, float] = Field(default_factory=dict, description="The weighted features that decided it.")
    decided_by: str = Field("triage", description="'triage' or the agent who overrode it.")
    decided_at: datetime | None = None
    override: bool = False
