"""Scenario 4: ticket-triage's throughput with 50 open incidents to match against, against B on the same
ticket records."""

from __future__ import annotations

import asyncio
import collections

import orjson

from ..kafka_io import TopicReader, bench_producer, produce_bulk
from ..measure import drain, quiescent
from ..pipeline import progress, services
from ..procs import missing
from ..slice import stack_slice
from ..stats import spread
from ..tickets import ticket_stream
from . import Ctx, NotRun, relay
from .latency import seed_incidents

GOAL = 0.2


async def triage_once(records, timeout: float = 600, on_running=None) -> tuple[float, dict]:
    """Tickets arrive as a backlog while triage runs with 50 incidents open: tickets/s and the outcomes."""
    async with stack_slice() as s, services(s, ["ticket-triage"]) as procs, progress(s) as pr:
        await seed_incidents(s)
        task = on_running(procs["ticket-triage"]) if on_running else None
        reader = TopicReader(s.bootstrap, [s.topics.tickets_triaged])
        await reader.start()
        producer = bench_producer(s.bootstrap)
        await producer.start()
        try:
            started = asyncio.get_running_loop().time()
            await produce_bulk(producer, s.topics.tickets_new, records, s.kafka.partitions)
            d = await drain(pr, s.topics.group("ticket-triage"), s.topics.tickets_new, len(records),
                            timeout=timeout, alive=procs["ticket-triage"].alive, started=started)

            async def triaged() -> int:
                return reader.count(s.topics.tickets_triaged)
            await quiescent(triaged, quiet_s=1.5, timeout=120)  # the outbox relays the decisions after commit
            if task is not None:
                await task
        finally:
            await producer.stop()
            await reader.stop()
        outcomes = collections.Counter(orjson.loads(r.value)["data"]["outcome"]
                                       for r in reader.records[s.topics.tickets_triaged])
        return d.rate, dict(outcomes)


async def run(ctx: Ctx) -> dict:
    records = [rec for _, _, rec in ticket_stream(ctx.cfg.triage_tickets, "tt")]
    backlog = records * max(1, 40_000 // len(records))
    b = spread([(await relay.throughput(backlog)).rate for _ in range(ctx.cfg.reps)])
    ctx.baseline["throughput_tickets"] = b
    if reason := missing("ticket-triage"):
        raise NotRun(reason)
    runs, outcomes = [], {}
    for _ in range(ctx.cfg.reps):
        rate, outcomes = await triage_once(records)
        runs.append(rate)
    r = spread(runs)
    ratio = r["median"] / b["median"]
    return {"tickets": len(records), "open_incidents": 50, "tickets_per_s": r, "baseline_msgs_per_s": b,
            "ratio": ratio, "ratio_min": r["min"] / b["median"], "ratio_max": r["max"] / b["median"],
            "outcomes": outcomes, "goal": GOAL, "pass": ratio >= GOAL}
