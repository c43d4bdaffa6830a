"""Alert contracts: the canonical alert, and the events on alerts.state and alerts.validated."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field

from .envelope import TYPE_PREFIX, Contract
from .severity import Severity


class Signal(StrEnum):
    LATENCY = "latency"
    ERROR_RATE = "error_rate"
    TRAFFIC_VOLUME = "traffic_volume"
    AVAILABILITY = "availability"
    SATURATION = "saturation"
    OTHER = "other"


class AlertSeverity(StrEnum):
    CRITICAL = "critical"
    ERROR = "error"
    WARNING = "warning"
    INFO = "info"

    @property
    def rank(self) -> int:
        """0 is the most severe."""
        return ["critical", "error", "warning", "info"].index(self.value)


class AlertStatus(StrEnum):
    FIRING = "firing"
    RESOLVED = "resolved"


class SourceTool(StrEnum):
    ALERTMANAGER = "alertmanager"
    PAGERDUTY = "pagerduty"
    NATIVE = "native"


class CanonicalAlert(BaseModel):
    """One alert, whatever tool sent it, normalised."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str = Field(description="Id of this alert occurrence (stable per fingerprint and firing episode).")
    fingerprint: str = Field(description="Stable identity used for de-duplication.", examples=["a1b2c3d4e5f60718"])
    product: str = Field(description="Affected product.", examples=["Chat"])
    signal: Signal = Field(examples=["error_rate"])
    status: AlertStatus = Field(examples=["firing"])
    severity: AlertSeverity = Field(examples=["critical"])
    summary: str = Field(max_length=1024, examples=["Chat API 5xx rate above 5%"])
    description: str = Field("", max_length=16384)
    labels: dict[str, str] = Field(default_factory=dict, examples=[{"alertname": "HighErrorRate", "service": "chat-api"}])
    annotations: dict[str, str] = Field(default_factory=dict)
    starts_at: datetime
    ends_at: datetime | None = None
    source: SourceTool = Field(examples=["alertmanager"])
    source_url: str | None = Field(None, description="Link back to the alert in the tool that raised it.")
    value: float | None = Field(None, description="Observed value, where the tool sent one.")
    threshold: float | None = None


class AlertChange(StrEnum):
    FIRST_FIRING = "first_firing"
    RESOLVED = "resolved"
    REFIRED = "refired"
    SEVERITY_RAISED = "severity_raised"
    FLAPPING = "flapping"
    FLAPPING_ENDED = "flapping_ended"


class AlertStateChanged(Contract):
    """alerts.state, key = fingerprint: alert-ingest tells engineering-validation an alert changed state.

    Repeats of a firing alert are not sent; only state changes are.
    """

    event_type: ClassVar[str] = TYPE_PREFIX + "alert.state_changed.v1"
    change: AlertChange = Field(examples=["first_firing"])
    alert: CanonicalAlert
    occurrences: int = Field(1, ge=1, description="How many times this fingerprint was received so far.")
    flapping: bool = Field(False, description="True while the alert flips faster than the configured limit.")


class Decider(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    kind: Literal["policy", "engineer"] = Field(examples=["policy"])
    name: str = Field(description="Policy name or engineer's identity.", examples=["critical_still_firing"])


class AlertValidated(Contract):
    """alerts.validated, key = candidate id: the owning team's decision on a candidate problem."""

    event_type: ClassVar[str] = TYPE_PREFIX + "alert.validated.v1"
    candidate_id: str
    decision: Literal["confirmed", "dismissed"] = Field(examples=["confirmed"])
    product: str = Field(examples=["Chat"])
    signal: Signal
    team: str = Field(examples=["chat-eng"])
    decided_by: Decider
    reason: str = Field(examples=["critical alert still firing after 0s"])
    severity: Severity | None = Field(None, description="Incident severity, when confirmed.")
    incident_id: str | None = Field(None, description="The incident opened or joined, when confirmed.")
    fingerprints: list[str] = Field(default_factory=list, description="Alerts grouped into this candidate.")


class ValidationEscalated(Contract):
    """alerts.validated, key = candidate id: a candidate stayed pending too long; the team must look."""

    event_type: ClassVar[str] = TYPE_PREFIX + "validation.escalated.v1"
    candidate_id: str
    product: str
    signal: Signal
    team: str
    pending_since: datetime
    summary: str
