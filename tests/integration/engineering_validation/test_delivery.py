"""At-least-once delivery on the real stack: redelivered records, re-published events, a failing batch, and two
instances sharing the consumer group and the timers."""

from __future__ import annotations

import asyncio
import random

from tests.support.kafka import unique
from tests.support.waiting import eventually

from .support import about, alert_event, incident_events, product, running, send_alert, validated


async def counts(pool, p):
    return (await pool.fetchval("SELECT count(*) FROM validation.candidates WHERE product=$1", p),
            await pool.fetchval("SELECT count(*) FROM validation.incidents WHERE product=$1", p),
            await pool.fetchval("SELECT count(*) FROM validation.timeline"))


async def test_redelivered_records_and_republished_events_change_nothing(make_stack, kafka):
    stack = await make_stack()
    p, fp = product(), unique("fp")
    async with running(stack) as app:
        await kafka.produce(stack.topics.alerts_state, alert_event(fp, p, event_id="evt-" + fp), key=fp)
        await validated(kafka, stack, p)
        before = await counts(app.pool, p)
        assert before[:2] == (1, 1)
        # the same records again, as after a lost offset commit
        records = await kafka.read(stack.topics.alerts_state, until=lambda rs: len(rs) >= 1)
        await app.app.state.intake.handle(records)
        # the same event published twice (a relay that died between send and delete): a new offset, same id
        await kafka.produce(stack.topics.alerts_state, alert_event(fp, p, event_id="evt-" + fp), key=fp)
        await eventually(lambda: app.pool.fetchval("SELECT sum(next_offset) FROM validation.consumer_positions "
                                                   "WHERE topic=$1", stack.topics.alerts_state),
                         until=lambda n: n == 2, what="second copy consumed")
        assert await counts(app.pool, p) == before
        assert await app.pool.fetchval("SELECT count(*) FROM validation.outbox") == 0
    events = await kafka.read_json(stack.topics.alerts_validated, until=lambda es: len(es) >= 1)
    assert len(about(events, product=p)) == 1


async def test_failed_batch_is_redelivered_and_applied_once(make_stack, kafka):
    stack = await make_stack()
    p = product()
    async with running(stack) as app:
        validation = app.app.state.validation
        real = validation.apply_alert
        calls = {"n": 0}

        async def flaky(conn, event, now, work):
            calls["n"] += 1
            await real(conn, event, now, work)
            if calls["n"] == 1:
                raise ConnectionError("database went away mid-batch")  # after the effect: it must roll back

        validation.apply_alert = flaky
        await send_alert(kafka, stack, unique("fp"), p, severity="critical")
        [decision] = await validated(kafka, stack, p, timeout=30)
        assert calls["n"] >= 2
        assert (await counts(app.pool, p))[:2] == (1, 1)
    events = await kafka.read_json(stack.topics.alerts_validated, until=lambda es: len(es) >= 1)
    assert len(about(events, product=p)) == 1


async def test_two_instances_make_one_decision_and_one_incident(make_stack, kafka):
    stack = await make_stack()
    storm, quiet = product(), product()
    kw = {"critical_delay_s": 1.0, "escalate_after_s": 0.5}
    async with running(stack, instance_id="a", **kw) as a, running(stack, instance_id="b", **kw):
        fps = [unique("fp") for _ in range(8)]
        await asyncio.gather(*(send_alert(kafka, stack, fp, storm, severity="critical") for fp in fps))
        await send_alert(kafka, stack, unique("fp"), quiet, severity="warning")
        [decision] = await validated(kafka, stack, storm)
        incident_id = decision["data"]["incident_id"]
        events = await incident_events(kafka, stack, lambda es: len(about(
            es, incident=incident_id, type_suffix="alert_attached.v1")) >= 8)
        assert len(about(events, product=storm, type_suffix="opened.v1")) == 1
        assert sorted(e["data"]["fingerprint"] for e in about(events, incident=incident_id,
                                                              type_suffix="alert_attached.v1")) == sorted(fps)
        await validated(kafka, stack, quiet, type_suffix="escalated.v1")
        await eventually(lambda: a.pool.fetchval("SELECT count(*) FROM validation.timers WHERE kind <> 'escalate'"),
                         until=lambda n: n == 0)
    validated_events = await kafka.read_json(stack.topics.alerts_validated, until=lambda es: len(es) >= 3)
    assert len(about(validated_events, product=storm, type_suffix="alert.validated.v1")) == 1
    assert len(about(validated_events, product=quiet, type_suffix="escalated.v1")) == 1


async def test_alert_storm_one_candidate_per_problem_every_alert_attached_once(make_stack, kafka):
    stack = await make_stack()
    rng = random.Random(7)
    products, signals = [product(), product()], ["latency", "error_rate", "saturation"]
    n = 600
    alerts = [(unique("fp"), rng.choice(products), rng.choice(signals), rng.choice(["critical", "warning"]))
              for _ in range(n)]
    async with running(stack, log_level="WARNING") as app:
        await kafka.produce_many(stack.topics.alerts_state, [alert_event(fp, p, signal=s, severity=sev)
                                                             for fp, p, s, sev in alerts],
                                 key_fn=lambda i: alerts[i][0].encode())
        events = await incident_events(kafka, stack, timeout=60, until=lambda es: len(
            [e for e in es if e["type"].endswith("alert_attached.v1")]) >= n)
        several = await app.pool.fetch("SELECT product, signal FROM validation.candidates GROUP BY 1, 2 "
                                       "HAVING count(*) > 1")
        assert several == []
    attached = [e["data"]["fingerprint"] for e in events if e["type"].endswith("alert_attached.v1")]
    assert sorted(attached) == sorted(fp for fp, *_ in alerts)  # each exactly once
    opened = [(e["data"]["product"], e["data"]["signal"]) for e in events if e["type"].endswith("opened.v1")]
    assert len(opened) == len(set(opened)) and opened
