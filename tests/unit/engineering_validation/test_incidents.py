"""Incident rules: matching, lifecycle transitions, merge checks, severity proposal, auto-resolve timing."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from services.engineering_validation.domain.incidents import (
    IncidentView, TransitionError, auto_resolve_due, check_merge, check_status_change, incident_id_for,
    match_incident, propose,
)
from services.engineering_validation.domain.model import AlertView, CandidateView, Evidence
from shared.contracts import AlertSeverity, IncidentStatus, Severity, Signal

T0 = datetime(2026, 1, 1, tzinfo=UTC)
S = IncidentStatus


def incident(id: str, signal: Signal | None, *, product: str = "Chat", status: S = S.INVESTIGATING,
             minutes: int = 0, merged_into: str | None = None) -> IncidentView:
    return IncidentView(id, product, signal, status, "alerts" if signal else "tickets",
                        T0 + timedelta(minutes=minutes), merged_into)


def test_matches_same_signal_first_then_ticket_incident():
    incs = [incident("INC-t", None), incident("INC-e", Signal.ERROR_RATE, minutes=1)]
    assert match_incident("Chat", Signal.ERROR_RATE, incs).id == "INC-e"
    assert match_incident("Chat", Signal.LATENCY, incs).id == "INC-t"


def test_no_match_for_other_product_other_signal_or_closed():
    incs = [incident("INC-a", Signal.LATENCY), incident("INC-b", Signal.ERROR_RATE, product="Talk"),
            incident("INC-c", Signal.ERROR_RATE, status=S.RESOLVED),
            incident("INC-d", Signal.ERROR_RATE, merged_into="INC-x")]
    assert match_incident("Chat", Signal.ERROR_RATE, incs) is None


def test_multi_signal_joins_a_recent_incident_of_any_signal():
    incs = [incident("INC-a", Signal.LATENCY, minutes=5)]
    assert match_incident("Chat", Signal.ERROR_RATE, incs, any_signal_since=T0).id == "INC-a"
    assert match_incident("Chat", Signal.ERROR_RATE, incs, any_signal_since=T0 + timedelta(minutes=6)) is None


def test_incident_id_is_deterministic_and_well_formed():
    a = incident_id_for("CAN-1")
    assert a == incident_id_for("CAN-1") != incident_id_for("CAN-2")
    assert a.startswith("INC-") and len(a) == 16 and all(c in "0123456789abcdef" for c in a[4:])


@pytest.mark.parametrize(("current", "new"), [(S.INVESTIGATING, S.IDENTIFIED), (S.IDENTIFIED, S.MONITORING),
                                              (S.MONITORING, S.INVESTIGATING)])
def test_open_statuses_move_freely(current, new):
    check_status_change(current, new)


@pytest.mark.parametrize(("current", "new"), [(S.RESOLVED, S.INVESTIGATING), (S.INVESTIGATING, S.RESOLVED),
                                              (S.IDENTIFIED, S.IDENTIFIED)])
def test_forbidden_status_changes(current, new):
    with pytest.raises(TransitionError):
        check_status_change(current, new)


def test_merge_checks():
    a, b = incident("INC-a", Signal.LATENCY), incident("INC-b", None)
    check_merge(a, b)
    with pytest.raises(TransitionError):
        check_merge(a, a)
    with pytest.raises(TransitionError):
        check_merge(a, incident("INC-c", None, status=S.RESOLVED))
    with pytest.raises(TransitionError):
        check_merge(incident("INC-d", None, merged_into="INC-b"), b)


def test_severity_proposal_uses_alerts_signals_and_tickets():
    c = CandidateView("CAN-1", "Chat", Signal.ERROR_RATE, "chat-eng", T0,
                      (AlertView("f", AlertSeverity.WARNING, True, T0),))
    assert propose(c, Evidence()) == Severity.SEV3
    assert propose(c, Evidence(firing_signals=frozenset({Signal.LATENCY}))) == Severity.SEV2
    assert propose(c, Evidence(organisations=12)) == Severity.SEV1


def test_auto_resolve_due_after_the_last_resolution_plus_quiet():
    assert auto_resolve_due([T0, T0 + timedelta(minutes=3)], 60) == T0 + timedelta(minutes=4)
    assert auto_resolve_due([T0, None], 60) is None
    assert auto_resolve_due([], 60) is None


def test_matches_an_incident_by_the_signal_of_an_attached_alert():
    joined = IncidentView("INC-a", "Chat", Signal.LATENCY, S.INVESTIGATING, "alerts", T0, None,
                          frozenset({Signal.LATENCY, Signal.ERROR_RATE}))
    assert match_incident("Chat", Signal.ERROR_RATE, [joined]).id == "INC-a"
    assert match_incident("Chat", Signal.SATURATION, [joined]) is None
