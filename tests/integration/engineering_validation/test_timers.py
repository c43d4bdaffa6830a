"""Durable timers on the real stack: validation delay, escalation (once), auto-resolve, restart."""

from __future__ import annotations

from tests.support.kafka import unique
from tests.support.waiting import eventually

from .support import about, incident_events, product, running, send_alert, validated


async def test_critical_alert_is_confirmed_after_the_delay(make_stack, kafka):
    stack = await make_stack()
    p = product()
    async with running(stack, critical_delay_s=1.0) as app:
        await send_alert(kafka, stack, unique("fp"), p, severity="critical")
        [cand] = await eventually(lambda: app.pool.fetch("SELECT * FROM validation.candidates"), what="candidate")
        timer = await app.pool.fetchrow("SELECT * FROM validation.timers WHERE kind='evaluate'")
        assert timer is not None and timer["subject"] == cand["id"]
        [decision] = await validated(kafka, stack, p)
        assert decision["data"]["decided_by"]["name"] == "critical_still_firing"
        assert "after 1s" in decision["data"]["reason"]
        assert await app.pool.fetchval("SELECT count(*) FROM validation.timers") == 0


async def test_pending_candidate_is_escalated_once(make_stack, kafka):
    stack = await make_stack()
    p = product()
    async with running(stack, escalate_after_s=0.5) as app:
        await send_alert(kafka, stack, unique("fp"), p, severity="warning")
        [escalated] = await validated(kafka, stack, p, type_suffix="validation.escalated.v1")
        assert escalated["data"]["team"] == "operations" and escalated["data"]["signal"] == "error_rate"
        # a second alert joins the candidate; it must not escalate it again
        await send_alert(kafka, stack, unique("fp"), p, severity="warning")
        await eventually(lambda: app.pool.fetchval("SELECT count(*) FROM validation.alerts"), until=lambda n: n == 2)
        await app.app.state.timers.fire_due()
        assert await app.pool.fetchval("SELECT count(*) FROM validation.timers") == 0
        events = await kafka.read_json(stack.topics.alerts_validated, until=lambda es: len(es) >= 1)
        assert len(about(events, product=p)) == 1
        row = await app.pool.fetchrow("SELECT * FROM validation.candidates")
        assert row["status"] == "pending" and row["escalated_at"] is not None


async def test_auto_resolve_after_all_alerts_resolved_and_quiet(make_stack, kafka):
    stack = await make_stack()
    p, fp = product(), unique("fp")
    async with running(stack, auto_resolve=True, auto_resolve_quiet_s=0.5, transient_window_s=0) as app:
        await send_alert(kafka, stack, fp, p, severity="critical")
        [decision] = await validated(kafka, stack, p)
        incident_id = decision["data"]["incident_id"]
        await send_alert(kafka, stack, fp, p, severity="critical", status="resolved")
        events = await incident_events(kafka, stack, lambda es: about(es, incident=incident_id,
                                                                      type_suffix="resolved.v1"))
        [resolved] = about(events, incident=incident_id, type_suffix="resolved.v1")
        assert resolved["data"]["resolved_by"] == "policy:auto_resolve"
        row = await app.pool.fetchrow("SELECT * FROM validation.incidents WHERE id=$1", incident_id)
        assert row["status"] == "resolved"


async def test_auto_resolve_is_off_by_default(make_stack, kafka):
    stack = await make_stack()
    p, fp = product(), unique("fp")
    async with running(stack, auto_resolve_quiet_s=0) as app:
        await send_alert(kafka, stack, fp, p, severity="critical")
        [decision] = await validated(kafka, stack, p)
        await send_alert(kafka, stack, fp, p, severity="critical", status="resolved")
        await eventually(lambda: app.pool.fetchval("SELECT status FROM validation.alerts WHERE fingerprint=$1", fp),
                         until=lambda s: s == "resolved")
        assert await app.pool.fetchval("SELECT count(*) FROM validation.timers") == 0
        status = await app.pool.fetchval("SELECT status FROM validation.incidents WHERE id=$1",
                                         decision["data"]["incident_id"])
        assert status == "investigating"


async def test_pending_timer_survives_a_restart_and_fires_once(make_stack, kafka):
    stack = await make_stack()
    p = product()
    async with running(stack, critical_delay_s=2.0) as app:
        await send_alert(kafka, stack, unique("fp"), p, severity="critical")
        await eventually(lambda: app.pool.fetchval("SELECT count(*) FROM validation.timers WHERE kind='evaluate'"),
                         until=lambda n: n == 1, what="timer stored")
        assert await app.pool.fetchval("SELECT count(*) FROM validation.candidates WHERE status='pending'") == 1
    async with running(stack, critical_delay_s=2.0) as app:  # a new process: only the database remembers
        [decision] = await validated(kafka, stack, p)
        assert decision["data"]["decision"] == "confirmed"
        await app.app.state.timers.fire_due()
        assert await app.pool.fetchval("SELECT count(*) FROM validation.timers WHERE kind='evaluate'") == 0
    events = await kafka.read_json(stack.topics.alerts_validated, until=lambda es: len(es) >= 1)
    assert len(about(events, product=p)) == 1
