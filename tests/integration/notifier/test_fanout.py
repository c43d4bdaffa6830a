"""Large fan-outs: bulk update_many jobs, a restart in the middle, and two instances sharing the work, each
ending with exactly one comment per (update, ticket)."""

from __future__ import annotations

from collections import Counter

import asyncpg
import orjson

from services.notifier.app import create_app
from tests.integration.notifier import support as s
from tests.support.kafka import unique
from tests.support.services import ServiceProcess, free_port, run_in_process
from tests.support.waiting import eventually


async def _link_many(kafka, topic, inc, tickets):
    await kafka.produce(topic, s.opened(inc, severity="SEV-2"), key=inc)
    await kafka.produce_many(topic, [s.linked(inc, t) for t in tickets], key_fn=lambda _: inc.encode())


def _with(zendesk, text):
    """ticket id -> number of comments containing `text`."""
    return Counter(t for t, cs in list(zendesk.comments.items()) for c in cs if text in c["body"])


async def _now(value):
    return value


async def _sent(pool, inc, kind):
    return await pool.fetchval("SELECT count(*) FROM notifier.deliveries WHERE incident_id=$1 AND kind=$2 "
                               "AND status='sent'", inc, kind)


async def test_bulk_fan_out_250_tickets_in_three_jobs(stack, kafka, zendesk):
    inc = s.incident_id()
    tickets = [str(900_000 + i) for i in range(250)]
    topic = stack.topics.incidents_updates
    async with run_in_process(create_app(s.settings(stack, zendesk.url, zendesk_bulk_min=10))) as svc:
        await _link_many(kafka, topic, inc, tickets)
        await eventually(lambda: _sent(svc.pool, inc, "link"), until=lambda n: n == 250, timeout=30)
        text = unique("Bulk update ")
        await kafka.produce(topic, s.posted(inc, text), key=inc)
        await eventually(lambda: _sent(svc.pool, inc, "update"), until=lambda n: n == 250, timeout=30)
    jobs = [r for r in zendesk.requests if r["path"].endswith("update_many.json") and text in r["body"]]
    sizes = sorted(len(r["query"].split("=", 1)[1].replace("%2C", ",").split(",")) for r in jobs)
    assert sizes == [50, 100, 100]
    assert all(orjson.loads(r["body"])["ticket"]["comment"]["public"] for r in jobs)
    got = _with(zendesk, text)
    assert set(got) == set(tickets) and set(got.values()) == {1}
    assert any("/job_statuses/" in r["path"] for r in zendesk.requests)


async def test_restart_mid_fan_out_misses_none_and_doubles_none(stack, kafka, zendesk):
    inc = s.incident_id()
    tickets = [str(800_000 + i) for i in range(100)]
    topic = stack.topics.incidents_updates
    # one by one, 20 per pass, at most 40 requests/s: the fan-out takes a few seconds
    cfg = s.settings(stack, zendesk.url, zendesk_bulk_min=1000, sender_batch=20,
                     zendesk_rate_limit_per_minute=2400)
    text = unique("Restart update ")
    async with run_in_process(create_app(cfg)) as svc:
        await _link_many(kafka, topic, inc, tickets)
        await eventually(lambda: _sent(svc.pool, inc, "link"), until=lambda n: n == 100, timeout=30)
        await kafka.produce(topic, s.posted(inc, text), key=inc)
        await eventually(lambda: _now(len(_with(zendesk, text))), until=lambda n: n >= 20, timeout=20)
    stopped_at = len(_with(zendesk, text))
    assert stopped_at < 100, "the fan-out finished before the restart; slow it down"
    async with run_in_process(create_app(cfg)) as svc:
        await eventually(lambda: _sent(svc.pool, inc, "update"), until=lambda n: n == 100, timeout=30)
        dead = await svc.pool.fetchval("SELECT count(*) FROM notifier.deliveries WHERE status='dead'")
    got = _with(zendesk, text)
    assert set(got) == set(tickets) and set(got.values()) == {1} and dead == 0


