"""Validation policies: pure, with a fake clock (times are passed in)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from services.engineering_validation.domain.model import AlertView, CandidateView, Evidence, Silence
from services.engineering_validation.domain.policies import PolicyConfig, evaluate
from shared.contracts import AlertSeverity, Signal

T0 = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def alert(sev: str = "critical", *, fired: float = 0, resolved: float | None = None, fp: str = "f1") -> AlertView:
    resolved_at = at(resolved) if resolved is not None else None
    return AlertView(fp, AlertSeverity(sev), resolved is None, at(fired), resolved_at)


def cand(*alerts: AlertView, signal: Signal = Signal.ERROR_RATE, status: str = "pending") -> CandidateView:
    return CandidateView("CAN-1", "Chat", signal, "chat-eng", T0, tuple(alerts), status)


def test_critical_confirms_at_once_with_zero_delay():
    v = evaluate(cand(alert()), Evidence(), at(0), PolicyConfig(critical_delay_s=0))
    assert v.decision is not None and v.decision.outcome == "confirmed"
    assert v.decision.policy == "critical_still_firing"


def test_critical_waits_for_the_delay_then_confirms():
    cfg = PolicyConfig(critical_delay_s=60)
    early = evaluate(cand(alert()), Evidence(), at(30), cfg)
    assert early.decision is None and early.wake_at == at(60)
    later = evaluate(cand(alert()), Evidence(), at(60), cfg)
    assert later.decision and later.decision.policy == "critical_still_firing"


def test_critical_policy_can_be_turned_off():
    v = evaluate(cand(alert()), Evidence(), at(0), PolicyConfig(critical_policy=False))
    assert v.decision is None and v.wake_at is None


def test_warning_alone_stays_pending():
    v = evaluate(cand(alert("warning")), Evidence(), at(500), PolicyConfig())
    assert v.decision is None and v.wake_at is None


def test_two_signals_confirm():
    ev = Evidence(firing_signals=frozenset({Signal.ERROR_RATE, Signal.LATENCY}))
    v = evaluate(cand(alert("warning")), ev, at(1), PolicyConfig())
    assert v.decision and v.decision.policy == "multi_signal" and "latency" in v.decision.reason


def test_multi_signal_counts_the_candidates_own_signal():
    ev = Evidence(firing_signals=frozenset({Signal.LATENCY}))
    v = evaluate(cand(alert("warning")), ev, at(1), PolicyConfig())
    assert v.decision and v.decision.policy == "multi_signal"


def test_one_corroborating_ticket_confirms():
    v = evaluate(cand(alert("warning")), Evidence(corroborating_tickets=1, tickets=1), at(1), PolicyConfig())
    assert v.decision and v.decision.policy == "ticket_corroboration"


def test_n_tickets_of_any_outcome_confirm():
    cfg = PolicyConfig(ticket_linked_confirms=False, ticket_min=3)
    assert evaluate(cand(alert("warning")), Evidence(tickets=2), at(1), cfg).decision is None
    v = evaluate(cand(alert("warning")), Evidence(tickets=3), at(1), cfg)
    assert v.decision and v.decision.policy == "ticket_corroboration"


def test_resolved_within_transient_window_is_dismissed():
    v = evaluate(cand(alert("critical", resolved=30)), Evidence(), at(30),
                 PolicyConfig(critical_delay_s=60, transient_window_s=120))
    assert v.decision and v.decision.outcome == "dismissed" and v.decision.policy == "transient"


def test_resolved_after_transient_window_waits_for_an_engineer():
    v = evaluate(cand(alert("warning", resolved=300)), Evidence(), at(300), PolicyConfig(transient_window_s=120))
    assert v.decision is None


def test_one_of_two_alerts_still_firing_is_not_transient():
    c = cand(alert("warning", resolved=10, fp="a"), alert("warning", fp="b"))
    assert evaluate(c, Evidence(), at(20), PolicyConfig()).decision is None


def test_resolved_alerts_are_not_confirmed_by_tickets():
    c = cand(alert("warning", resolved=300))
    assert evaluate(c, Evidence(corroborating_tickets=5), at(300), PolicyConfig()).decision is None


def silence(mode: str, *, start: float = -10, end: float = 600, signal: Signal | None = None) -> Silence:
    return Silence("SIL-1", "Chat", signal, mode, at(start), at(end), "db upgrade")  # type: ignore[arg-type]


def test_dismiss_silence_dismisses():
    v = evaluate(cand(alert()), Evidence(silences=(silence("dismiss"),)), at(0), PolicyConfig())
    assert v.decision and v.decision.outcome == "dismissed" and v.decision.policy == "maintenance_window"


def test_hold_silence_holds_until_it_ends():
    v = evaluate(cand(alert()), Evidence(silences=(silence("hold"),)), at(0), PolicyConfig())
    assert v.decision is None and v.wake_at == at(600) and v.held_by is not None
    after = evaluate(cand(alert()), Evidence(silences=(silence("hold"),)), at(600), PolicyConfig())
    assert after.decision and after.decision.policy == "critical_still_firing"


def test_silence_of_another_signal_or_product_does_not_apply():
    other = Silence("SIL-2", "Talk", None, "dismiss", at(-1), at(600))
    latency = silence("dismiss", signal=Signal.LATENCY)
    v = evaluate(cand(alert()), Evidence(silences=(other, latency)), at(0), PolicyConfig())
    assert v.decision and v.decision.outcome == "confirmed"


def test_future_silence_does_not_apply_yet():
    v = evaluate(cand(alert()), Evidence(silences=(silence("dismiss", start=100),)), at(0), PolicyConfig())
    assert v.decision and v.decision.outcome == "confirmed"


def test_decided_candidates_are_left_alone():
    assert evaluate(cand(alert(), status="confirmed"), Evidence(), at(0), PolicyConfig()).decision is None


def test_ticket_naming_an_unseen_incident_waits_for_it_briefly():
    ev = Evidence(corroborating_tickets=1, tickets=1, awaiting_incident_since=at(10))
    cfg = PolicyConfig(mirror_grace_s=2)
    waiting = evaluate(cand(alert("warning")), ev, at(11), cfg)
    assert waiting.decision is None and waiting.wake_at == at(12)
    late = evaluate(cand(alert("warning")), ev, at(12), cfg)
    assert late.decision and late.decision.policy == "ticket_corroboration"
