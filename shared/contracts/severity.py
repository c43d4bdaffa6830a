"""The severity scale: SEV-1 (critical) to SEV-4 (low), with criteria and the status-update cadence.

Services propose a severity from evidence with `propose_severity`; engineers may change it. The notifier
keeps each incident's cadence (defaults below, overridable by configuration).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Severity(StrEnum):
    SEV1 = "SEV-1"
    SEV2 = "SEV-2"
    SEV3 = "SEV-3"
    SEV4 = "SEV-4"

    @property
    def rank(self) -> int:
        """1 is the most severe."""
        return int(self.value[-1])


@dataclass(frozen=True)
class SeverityLevel:
    severity: Severity
    name: str
    criteria: str
    update_every_minutes: int | None  # None: no periodic updates


SCALE: dict[Severity, SeverityLevel] = {
    Severity.SEV1: SeverityLevel(
        Severity.SEV1, "critical",
        "Product down or unusable for most customers: availability lost, or a critical alert confirmed, "
        "or tickets from 10+ organisations within the window.", 30),
    Severity.SEV2: SeverityLevel(
        Severity.SEV2, "major",
        "A core feature broken or badly degraded for many customers: error rate or latency critical/error "
        "alerts, two or more signals at once, or tickets from 5+ organisations or 3+ urgent tickets.", 60),
    Severity.SEV3: SeverityLevel(
        Severity.SEV3, "minor",
        "Partial degradation for some customers: warning alerts, or tickets from 2-4 organisations.", 240),
    Severity.SEV4: SeverityLevel(
        Severity.SEV4, "low",
        "Cosmetic or low-impact problem, a single customer or an info-level signal.", None),
}

DEFAULT_CADENCE_MINUTES = {s: lvl.update_every_minutes for s, lvl in SCALE.items()}

#: alert severity -> incident severity before corroborating evidence is considered
_ALERT_TO_SEV = {"critical": Severity.SEV1, "error": Severity.SEV2, "warning": Severity.SEV3, "info": Severity.SEV4}


def propose_severity(*, alert_severity: str | None = None, signals: int = 0, organisations: int = 0,
                     tickets: int = 0, urgent_tickets: int = 0) -> Severity:
    """Propose a severity from the evidence at hand (alerts and/or tickets); the most severe criterion wins."""
    candidates = [Severity.SEV4]
    if alert_severity:
        candidates.append(_ALERT_TO_SEV.get(alert_severity, Severity.SEV4))
    if signals >= 2:
        candidates.append(Severity.SEV2)
    if organisations >= 10:
        candidates.append(Severity.SEV1)
    elif organisations >= 5 or urgent_tickets >= 3:
        candidates.append(Severity.SEV2)
    elif organisations >= 2 or tickets >= 3 or urgent_tickets >= 1:
        candidates.append(Severity.SEV3)
    return min(candidates, key=lambda s: s.rank)