async def test_two_instances_one_comment_per_update_and_ticket(stack, kafka, zendesk):
    inc = s.incident_id()
    tickets = [str(700_000 + i) for i in range(40)]
    topic = stack.topics.incidents_updates
    cfgs = [s.settings(stack, zendesk.url, instance_id=f"n{i}", zendesk_bulk_min=1000, sender_batch=5)
            for i in (1, 2)]
    async with run_in_process(create_app(cfgs[0])) as a, run_in_process(create_app(cfgs[1])):
        await _link_many(kafka, topic, inc, tickets)
        texts = [unique("Two instances ") for _ in range(2)]
        for text in texts:
            await kafka.produce(topic, s.posted(inc, text), key=inc)
            await kafka.produce(topic, s.posted(inc, text, update_id="dup-" + text), key=inc)
        await eventually(lambda: _sent(a.pool, inc, "update"), until=lambda n: n == 4 * 40, timeout=40)
        by = await a.pool.fetch("SELECT claimed_by, count(*) AS n FROM notifier.deliveries WHERE incident_id=$1 "
                                "GROUP BY claimed_by", inc)
    for text in texts:
        got = _with(zendesk, text)
        # two distinct updates with the same text: two comments each, never more
        assert set(got) == set(tickets) and set(got.values()) == {2}
    assert {r["claimed_by"] for r in by} == {"n1", "n2"}
    assert len([r for r in zendesk.requests if f"/{tickets[0]}.json" in r["path"]]) == 1 + 4


async def test_hard_kill_mid_fan_out_then_restart_exactly_one_comment_each(stack, kafka, zendesk, tmp_path):
    """SIGKILL while a claimed batch is in flight: after the lease the new process checks those tickets and
    comments only where the comment had not landed."""
    inc = s.incident_id()
    tickets = [str(600_000 + i) for i in range(80)]
    topic = stack.topics.incidents_updates
    port = free_port()
    env = {**stack.env(), "NOTIFIER_HTTP_PORT": str(port), "NOTIFIER_ZENDESK_BASE_URL": zendesk.url,
           "NOTIFIER_ZENDESK_API_TOKEN": s.TOKEN, "NOTIFIER_ZENDESK_BULK_MIN": "1000", "NOTIFIER_SENDER_BATCH": "20",
           "NOTIFIER_ZENDESK_RATE_LIMIT_PER_MINUTE": "1200", "NOTIFIER_SEND_LEASE_S": "2",
           "NOTIFIER_SENDER_POLL_INTERVAL_S": "0.05", "LOG_LEVEL": "WARNING"}
    text = unique("Kill update ")
    await _link_many(kafka, topic, inc, tickets)
    await kafka.produce(topic, s.posted(inc, text), key=inc)
    svc = ServiceProcess("services.notifier", port, env, tmp_path / "n1.log")
    svc.start()
    try:
        await svc.wait_ready()
        # passes of 20: a count that is not a multiple of 20 means a claimed batch is in flight
        await eventually(lambda: _now(len(_with(zendesk, text))), until=lambda n: n >= 15 and n % 20 not in (0, 19),
                         timeout=30, interval=0.01)
    finally:
        svc.kill()
    assert len(_with(zendesk, text)) < 80, "the fan-out finished before the kill; slow it down"
    again = ServiceProcess("services.notifier", port, env, tmp_path / "n2.log")
    again.start()
    try:
        await again.wait_ready()
        await eventually(lambda: _now(_with(zendesk, text)), until=lambda g: len(g) == 80, timeout=30)
        pool = await asyncpg.connect(stack.database_url)
        try:
            done = await eventually(lambda: _sent(pool, inc, "update"), until=lambda n: n == 80, timeout=15)
        finally:
            await pool.close()
    finally:
        again.stop()
    got = _with(zendesk, text)
    assert set(got) == set(tickets) and set(got.values()) == {1} and done == 80
    assert any(r["path"].endswith("/comments.json") for r in zendesk.requests)  # the in-flight batch was checked


async def test_a_slow_job_keeps_its_lease_so_no_other_instance_takes_it(stack, kafka, zendesk):
    inc = s.incident_id()
    tickets = [str(500_000 + i) for i in range(30)]
    topic = stack.topics.incidents_updates
    zendesk.job_polls = 20  # the job answers 'working' for ~1.5 s, three leases
    cfgs = [s.settings(stack, zendesk.url, instance_id=f"slow{i}", zendesk_bulk_min=10, send_lease_s=0.5,
                       zendesk_job_poll_interval_s=0.075) for i in (1, 2)]
    async with run_in_process(create_app(cfgs[0])) as a, run_in_process(create_app(cfgs[1])):
        await _link_many(kafka, topic, inc, tickets)
        text = unique("Slow job ")
        await kafka.produce(topic, s.posted(inc, text), key=inc)
        await eventually(lambda: _sent(a.pool, inc, "update"), until=lambda n: n == 30, timeout=30)
        rows = await a.pool.fetch("SELECT attempts, external_ref FROM notifier.deliveries WHERE incident_id=$1 "
                                  "AND kind='update'", inc)
    assert {r["attempts"] for r in rows} == {1} and all(r["external_ref"].startswith("job") for r in rows)
    assert not any(r["path"].endswith("/comments.json") for r in zendesk.requests)  # nothing was recovered
    assert set(_with(zendesk, text).values()) == {1}
