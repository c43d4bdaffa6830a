"""Periodic "still working on it" updates follow the severity cadence, reset when something is posted,
stop on resolution and survive a restart without skipping or doubling."""

from __future__ import annotations

import asyncio

from services.notifier.app import create_app
from tests.integration.notifier import support as s
from tests.support.kafka import unique
from tests.support.services import run_in_process
from tests.support.waiting import eventually


def _periodic(zendesk, ticket):
    return [b for b in zendesk.bodies(ticket) if b.startswith("We are still working")]


async def _schedule(pool, inc):
    return await pool.fetchrow("SELECT * FROM notifier.schedules WHERE incident_id = $1", inc)


async def test_periodic_update_by_cadence_then_stops_when_resolved(stack, kafka, zendesk):
    inc, t1 = s.incident_id(), unique("3")
    topic = stack.topics.incidents_updates
    cfg = s.settings(stack, zendesk.url, cadence_seconds={"SEV-1": 1.0, "SEV-4": None})
    async with run_in_process(create_app(cfg)) as svc:
        await kafka.produce(topic, s.opened(inc, severity="SEV-1"), key=inc)
        await kafka.produce(topic, s.linked(inc, t1), key=inc)
        await eventually(lambda: _async(_periodic(zendesk, t1)), until=lambda p: len(p) >= 2, timeout=15,
                         what="two periodic updates")
        body = _periodic(zendesk, t1)[0]
        assert "Current status: Investigating" in body and "Next update by" in body
        await kafka.produce(topic, s.resolved(inc), key=inc)
        await eventually(lambda: _async(zendesk.bodies(t1)), until=lambda b: "has been resolved" in b[-1])
        await eventually(lambda: _schedule(svc.pool, inc), until=lambda r: r is None, what="schedule ended")
        n = len(zendesk.bodies(t1))
        await asyncio.sleep(1.5)  # negative check: over a whole cadence, nothing more arrives after resolution
        assert len(zendesk.bodies(t1)) == n


async def test_posted_update_resets_the_cadence_and_sev4_has_none(stack, kafka, zendesk):
    inc, quiet, t1, t2 = s.incident_id(), s.incident_id(), unique("4"), unique("5")
    topic = stack.topics.incidents_updates
    cfg = s.settings(stack, zendesk.url, cadence_seconds={"SEV-2": 30.0})
    async with run_in_process(create_app(cfg)) as svc:
        await kafka.produce(topic, s.opened(inc, severity="SEV-2"), key=inc)
        await kafka.produce(topic, s.opened(quiet, severity="SEV-4"), key=quiet)
        await kafka.produce(topic, s.linked(quiet, t2), key=quiet)
        await kafka.produce(topic, s.linked(inc, t1), key=inc)
        await eventually(lambda: _async(zendesk.bodies(t2)), until=lambda b: len(b) == 1)
        first = await eventually(lambda: _schedule(svc.pool, inc), until=lambda r: r is not None)
        assert await _schedule(svc.pool, quiet) is None  # SEV-4: no periodic updates
        await kafka.produce(topic, s.posted(inc, "Mitigation in progress."), key=inc)
        later = await eventually(lambda: _schedule(svc.pool, inc),
                                 until=lambda r: r["last_broadcast_at"] > first["last_broadcast_at"])
        assert later["next_due_at"] > first["next_due_at"] and later["period"] == 0
        # raising the severity applies the shorter cadence from the last broadcast
        await kafka.produce(topic, s.severity_changed(inc, "SEV-2", "SEV-1"), key=inc)
        # default SEV-1 cadence: 30 min
        raised = await eventually(lambda: _schedule(svc.pool, inc), until=lambda r: r["cadence_s"] == 1800)
        assert raised["last_broadcast_at"] == later["last_broadcast_at"]


async def test_restart_neither_skips_nor_doubles_a_periodic_update(stack, kafka, zendesk):
    inc, t1 = s.incident_id(), unique("6")
    topic = stack.topics.incidents_updates
    cfg = s.settings(stack, zendesk.url, cadence_seconds={"SEV-3": 2.0})
    async with run_in_process(create_app(cfg)) as svc:
        await kafka.produce(topic, s.opened(inc, severity="SEV-3"), key=inc)
        await kafka.produce(topic, s.linked(inc, t1), key=inc)
        row = await eventually(lambda: _schedule(svc.pool, inc), until=lambda r: r is not None)
    # the service is down when the update falls due; the schedule is in the database
    async with run_in_process(create_app(cfg)) as svc2:
        await eventually(lambda: _async(_periodic(zendesk, t1)), until=lambda p: len(p) >= 1, timeout=15)
        after = await _schedule(svc2.pool, inc)
        assert after["period"] >= 1 and after["next_due_at"] > row["next_due_at"]
        log = await svc2.pool.fetch("SELECT idempotency_key FROM notifier.deliveries WHERE kind='periodic' "
                                    "AND incident_id=$1 ORDER BY id", inc)
        keys = [r["idempotency_key"] for r in log]
        assert keys[0].endswith(":periodic:" + inc + ":1") and len(keys) == len(set(keys))


async def _async(value):
    return value
