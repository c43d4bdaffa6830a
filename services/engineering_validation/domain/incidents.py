"""Incident rules: which open incident an alert joins, allowed status changes, severity, incident ids."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta

from shared.contracts import IncidentStatus, Severity, Signal, propose_severity

from .model import CandidateView, Evidence

OPEN_STATUSES = (IncidentStatus.INVESTIGATING, IncidentStatus.IDENTIFIED, IncidentStatus.MONITORING)


class TransitionError(ValueError):
    """A status or merge change the lifecycle does not allow."""


@dataclass(frozen=True)
class IncidentView:
    id: str
    product: str
    signal: Signal | None
    status: IncidentStatus
    opened_from: str
    created_at: datetime
    merged_into: str | None = None
    alert_signals: frozenset[Signal] = frozenset()  # signals of the alerts attached to it

    @property
    def is_open(self) -> bool:
        return self.merged_into is None and self.status in OPEN_STATUSES


def incident_id_for(candidate_id: str) -> str:
    """The incident a candidate opens: deterministic, so a retried decision yields the same id."""
    return "INC-" + hashlib.sha256(candidate_id.encode()).hexdigest()[:12]


def match_incident(product: str, signal: Signal, incidents: list[IncidentView], *, any_signal_since: datetime | None
                   = None) -> IncidentView | None:
    """The open incident an alert of (product, signal) joins: same signal (its own, or of an attached alert),
    or else one opened from tickets (no signal).

    `any_signal_since` (multi-signal confirmations) also accepts any incident of the product opened since then.
    """
    mine = [i for i in incidents if i.is_open and i.product == product]
    for pick in (
        lambda i: i.signal == signal or signal in i.alert_signals,
        lambda i: i.signal is None,
        lambda i: any_signal_since is not None and i.created_at >= any_signal_since,
    ):
        found = sorted((i for i in mine if pick(i)), key=lambda i: i.created_at)
        if found:
            return found[0]
    return None


def propose(c: CandidateView, ev: Evidence) -> Severity:
    """Severity from the candidate's worst alert, the signals firing and the tickets."""
    return propose_severity(alert_severity=c.worst_severity.value, signals=len(ev.firing_signals | {c.signal}),
                            organisations=ev.organisations, tickets=ev.tickets, urgent_tickets=ev.urgent_tickets)


def check_status_change(current: IncidentStatus, new: IncidentStatus) -> None:
    """Open statuses may move freely among themselves; resolved is terminal and reached only by resolving."""
    if current == IncidentStatus.RESOLVED:
        raise TransitionError("incident is resolved")
    if new == IncidentStatus.RESOLVED:
        raise TransitionError("use POST /v1/incidents/{id}/resolve to resolve")
    if new == current:
        raise TransitionError(f"incident is already {current}")


def check_merge(source: IncidentView, target: IncidentView) -> None:
    """Both incidents open and distinct."""
    if source.id == target.id:
        raise TransitionError("an incident cannot be merged into itself")
    if not source.is_open:
        raise TransitionError(f"{source.id} is not open")
    if not target.is_open:
        raise TransitionError(f"{target.id} is not open")


def auto_resolve_due(resolved_at: list[datetime | None], quiet_s: float) -> datetime | None:
    """When an incident whose alerts all resolved may be resolved automatically (None: some still firing)."""
    if not resolved_at or any(r is None for r in resolved_at):
        return None
    return max(r for r in resolved_at if r is not None) + timedelta(seconds=quiet_s)
