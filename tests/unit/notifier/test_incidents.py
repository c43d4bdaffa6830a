"""The incident view and what each event means for linked customers (pure, no I/O)."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from services.notifier.domain.incidents import Incident, decide
from shared.contracts import (
    AlertAttached, IncidentMerged, IncidentOpened, IncidentResolved, Severity, SeverityChanged, Signal,
    StatusChanged, StatusUpdatePosted, TicketLinked, TicketRef, TicketUnlinked,
)

INC = "INC-0123456789ab"
OPENED = IncidentOpened(incident_id=INC, title="Chat down", product="Chat", severity=Severity.SEV2,
                        opened_from="alerts", public_message="Looking into it.")


def test_opened_sets_view_default_team_and_starts_schedule():
    d = decide(None, OPENED, event_id="e1")
    assert d.incident == Incident(INC, "Chat", "Chat down", "chat-eng", "SEV-2", "investigating", "Looking into it.")
    assert d.broadcast is None and d.schedule == "reset"


def test_posted_update_broadcasts_keyed_by_update_id():
    inc = decide(None, OPENED, event_id="e1").incident
    d = decide(inc, StatusUpdatePosted(incident_id=INC, update_id="u1", message="Found it", status="identified"),
               event_id="e2")
    assert d.broadcast.kind == "update" and d.broadcast.key == "update:u1" and d.broadcast.message == "Found it"
    assert d.incident.status == "identified" and d.incident.latest_update == "Found it" and d.schedule == "reset"


def test_status_change_broadcasts_but_not_to_resolved():
    inc = decide(None, OPENED, event_id="e1").incident
    d = decide(inc, StatusChanged(incident_id=INC, previous="investigating", status="monitoring"), event_id="e3")
    assert d.broadcast.key == "status:e3" and d.incident.status == "monitoring"
    d = decide(inc, StatusChanged(incident_id=INC, previous="monitoring", status="resolved"), event_id="e4")
    assert d.broadcast is None  # IncidentResolved carries the customer message


def test_status_change_that_comes_with_an_update_is_told_once_with_the_update():
    inc = decide(None, OPENED, event_id="e1").incident
    d = decide(inc, StatusChanged(incident_id=INC, previous="investigating", status="identified", update_id="u2"),
               event_id="e3")
    assert d.broadcast is None and d.incident.status == "identified"
    d = decide(d.incident, StatusUpdatePosted(incident_id=INC, update_id="u2", message="Fix deploying",
                                              status="identified"), event_id="e4")
    assert d.broadcast.kind == "update" and d.broadcast.key == "update:u2"


def test_resolved_broadcasts_once_and_ends_schedule():
    inc = decide(None, OPENED, event_id="e1").incident
    d = decide(inc, IncidentResolved(incident_id=INC, message="Fixed"), event_id="e5")
    assert d.broadcast.key == "resolved" and d.schedule == "end" and not d.incident.open
    late = decide(d.incident, StatusUpdatePosted(incident_id=INC, update_id="u9", message="x", status="resolved"),
                  event_id="e6")
    assert late.broadcast is None


def test_merge_moves_links_and_ends_schedule():
    inc = decide(None, OPENED, event_id="e1").incident
    d = decide(inc, IncidentMerged(incident_id=INC, into_incident_id="INC-bbbbbbbbbbbb"), event_id="e7")
    assert d.move_links_to == "INC-bbbbbbbbbbbb" and d.schedule == "end" and not d.incident.open


def test_links_unlinks_severity_and_ignored_events():
    inc = decide(None, OPENED, event_id="e1").incident
    t = TicketRef(ticket_id="42", locale="es")
    assert decide(inc, TicketLinked(incident_id=INC, ticket=t), event_id="e8").link == t
    assert decide(inc, TicketUnlinked(incident_id=INC, ticket_id="42"), event_id="e9").unlink == "42"
    d = decide(inc, SeverityChanged(incident_id=INC, previous=Severity.SEV2, severity=Severity.SEV1), event_id="e10")
    assert d.incident.severity == "SEV-1" and d.schedule == "keep" and d.broadcast is None
    d = decide(inc, AlertAttached(incident_id=INC, fingerprint="f", signal=Signal.LATENCY), event_id="e11")
    assert d.incident == inc and d.broadcast is None


def test_link_before_opened_creates_a_stub():
    d = decide(None, TicketLinked(incident_id=INC, ticket=TicketRef(ticket_id="1")), event_id="e")
    assert d.incident.incident_id == INC and d.incident.open and d.link is not None


EVENTS = st.sampled_from([
    OPENED,
    StatusUpdatePosted(incident_id=INC, update_id="u1", message="m1", status="identified"),
    StatusChanged(incident_id=INC, previous="identified", status="monitoring"),
    SeverityChanged(incident_id=INC, previous=Severity.SEV2, severity=Severity.SEV3),
    IncidentResolved(incident_id=INC, message="done"),
    TicketLinked(incident_id=INC, ticket=TicketRef(ticket_id="7")),
])


@given(st.lists(EVENTS, max_size=8), EVENTS)
def test_applying_an_event_twice_equals_once(history, event):
    inc = None
    for i, e in enumerate(history):
        inc = decide(inc, e, event_id=f"h{i}").incident
    once = decide(inc, event, event_id="x")
    twice = decide(once.incident, event, event_id="x")
    assert twice.incident == once.incident
    # the repeated broadcast has the same key, so the delivery log's unique key drops it
    assert (twice.broadcast and twice.broadcast.key) in (None, once.broadcast and once.broadcast.key)
