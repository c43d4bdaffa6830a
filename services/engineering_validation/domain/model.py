"""Plain values the decision logic works on: candidates, their alerts, the evidence around them."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

from shared.contracts import AlertSeverity, Signal


@dataclass(frozen=True)
class AlertView:
    fingerprint: str
    severity: AlertSeverity
    firing: bool
    fired_at: datetime
    resolved_at: datetime | None = None


@dataclass(frozen=True)
class CandidateView:
    id: str
    product: str
    signal: Signal
    team: str
    created_at: datetime
    alerts: tuple[AlertView, ...]
    status: str = "pending"

    @property
    def worst_severity(self) -> AlertSeverity:
        """The most severe alert of the candidate."""
        return min((a.severity for a in self.alerts), key=lambda s: s.rank, default=AlertSeverity.INFO)


@dataclass(frozen=True)
class Silence:
    """A declared maintenance window or silence; `mode` says whether candidates are held or dismissed."""

    id: str
    product: str
    signal: Signal | None
    mode: Literal["hold", "dismiss"]
    starts_at: datetime
    ends_at: datetime
    reason: str = ""

    def covers(self, product: str, signal: Signal, now: datetime) -> bool:
        return (self.product == product and self.signal in (None, signal)
                and self.starts_at <= now < self.ends_at)


@dataclass(frozen=True)
class Evidence:
    """What else is known about the product right now (computed by the store for a window)."""

    firing_signals: frozenset[Signal] = frozenset()
    corroborating_tickets: int = 0  # triaged linked / new_incident
    tickets: int = 0
    organisations: int = 0
    urgent_tickets: int = 0
    silences: tuple[Silence, ...] = ()
    #: earliest corroborating ticket naming an incident not mirrored yet (ticket-triage's IncidentOpened is
    #: on another topic, so it may arrive after the ticket)
    awaiting_incident_since: datetime | None = None


@dataclass(frozen=True)
class Decision:
    outcome: Literal["confirmed", "dismissed"]
    policy: str
    reason: str


@dataclass(frozen=True)
class Verdict:
    """A decision now, and/or when to look again (a durable timer)."""

    decision: Decision | None = None
    wake_at: datetime | None = None
    held_by: Silence | None = field(default=None)
