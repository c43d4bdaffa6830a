"""Properties of the policies over generated candidates and evidence (hypothesis)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from services.engineering_validation.domain.model import AlertView, CandidateView, Evidence, Silence
from services.engineering_validation.domain.policies import PolicyConfig, evaluate
from shared.contracts import AlertSeverity, Signal

T0 = datetime(2026, 1, 1, tzinfo=UTC)

alerts = st.builds(
    lambda sev, fired, resolved: AlertView("f", sev, resolved is None, T0 + timedelta(seconds=fired),
                                           None if resolved is None else T0 + timedelta(seconds=fired + resolved)),
    st.sampled_from(list(AlertSeverity)), st.integers(0, 600), st.none() | st.integers(0, 600))
candidates = st.builds(lambda sig, al: CandidateView("CAN-1", "Chat", sig, "chat-eng", T0, tuple(al)),
                       st.sampled_from(list(Signal)), st.lists(alerts, min_size=1, max_size=4))
evidence = st.builds(Evidence, st.frozensets(st.sampled_from(list(Signal))), st.integers(0, 5), st.integers(0, 10),
                     st.integers(0, 12), st.integers(0, 4))
configs = st.builds(PolicyConfig, st.booleans(), st.sampled_from([0, 30, 300]), st.sampled_from([0, 2, 3]),
                    st.sampled_from([0, 3]), st.booleans(), st.sampled_from([0, 120]))
nows = st.integers(0, 1800).map(lambda s: T0 + timedelta(seconds=s))


@given(candidates, evidence, nows, configs)
def test_nothing_firing_is_never_confirmed(c, ev, now, cfg):
    quiet = CandidateView(c.id, c.product, c.signal, c.team, c.created_at,
                          tuple(AlertView(a.fingerprint, a.severity, False, a.fired_at, a.resolved_at or a.fired_at)
                                for a in c.alerts))
    v = evaluate(quiet, ev, now, cfg)
    assert v.decision is None or v.decision.outcome == "dismissed"


@given(candidates, evidence, nows, configs)
def test_a_dismiss_silence_always_dismisses(c, ev, now, cfg):
    s = Silence("SIL", c.product, None, "dismiss", now - timedelta(seconds=1), now + timedelta(hours=1))
    v = evaluate(c, Evidence(ev.firing_signals, ev.corroborating_tickets, ev.tickets, ev.organisations,
                             ev.urgent_tickets, (s,)), now, cfg)
    assert v.decision is not None and v.decision.outcome == "dismissed"


@given(candidates, evidence, nows, configs)
def test_evaluation_is_pure_and_wakes_only_in_the_future(c, ev, now, cfg):
    first, again = evaluate(c, ev, now, cfg), evaluate(c, ev, now, cfg)
    assert first == again
    if first.decision is None and first.wake_at is not None:
        assert first.wake_at > now
