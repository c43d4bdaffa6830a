"""Scenario 3: latency under steady load. 1,000 alerts/s (with probes that each open an incident) ->
IncidentOpened; 200 tickets/s -> TicketLinked. Each against B's produce->consume p99 at the same rate."""

from __future__ import annotations

import time

import orjson

from ..kafka_io import TopicReader, bench_producer, produce_bulk, produce_paced
from ..payloads import Record, alerts_in, probe_alert
from ..pipeline import progress, services
from ..procs import missing
from ..slice import stack_slice
from ..measure import quiescent
from ..stats import percentiles, poll, spread
from ..tickets import incident_opened_records, open_incidents, ticket_stream
from . import Ctx, NotRun, relay
from .ingest import mix

PROBES_PER_S = 20
P99_MS, P99_RATIO = 250.0, 20.0


def alert_load(rate: int, seconds: float, run: str) -> tuple[list[Record], dict[int, str], float]:
    """Mix records plus a probe every so often: (records, record index -> probe product, records per second)."""
    background = mix(int(rate * seconds), seed=21)
    per_record = alerts_in(background) / len(background)
    record_rate = rate / per_record
    every = max(1, int(record_rate / PROBES_PER_S))
    records, probes = [], {}
    for i, rec in enumerate(background):
        if i % every == every - 1:
            key, value = probe_alert(len(probes), run)
            probes[len(records)] = key.decode()
            records.append((key, value))
        records.append(rec)
    return records, probes, record_rate


async def _measure(s, records, rate, topic, match, groups: list[tuple[str, str]],
                   warmup_s: float = 1.0) -> list[float]:
    """Send `records` at `rate`; once `groups` caught up and the output is quiet, the latency (ms) of each
    output record that `match(value)` ties to a send (sends in the first `warmup_s` left out)."""
    sent: dict[int, float] = {}
    reader = TopicReader(s.bootstrap, [s.topics.incidents_updates])
    await reader.start()
    producer = bench_producer(s.bootstrap, linger_ms=1)
    await producer.start()
    try:
        t0 = time.time()
        await produce_paced(producer, topic, records, rate, on_send=sent.__setitem__)
        async with progress(s) as pr:
            async def state() -> tuple:
                lags = [await pr.lag(s.topics.group(g), t) for g, t in groups]
                return (*lags, reader.count(s.topics.incidents_updates))
            await quiescent(state, quiet_s=1.0, timeout=120, done=lambda v: not any(v[:-1]))
        hits: dict[int, float] = {}
        for r in reader.records[s.topics.incidents_updates]:
            if (i := match(r.value)) is not None and i not in hits:
                hits[i] = r.received
        return [(at - sent[i]) * 1000 for i, at in hits.items() if sent[i] - t0 >= warmup_s]
    finally:
        await producer.stop()
        await reader.stop()


async def _baseline(ctx: Ctx, key: str, records: list[Record], rate: float, seconds: float) -> dict:
    if key not in ctx.baseline:
        ctx.baseline[key] = await relay.latency(records, int(rate), seconds)
    return ctx.baseline[key]


def _summary(samples: list[list[float]], b: dict) -> dict:
    p = percentiles([x for run in samples for x in run])
    p99s = [percentiles(run)["p99"] for run in samples]
    ratio = p["p99"] / b["p99"] if p["p99"] and b["p99"] else None
    return {"percentiles": p, "p99_ms": spread([x for x in p99s if x is not None]), "baseline": b,
            "baseline_p99_ms": b["p99"], "ratio": ratio,
            "pass": bool(p["p99"] is not None and p["p99"] < P99_MS and ratio is not None and ratio < P99_RATIO)}


async def run_alerts(ctx: Ctx) -> dict:
    cfg = ctx.cfg
    records, probes, record_rate = alert_load(cfg.latency_rate, cfg.latency_seconds, "p")
    b = await _baseline(ctx, "latency", records, record_rate, cfg.latency_seconds)
    if reason := missing("alert-ingest", "engineering-validation"):
        raise NotRun(reason)
    by_product = {product: i for i, product in probes.items()}

    def match(value: bytes) -> int | None:
        if b"incident.opened" not in value:
            return None
        return by_product.get(orjson.loads(value)["data"]["product"])

    samples = []
    for _ in range(cfg.reps):
        async with stack_slice() as s, services(s, ["alert-ingest", "engineering-validation"]):
            groups = [("alert-ingest", s.topics.alerts_raw), ("engineering-validation", s.topics.alerts_state)]
            samples.append(await _measure(s, records, record_rate, s.topics.alerts_raw, match, groups))
    summary = _summary(samples, b)
    return {"offered_alerts": alerts_in(records), "probes": len(probes), "alerts_per_s": cfg.latency_rate,
            "probes_per_s": PROBES_PER_S, "alerts": summary, "pass": summary["pass"]}


async def run_tickets(ctx: Ctx) -> dict:
    cfg = ctx.cfg
    tickets = ticket_stream(int(cfg.ticket_rate * cfg.latency_seconds), "lt")
    records = [rec for _, _, rec in tickets]
    b = await _baseline(ctx, "latency_tickets", records, cfg.ticket_rate, cfg.latency_seconds)
    if reason := missing("ticket-triage"):
        raise NotRun(reason)
    index = {tid.encode(): i for i, (tid, _, _) in enumerate(tickets)}

    def match(value: bytes) -> int | None:
        if b"ticket_linked" not in value:
            return None
        return index.get(orjson.loads(value)["data"]["ticket"]["ticket_id"].encode())

    samples = []
    for _ in range(cfg.reps):
        async with stack_slice() as s, services(s, ["ticket-triage"]):
            await seed_incidents(s)
            groups = [("ticket-triage", s.topics.tickets_new)]
            samples.append(await _measure(s, records, cfg.ticket_rate, s.topics.tickets_new, match, groups))
    summary = _summary(samples, b)
    return {"offered_tickets": len(records), "tickets_per_s": cfg.ticket_rate, "tickets": summary,
            "pass": summary["pass"]}


async def seed_incidents(s, n: int = 50) -> None:
    """Open `n` incidents on incidents.updates and wait until ticket-triage has consumed them."""
    producer = bench_producer(s.bootstrap)
    await producer.start()
    try:
        await produce_bulk(producer, s.topics.incidents_updates, incident_opened_records(open_incidents(n)),
                           s.kafka.partitions)
    finally:
        await producer.stop()
    async with progress(s) as pr:
        group, topic = s.topics.group("ticket-triage"), s.topics.incidents_updates
        await poll(lambda: pr.lag(group, topic), lambda lag: lag == 0, timeout=60, what="incidents seeded")
