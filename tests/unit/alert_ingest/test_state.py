"""The dedup/flapping state machine, pure: time is passed in."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given, strategies as st

from services.alert_ingest.domain.formats import Observation
from services.alert_ingest.domain.state import FlapPolicy, Seen, apply, end_flapping
from shared.contracts import AlertStatus, CanonicalAlert

T0 = datetime(2026, 12, 3, 12, 0, tzinfo=UTC)
POLICY = FlapPolicy(threshold=3, window=timedelta(minutes=10))


def obs(status: str = "firing", severity: str = "warning", *, partial: bool = False, ack: bool = False,
        summary: str = "Chat errors") -> Observation:
    alert = CanonicalAlert(id="", fingerprint="fp1", product="Chat", signal="error_rate", status=status,
                           severity=severity, summary=summary, starts_at=T0, source="native")
    return Observation.of(alert, partial=partial, acknowledge=ack)


def seen(*items: Observation, start: datetime = T0, step: timedelta = timedelta(seconds=1)) -> list[Seen]:
    return [Seen(o, start + i * step, f"t/0/{i}") for i, o in enumerate(items)]


def changes(d) -> list[str]:
    return [c.change.value for c in d.changes]


def test_first_firing_then_repeats_only_count():
    d = apply(None, seen(*[obs()] * 100), POLICY)
    assert changes(d) == ["first_firing"]
    assert d.state.occurrences == 100 and d.state.last_seen == T0 + timedelta(seconds=99)
    assert [h.outcome for h in d.history] == ["first_firing"]
    again = apply(d.state, seen(obs(), obs(), start=T0 + timedelta(minutes=5)), POLICY)
    assert changes(again) == [] and again.dirty == "touch" and again.history == []
    assert again.state.occurrences == 102


def test_resolve_refire_and_new_episode_id():
    d = apply(None, seen(obs(), obs("resolved"), obs("resolved"), obs()), POLICY)
    assert changes(d) == ["first_firing", "resolved", "refired"]
    first, resolved, refired = d.changes
    assert first.alert.id == resolved.alert.id != refired.alert.id
    assert d.state.episode == 2 and refired.occurrences == 4


def test_severity_raised_is_sent_lowered_is_not():
    d = apply(None, seen(obs(severity="warning"), obs(severity="critical"), obs(severity="warning"),
                         obs(severity="error")), POLICY)
    assert changes(d) == ["first_firing", "severity_raised", "severity_raised"]
    assert [h.outcome for h in d.history] == ["first_firing", "severity_raised", "severity_lowered",
                                              "severity_raised"]
    assert d.state.severity == "error"


def test_resolved_or_acknowledged_unknown_alert_sends_nothing():
    d = apply(None, seen(obs("resolved"), obs(ack=True, partial=True)), POLICY)
    assert d.state is None and d.changes == []
    assert [h.outcome for h in d.history] == ["ignored_unknown", "ignored_unknown"]


def test_partial_resolve_keeps_what_is_known():
    d = apply(None, seen(obs(summary="DISK at 99%"), obs("resolved", "info", partial=True, summary="")), POLICY)
    assert changes(d) == ["first_firing", "resolved"]
    assert d.changes[1].alert.summary == "DISK at 99%" and d.changes[1].alert.severity == "warning"


def test_acknowledge_is_a_repeat_in_history():
    d = apply(None, seen(obs(), obs(ack=True, partial=True)), POLICY)
    assert changes(d) == ["first_firing"] and d.state.occurrences == 2
    assert d.history[-1].outcome == "acknowledged"


def test_flapping_is_sent_once_and_ends_after_a_quiet_window():
    flips = [obs("firing" if i % 2 == 0 else "resolved") for i in range(12)]
    d = apply(None, seen(*flips, step=timedelta(seconds=10)), POLICY)
    assert changes(d) == ["first_firing", "resolved", "refired", "resolved", "flapping"]
    assert d.state.flapping and d.changes[-1].flapping
    assert sum(h.outcome == "suppressed_flip" for h in d.history) == 7
    # still flapping inside the window: the sweep does nothing
    assert end_flapping(d.state, T0 + timedelta(minutes=5), POLICY).changes == []
    ended = end_flapping(d.state, T0 + timedelta(minutes=20), POLICY)
    assert changes(ended) == ["flapping_ended"] and not ended.state.flapping
    assert ended.changes[0].alert.status == "resolved"


def test_flapping_ends_on_the_next_alert_after_a_quiet_window():
    flips = [obs("firing" if i % 2 == 0 else "resolved") for i in range(6)]
    d = apply(None, seen(*flips), POLICY)
    assert d.state.flapping
    later = apply(d.state, seen(obs(), start=T0 + timedelta(hours=1)), POLICY)
    assert changes(later) == ["flapping_ended", "refired"]


def test_slow_flips_outside_the_window_never_flap():
    flips = [obs("firing" if i % 2 == 0 else "resolved") for i in range(12)]
    d = apply(None, seen(*flips, step=timedelta(minutes=4)), POLICY)
    assert "flapping" not in changes(d)


def test_event_ids_are_deterministic_and_unique():
    items = seen(obs(), obs("resolved"), obs(), obs(severity="critical"))
    a, b = apply(None, items, POLICY), apply(None, items, POLICY)
    assert [c.event_id for c in a.changes] == [c.event_id for c in b.changes]
    assert len({c.event_id for c in a.changes}) == len(a.changes)


_obs = st.builds(obs, st.sampled_from(["firing", "resolved"]),
                 st.sampled_from(["info", "warning", "error", "critical"]))


@given(st.lists(_obs, max_size=40), st.integers(0, 40))
def test_splitting_a_stream_into_batches_does_not_change_the_outcome(items, cut):
    stream = seen(*items, step=timedelta(seconds=7))
    whole = apply(None, stream, POLICY)
    first = apply(None, stream[:cut], POLICY)
    second = apply(first.state, stream[cut:], POLICY)
    assert whole.state == second.state
    assert [c.event_id for c in whole.changes] == [c.event_id for c in first.changes + second.changes]


@given(st.lists(st.one_of(st.text(max_size=30), st.integers(-10, 10**12)), min_size=1, max_size=5))
def test_stable_id_is_the_shared_deterministic_id(parts):
    from services.alert_ingest.domain.state import stable_id
    from shared.contracts import deterministic_id

    assert stable_id(*parts) == deterministic_id(*parts)


def _stepwise(old, items, policy):
    """apply() without its shortcut for plain repeats: every observation through _step."""
    from services.alert_ingest.domain.state import Decision, _step

    d = Decision(old.copy() if old is not None else None)
    for s in items:
        _step(d, s, policy)
    return d


@given(st.lists(_obs, min_size=1, max_size=12), st.integers(0, 6), st.integers(1, 200))
def test_the_repeat_shortcut_equals_stepping_through(history, repeats, step_s):
    """Plain repeats (counted in one go) give exactly what stepping through each of them gives."""
    start = apply(None, seen(*history, step=timedelta(seconds=step_s)), POLICY).state
    if start is None:
        return
    later = T0 + timedelta(seconds=step_s * len(history))
    same = obs(start.status.value, start.severity.value)
    items = seen(*[same] * repeats, start=later, step=timedelta(seconds=step_s))
    fast, slow = apply(start, items, POLICY), _stepwise(start, items, POLICY)
    assert fast.state == slow.state and fast.dirty == slow.dirty
    assert fast.changes == slow.changes and fast.history == slow.history
    assert fast.state.flips == slow.state.flips and fast.state is not start


@given(st.lists(_obs, min_size=1, max_size=12), st.lists(_obs, max_size=6), st.integers(1, 200))
def test_a_state_whose_alert_is_not_needed_applies_without_it(history, more, step_s):
    """The store loads a state's alert only when needs_stored_alert says so: without it, apply gives the same."""
    from services.alert_ingest.domain.state import needs_stored_alert

    start = apply(None, seen(*history, step=timedelta(seconds=step_s)), POLICY).state
    if start is None:
        return
    items = seen(*more, start=T0 + timedelta(seconds=step_s * len(history)), step=timedelta(seconds=step_s))
    full = apply(start, items, POLICY)
    if needs_stored_alert(start, items):
        return
    bare = start.copy()
    bare.stored_alert = None
    without = apply(bare, items, POLICY)
    assert without.changes == full.changes == [] and without.history == full.history == []
    assert without.dirty == full.dirty
    assert (without.state.occurrences, without.state.last_seen, without.state.flips) == \
        (full.state.occurrences, full.state.last_seen, full.state.flips)
    assert without.state.alert_json() is None


