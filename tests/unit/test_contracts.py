"""Every event model survives a round trip through the bytes put on Kafka, and rejects what it must."""

from __future__ import annotations

from datetime import UTC, datetime

import orjson
import pytest
from pydantic import ValidationError

from shared.contracts import (
    ALERT_STATE_EVENTS, INCIDENT_EVENTS, TRIAGE_EVENTS, VALIDATION_EVENTS, AlertAttached, AlertChange,
    AlertStateChanged, AlertValidated, CanonicalAlert, Decider, IncidentMerged, IncidentOpened,
    IncidentResolved, IncidentStatus, Severity, SeverityChanged, StatusChanged, StatusUpdatePosted,
    TicketLinked, TicketRef, TicketTriaged, TicketUnlinked, TriageOutcome, ValidationEscalated, encode,
    make_event, propose_severity,
)

NOW = datetime(2026, 12, 3, 12, 0, tzinfo=UTC)
ALERT = CanonicalAlert(id="a1", fingerprint="fp1", product="Chat", signal="error_rate", status="firing",
                       severity="critical", summary="5xx up", starts_at=NOW, source="alertmanager",
                       labels={"service": "chat-api"})
TICKET = TicketRef(ticket_id="35436", subject="Chat down", organization_id="o1", locale="en")

SAMPLES = [
    (ALERT_STATE_EVENTS, AlertStateChanged(change=AlertChange.FIRST_FIRING, alert=ALERT)),
    (VALIDATION_EVENTS, AlertValidated(candidate_id="c1", decision="confirmed", product="Chat", signal="error_rate",
                                       team="chat-eng", decided_by=Decider(kind="policy", name="critical"),
                                       reason="r", severity=Severity.SEV1, incident_id="INC-1",
                                       fingerprints=["fp1"])),
    (VALIDATION_EVENTS, ValidationEscalated(candidate_id="c1", product="Chat", signal="latency", team="chat-eng",
                                            pending_since=NOW, summary="s")),
    (TRIAGE_EVENTS, TicketTriaged(ticket=TICKET, outcome=TriageOutcome.LINKED, incident_id="INC-1", reason="r",
                                  score=0.7, features={"product": 1.0})),
    (INCIDENT_EVENTS, IncidentOpened(incident_id="INC-1", title="t", product="Chat", signal="error_rate",
                                     severity=Severity.SEV2, opened_from="alerts")),
    (INCIDENT_EVENTS, AlertAttached(incident_id="INC-1", fingerprint="fp", signal="latency")),
    (INCIDENT_EVENTS, SeverityChanged(incident_id="INC-1", previous=Severity.SEV3, severity=Severity.SEV1)),
    (INCIDENT_EVENTS, StatusChanged(incident_id="INC-1", previous=IncidentStatus.INVESTIGATING,
                                    status=IncidentStatus.IDENTIFIED)),
    (INCIDENT_EVENTS, StatusUpdatePosted(incident_id="INC-1", update_id="u1", message="m",
                                         status=IncidentStatus.MONITORING)),
    (INCIDENT_EVENTS, IncidentMerged(incident_id="INC-2", into_incident_id="INC-1", ticket_ids=["1"])),
    (INCIDENT_EVENTS, IncidentResolved(incident_id="INC-1", message="fixed")),
    (INCIDENT_EVENTS, TicketLinked(incident_id="INC-1", ticket=TICKET)),
    (INCIDENT_EVENTS, TicketUnlinked(incident_id="INC-1", ticket_id="35436")),
]


@pytest.mark.parametrize(("registry", "payload"), SAMPLES, ids=[type(p).__name__ for _, p in SAMPLES])
def test_round_trip(registry, payload):
    event = make_event(payload, source="/test", subject="s")
    decoded = registry.decode(encode(event))
    assert decoded.data == payload
    assert decoded.id == event.id and decoded.type == payload.event_type
    assert decoded.specversion == "1.0"
    # the wire bytes are plain compact JSON, as orjson writes the JSON-mode dump (what consumers have seen)
    assert encode(event) == orjson.dumps(event.model_dump(mode="json"))


def test_unknown_type_and_extra_fields_are_rejected():
    event = make_event(IncidentResolved(incident_id="INC-1"), source="/t")
    doc = event.model_dump(mode="json")
    with pytest.raises(ValueError, match="unknown event type"):
        INCIDENT_EVENTS.decode({**doc, "type": "nope"})
    with pytest.raises(ValidationError):
        INCIDENT_EVENTS.decode({**doc, "data": {**doc["data"], "surprise": 1}})


def test_payloads_are_frozen():
    with pytest.raises(ValidationError):
        ALERT.summary = "changed"  # type: ignore[misc]


@pytest.mark.parametrize(("kwargs", "expected"), [
    ({"alert_severity": "critical"}, Severity.SEV1),
    ({"alert_severity": "warning"}, Severity.SEV3),
    ({"alert_severity": "warning", "signals": 2}, Severity.SEV2),
    ({"organisations": 12}, Severity.SEV1),
    ({"organisations": 5}, Severity.SEV2),
    ({"organisations": 3}, Severity.SEV3),
    ({"tickets": 1}, Severity.SEV4),
])
def test_severity_proposal(kwargs, expected):
    assert propose_severity(**kwargs) == expected


def test_nul_characters_are_bad_input():
    """PostgreSQL refuses U+0000 in text and jsonb: an event carrying one is rejected on decode (dead-lettered)
    instead of failing every consumer's transaction forever."""
    event = make_event(IncidentResolved(incident_id="INC-1", message="fixed\x00"), source="/t")
    with pytest.raises(ValueError, match="NUL"):
        INCIDENT_EVENTS.decode(encode(event))
