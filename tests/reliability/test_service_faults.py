"""Faults of the services under load, checked by the oracle: kill -9 mid-batch, SIGTERM, redelivery (every input
twice, then the consumer groups reset to the earliest offset), a second instance started and stopped
(rebalances), the notification target answering 500 and slow, and not answering at all for longer than the
notifier's HTTP timeout. Each scenario is one run of fresh ids:
alerts, tickets that link to the run's Chat incident, ~2% poison; the incident is then resolved, and every
linked ticket must have received its link comment and its resolution comment exactly once."""

from __future__ import annotations

import asyncio
import signal
import time
from collections.abc import Awaitable, Callable

import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition

from tests.e2e.stories import comment_kinds
from tests.reliability.conftest import ChaosPipeline, full_or_short, open_incident, resolve_open
from tests.support.chaos import FULL, Verdict, Workload, produce, record
from tests.support.waiting import eventually

N_ALERTS = full_or_short(3000, 160)
N_TICKETS = full_or_short(300, 24)
RATE = full_or_short(600.0, 120.0)  # records per second: the load lasts a few seconds, faults land inside it
ROUNDS = full_or_short(3, 1)
SERVICE_NAMES = ["alert-ingest", "engineering-validation", "ticket-triage", "notifier"]

Fault = Callable[[ChaosPipeline], Awaitable[None]]


async def linked_tickets(p: ChaosPipeline, w: Workload) -> list[str]:
    import asyncpg

    conn = await asyncpg.connect(p.stack.database_url)
    try:
        return [r["ticket_id"] for r in await conn.fetch(
            "SELECT DISTINCT ticket_id FROM triage.links WHERE ticket_id = ANY($1) AND active", w.tickets)]
    finally:
        await conn.close()


async def wait_comments(p: ChaosPipeline, tickets: list[str], kind: str, timeout: float) -> None:
    async def probe() -> int:
        return sum(1 for t in tickets if comment_kinds(p.zendesk, t)[kind] == 0)

    await eventually(probe, until=lambda missing: missing == 0, timeout=timeout, interval=0.5,
                     what=f"{kind} comments on {len(tickets)} tickets")


async def quiet(p: ChaosPipeline, tickets: list[str], seconds: float = 3.0) -> None:
    """Wait until the comments stop changing for `seconds` (late duplicates would show up here)."""
    def snap() -> list[int]:
        return [len(p.zendesk.bodies(t)) for t in tickets]

    last, since = snap(), time.monotonic()
    deadline = time.monotonic() + 60
    while time.monotonic() - since < seconds and time.monotonic() < deadline:
        await asyncio.sleep(0.5)
        now = snap()
        if now != last:
            last, since = now, time.monotonic()


async def run_scenario(p: ChaosPipeline, kafka, name: str, fault: Fault | None, *, copies: int = 1,
                       after_load: Fault | None = None, settle_timeout: float = full_or_short(300, 120)
                       ) -> Verdict:
    t0 = time.monotonic()
    w = Workload.make(N_ALERTS, N_TICKETS, copies=copies)
    await open_incident(p, kafka, w.incident_alert())
    topics = p.stack.topics
    load = asyncio.gather(produce(p.stack.bootstrap, topics.alerts_raw, w.alert_records(), copies=copies,
                                  rate_per_s=RATE),
                          produce(p.stack.bootstrap, topics.tickets_new, w.ticket_records(), copies=copies,
                                  rate_per_s=RATE / 8))
    if fault is not None:
        await asyncio.gather(load, fault(p))
    else:
        await load
    if after_load is not None:
        await after_load(p)
    await eventually(lambda: p.oracle.settled(w), timeout=settle_timeout, interval=1.0,
                     what=f"{name}: every valid input has its effect")
    linked = await linked_tickets(p, w)
    await wait_comments(p, linked, "link", timeout=settle_timeout)
    await resolve_open(p)
    await wait_comments(p, linked, "resolved", timeout=settle_timeout)
    await quiet(p, linked)
    v = await p.oracle.check(name, w, zendesk=p.zendesk, comment_kinds=("link", "resolved"))
    v.seconds = round(time.monotonic() - t0, 1)
    if not linked:
        v.notes.append("no ticket was linked")
    record(v)
    print(v.summary())
    return v


async def mid_load(seconds: float = 1.5) -> None:
    await asyncio.sleep(seconds)  # the fault lands while the load is being produced (pacing, not synchronisation)


async def kill_each(p: ChaosPipeline) -> None:
    """kill -9 each service in turn mid-load (full: three rounds, each restart awaited; short: the restarts
    overlap, so the group session timeouts of the killed members run concurrently)."""
    for _ in range(ROUNDS):
        for name in SERVICE_NAMES:
            await mid_load(0.7)
            await p.crash(name, signal.SIGKILL, wait=FULL)
    await p.wait_all_ready()


async def term_each(p: ChaosPipeline) -> None:
    for name in SERVICE_NAMES:
        await mid_load(0.7)
        rc = await p.crash(name, signal.SIGTERM, wait=FULL)
        assert rc == 0, f"{name} exited with {rc} on SIGTERM"
    await p.wait_all_ready()