@given(st.lists(_obs, min_size=1, max_size=12), st.lists(_obs, min_size=1, max_size=6), st.integers(1, 200))
def test_what_the_store_counts_in_sql_is_exactly_a_plain_repeat(history, more, step_s):
    """store.lock_and_count counts a fingerprint's observations in SQL when the stored state is not flapping
    and has the status (and, while firing, the severity) that `repeated` names: exactly when apply() would only
    count them (a "touch": occurrences + n, last_seen moved, nothing sent, no history)."""
    from services.alert_ingest.domain.state import repeated

    start = apply(None, seen(*history, step=timedelta(seconds=step_s)), POLICY).state
    if start is None:
        return
    items = seen(*more, start=T0 + timedelta(seconds=step_s * len(history)), step=timedelta(seconds=step_s))
    rep = repeated([i.observation for i in items])
    sql_counts = (rep is not None and not start.flapping and start.status == rep[0]
                  and (start.status != AlertStatus.FIRING or start.severity == rep[1]))
    d = apply(start, items, POLICY)
    plain = d.dirty == "touch" and not d.changes and not d.history
    if sql_counts:
        assert plain
        assert d.state.occurrences == start.occurrences + len(items)
        assert d.state.last_seen == max(start.last_seen, *(i.at for i in items))
        # what the counted row keeps: everything else as stored (flips are pruned only in memory, as a touch)
        assert (d.state.status, d.state.severity, d.state.flapping, d.state.change_seq, d.state.episode) == \
            (start.status, start.severity, start.flapping, start.change_seq, start.episode)
    elif not start.flapping:  # not counted in SQL: apply() does more than count (a flapping state it steps)
        assert not plain
