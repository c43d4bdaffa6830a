"""Every event the pipeline produces, versioned, in one place (see docs/events.md)."""

from .alerts import (
    AlertChange, AlertSeverity, AlertStateChanged, AlertStatus, AlertValidated, CanonicalAlert, Decider,
    Signal, SourceTool, ValidationEscalated,
)
from .envelope import (
    CONTENT_TYPE, Contract, Envelope, EventRegistry, deterministic_id, encode, make_event, utcnow,
)
from .incidents import (
    INCIDENT_EVENTS, AlertAttached, IncidentMerged, IncidentOpened, IncidentResolved, IncidentStatus,
    SeverityChanged, StatusChanged, StatusUpdatePosted, TicketLinked, TicketUnlinked,
)
from .severity import SCALE, Severity, SeverityLevel, propose_severity
from .tickets import TicketRef, TicketTriaged, TriageOutcome

ALERT_STATE_EVENTS = EventRegistry(AlertStateChanged)
VALIDATION_EVENTS = EventRegistry(AlertValidated, ValidationEscalated)
TRIAGE_EVENTS = EventRegistry(TicketTriaged)

__all__ = [
    "ALERT_STATE_EVENTS", "CONTENT_TYPE", "INCIDENT_EVENTS", "SCALE", "TRIAGE_EVENTS", "VALIDATION_EVENTS",
    "AlertAttached", "AlertChange", "AlertSeverity", "AlertStateChanged", "AlertStatus", "AlertValidated",
    "CanonicalAlert", "Contract", "Decider", "Envelope", "EventRegistry", "IncidentMerged", "IncidentOpened",
    "IncidentResolved", "IncidentStatus", "Severity", "SeverityChanged", "SeverityLevel", "Signal", "SourceTool",
    "StatusChanged", "StatusUpdatePosted", "TicketLinked", "TicketRef", "TicketTriaged", "TicketUnlinked",
    "TriageOutcome", "ValidationEscalated", "deterministic_id", "encode", "make_event", "propose_severity",
    "utcnow",
]
