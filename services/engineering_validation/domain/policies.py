"""Automatic validation policies: candidate state + evidence + now -> a decision or when to look again."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from shared.contracts import AlertSeverity

from .model import CandidateView, Decision, Evidence, Verdict


@dataclass(frozen=True)
class PolicyConfig:
    critical_policy: bool = True
    critical_delay_s: float = 0
    multi_signal_min: int = 2
    ticket_min: int = 3
    ticket_linked_confirms: bool = True
    transient_window_s: float = 120
    mirror_grace_s: float = 2


def evaluate(c: CandidateView, ev: Evidence, now: datetime, cfg: PolicyConfig) -> Verdict:
    """Apply the policies in order: silence, transient, critical still firing, multi-signal, tickets."""
    if c.status != "pending":
        return Verdict()
    silence = next((s for s in ev.silences if s.covers(c.product, c.signal, now)), None)
    if silence is not None and silence.mode == "dismiss":
        return Verdict(Decision("dismissed", "maintenance_window",
                                f"silenced until {silence.ends_at.isoformat()}: {silence.reason}".rstrip(": ")))
    transient = _transient(c, cfg)
    if transient:
        return Verdict(transient)
    if silence is not None:  # hold: nothing automatic until the silence ends
        return Verdict(wake_at=silence.ends_at, held_by=silence)
    wake_at: datetime | None = None
    if cfg.critical_policy:
        due = _critical_due(c, cfg)
        if due is not None and due <= now:
            return Verdict(Decision("confirmed", "critical_still_firing",
                                    f"critical alert still firing after {cfg.critical_delay_s:g}s"))
        wake_at = due
    firing = [a for a in c.alerts if a.firing]
    if firing and cfg.multi_signal_min >= 2 and len(ev.firing_signals | {c.signal}) >= cfg.multi_signal_min:
        names = ", ".join(sorted(ev.firing_signals | {c.signal}))
        return Verdict(Decision("confirmed", "multi_signal", f"{len(ev.firing_signals | {c.signal})} signals "
                                                             f"firing for {c.product}: {names}"))
    if firing and cfg.ticket_linked_confirms and ev.corroborating_tickets >= 1:
        if ev.awaiting_incident_since is not None:  # wait briefly for that incident, to join it
            grace_end = ev.awaiting_incident_since + timedelta(seconds=cfg.mirror_grace_s)
            if now < grace_end:
                return Verdict(wake_at=min(grace_end, wake_at or grace_end))
        return Verdict(Decision("confirmed", "ticket_corroboration", f"{ev.corroborating_tickets} customer "
                                f"ticket(s) triaged as an incident for {c.product}"))
    if firing and cfg.ticket_min > 0 and ev.tickets >= cfg.ticket_min:
        return Verdict(Decision("confirmed", "ticket_corroboration",
                                f"{ev.tickets} customer tickets triaged for {c.product}"))
    return Verdict(wake_at=wake_at)


def _critical_due(c: CandidateView, cfg: PolicyConfig) -> datetime | None:
    """When the earliest still-firing critical alert has been firing for the delay."""
    crit = [a.fired_at for a in c.alerts if a.firing and a.severity == AlertSeverity.CRITICAL]
    return min(crit) + timedelta(seconds=cfg.critical_delay_s) if crit else None


def _transient(c: CandidateView, cfg: PolicyConfig) -> Decision | None:
    """Every alert resolved, each within the transient window of firing."""
    if not c.alerts or any(a.firing or a.resolved_at is None for a in c.alerts):
        return None
    window = timedelta(seconds=cfg.transient_window_s)
    if all(a.resolved_at - a.fired_at <= window for a in c.alerts):  # type: ignore[operator]
        return Decision("dismissed", "transient", f"resolved within {cfg.transient_window_s:g}s before validation")
    return None

