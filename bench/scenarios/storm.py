"""Scenario 2: 200,000 alerts over 2,000 fingerprints at once, end to end through alert-ingest and
engineering-validation, against the time B needs to relay the same records; plus correctness counts."""

from __future__ import annotations

import collections
import time

import orjson

from ..kafka_io import Progress, TopicReader, bench_producer, produce_bulk
from ..measure import quiescent
from ..payloads import alert_stream, alerts_in, raw_records
from ..pipeline import progress, services
from ..procs import missing
from ..slice import Slice, stack_slice
from ..stats import spread
from . import Ctx, NotRun, relay

GOAL = 3.0


async def settled(s: Slice, pr: Progress, reader: TopicReader, outputs: list[str], timeout: float) -> float:
    """Wait until both groups consumed everything and the outputs stopped growing; wall time of completion."""
    groups = [("alert-ingest", s.topics.alerts_raw), ("engineering-validation", s.topics.alerts_state)]
    done_at: list[float] = []

    async def probe() -> tuple:
        lags = [await pr.lag(s.topics.group(g), t) for g, t in groups]
        if not done_at and not any(lags):
            done_at.append(time.time())
        elif any(lags):
            done_at.clear()
        return (*lags, *(reader.count(t) for t in outputs))

    await quiescent(probe, quiet_s=2.0, timeout=timeout, done=lambda v: not any(v[:2]))
    return done_at[0]


def check(reader: TopicReader, s: Slice, fingerprints: int) -> dict:
    """Correctness: one state change per fingerprint, one candidate per problem, no duplicate incident."""
    state = [orjson.loads(r.value) for r in reader.records[s.topics.alerts_state]]
    first = [e["data"]["alert"]["fingerprint"] for e in state if e["data"].get("change") == "first_firing"]
    validated = [orjson.loads(r.value)["data"] for r in reader.records[s.topics.alerts_validated]]
    per_problem = collections.defaultdict(set)
    for v in validated:
        if "candidate_id" in v and "decision" in v:
            per_problem[(v["product"], v["signal"])].add(v["candidate_id"])
    updates = [orjson.loads(r.value) for r in reader.records[s.topics.incidents_updates]]
    opened = [u["data"] for u in updates if u["type"].endswith("incident.opened.v1")]
    opened_per_problem = collections.Counter((o["product"], o.get("signal")) for o in opened)
    ids = collections.Counter(o["incident_id"] for o in opened)
    dlt = sum(reader.count(t) for t in reader.topics if t.endswith(".DLT"))
    result = {"state_changes": len(state), "first_firing": len(first), "distinct_first_firing": len(set(first)),
              "problems_decided": len(per_problem),
              "problems_with_several_candidates": sum(1 for c in per_problem.values() if len(c) > 1),
              "incidents_opened": len(opened), "duplicate_incident_ids": sum(1 for n in ids.values() if n > 1),
              "problems_with_several_incidents": sum(1 for n in opened_per_problem.values() if n > 1),
              "alert_attached": sum(1 for u in updates if u["type"].endswith("alert_attached.v1")),
              "dead_letters": dlt, "validated_events": len(validated),
              "candidates_per_problem_max": max((len(c) for c in per_problem.values()), default=0)}
    result["correct"] = (len(first) == len(set(first)) == fingerprints and not result["dead_letters"]
                         and not result["problems_with_several_candidates"] and not result["duplicate_incident_ids"]
                         and not result["problems_with_several_incidents"] and result["incidents_opened"] > 0)
    return result


async def storm_once(records, fingerprints: int, timeout: float) -> dict:
    async with stack_slice() as s, progress(s) as pr:
        outputs = [s.topics.incidents_updates, s.topics.alerts_validated]
        reader = TopicReader(s.bootstrap, [s.topics.alerts_state, *outputs, s.topics.alerts_raw + ".DLT",
                                           s.topics.alerts_state + ".DLT"])
        await reader.start()
        try:
            async with services(s, ["alert-ingest", "engineering-validation"]):
                producer = bench_producer(s.bootstrap)
                await producer.start()
                t0 = time.time()
                await produce_bulk(producer, s.topics.alerts_raw, records, s.kafka.partitions)
                await producer.stop()
                drained = await settled(s, pr, reader, outputs, timeout)
            last = max((r.timestamp_ms / 1000 for t in outputs for r in reader.records[t]), default=t0)
            return {"seconds": max(last, drained) - t0, "last_event_s": last - t0, "drained_s": drained - t0,
                    **check(reader, s, fingerprints)}
        finally:
            await reader.stop()


async def run(ctx: Ctx) -> dict:
    cfg = ctx.cfg
    records = raw_records(alert_stream(cfg.storm_alerts, cfg.storm_fingerprints, seed=11), seed=11)
    b = spread([await relay.storm_seconds(records) for _ in range(cfg.reps if cfg.quick else max(cfg.reps, 2))])
    ctx.baseline["storm_seconds"] = b
    if reason := missing("alert-ingest", "engineering-validation"):
        raise NotRun(reason)
    runs = []
    for _ in range(cfg.storm_reps):
        runs.append(await storm_once(records, cfg.storm_fingerprints, timeout=600))
    secs = spread([r["seconds"] for r in runs])
    ratio = secs["median"] / b["median"]
    return {"alerts": alerts_in(records), "records": len(records), "fingerprints": cfg.storm_fingerprints,
            "seconds": secs, "baseline_seconds": b, "ratio": ratio, "ratio_min": secs["min"] / b["median"],
            "ratio_max": secs["max"] / b["median"], "goal": GOAL, "runs": runs,
            "correct": all(r["correct"] for r in runs), "pass": ratio <= GOAL and all(r["correct"] for r in runs)}