async def rebalance(p: ChaosPipeline) -> None:
    # short: the two services with the busiest consumers; full: all four, three rounds
    for _ in range(ROUNDS):
        for name in SERVICE_NAMES if FULL else ["alert-ingest", "ticket-triage"]:
            extra = await p.start_extra(name)
            await mid_load(1.0)
            extra.stop(signal.SIGTERM)


async def target_failing(p: ChaosPipeline) -> None:
    p.zendesk.fail_next(500, count=full_or_short(40, 8))
    p.zendesk_proxy.latency_s = 0.3  # slow target: every chunk delayed
    await mid_load(full_or_short(20, 4))
    p.zendesk_proxy.latency_s = 0.0


async def target_timing_out(p: ChaosPipeline) -> None:
    """The target stops answering for longer than the notifier's HTTP timeout (NOTIFIER_HTTP_TIMEOUT_S=5 here):
    requests already sent lose their answers, so the notifier cannot know whether a comment was posted."""
    await mid_load(full_or_short(3, 1.5))
    p.zendesk_proxy.blackhole = True
    await asyncio.sleep(full_or_short(12, 7))  # the fault's duration, longer than the timeout
    p.zendesk_proxy.blackhole = False


async def reset_groups(p: ChaosPipeline) -> None:
    """Stop every service, move every consumer group back to the earliest offset, start them again."""
    for proc in p.procs.values():
        proc.stop(signal.SIGTERM)
    topics = p.stack.topics
    groups = {"alert-ingest": [topics.alerts_raw],
              "engineering-validation": [topics.alerts_state, topics.tickets_triaged, topics.incidents_updates],
              "ticket-triage": [topics.tickets_new, topics.incidents_updates],
              "notifier": [topics.incidents_updates, topics.alerts_validated]}
    for name, names in groups.items():
        c = AIOKafkaConsumer(bootstrap_servers=p.stack.bootstrap, group_id=topics.group(name),
                             enable_auto_commit=False)
        await c.start()
        try:
            tps = [TopicPartition(t, i) for t in names for i in (c.partitions_for_topic(t) or range(6))]
            c.assign(tps)
            await c.commit({tp: 0 for tp in tps})
        finally:
            await c.stop()
    await p.start_all()
    for name, names in groups.items():  # the groups have read everything again
        await eventually(lambda n=name, t=names: lag(p, topics.group(n), t), until=lambda x: x == 0,
                         timeout=full_or_short(300, 120), interval=1.0, what=f"{name} caught up after the reset")


async def lag(p: ChaosPipeline, group: str, names: list[str]) -> int:
    c = AIOKafkaConsumer(bootstrap_servers=p.stack.bootstrap, group_id=None, enable_auto_commit=False)
    await c.start()
    try:
        from aiokafka.admin import AIOKafkaAdminClient

        admin = AIOKafkaAdminClient(bootstrap_servers=p.stack.bootstrap)
        await admin.start()
        try:
            committed = await admin.list_consumer_group_offsets(group)
        finally:
            await admin.close()
        tps = [TopicPartition(t, i) for t in names for i in range(6)]
        ends = await c.end_offsets(tps)
        return sum(max(0, ends[tp] - (committed[tp].offset if tp in committed else 0)) for tp in tps)
    finally:
        await c.stop()


def assert_clean(v: Verdict, *, strict: bool = False) -> None:
    assert v.ok(), v.summary()
    if strict:  # a clean stop: not even a republished event or dead letter
        assert v.event_republished == 0 and v.dlt_republished == 0, v.summary()


@pytest.mark.parametrize("name", ["kill9_each_service", "sigterm_each_service", "redelivery_twice_and_reset",
                                  "rebalance_second_instance", "notification_target_500_and_slow",
                                  "notification_target_timing_out"])
async def test_fault_under_load(pipeline: ChaosPipeline, kafka, name: str) -> None:
    if name == "kill9_each_service":
        v = await run_scenario(pipeline, kafka, name, kill_each)
        assert_clean(v)
    elif name == "sigterm_each_service":
        v = await run_scenario(pipeline, kafka, name, term_each)
        assert_clean(v, strict=True)
    elif name == "redelivery_twice_and_reset":
        v = await run_scenario(pipeline, kafka, name, None, copies=2, after_load=reset_groups)
        assert_clean(v)
    elif name == "rebalance_second_instance":
        v = await run_scenario(pipeline, kafka, name, rebalance)
        assert_clean(v)
    elif name == "notification_target_500_and_slow":
        v = await run_scenario(pipeline, kafka, name, target_failing)
        assert_clean(v)
    else:
        v = await run_scenario(pipeline, kafka, name, target_timing_out)
        assert_clean(v)
    assert await pipeline.all_ready()


if FULL:
    @pytest.mark.parametrize("rounds", [1])
    async def test_baseline_no_fault(pipeline: ChaosPipeline, kafka, rounds: int) -> None:
        v = await run_scenario(pipeline, kafka, "baseline_no_fault", None)
        assert_clean(v, strict=True)
