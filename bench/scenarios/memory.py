"""Scenario 6: peak RSS of each service under load (sampled during the other scenarios) and with a large
backlog waiting on its input topic (1,000,000 messages for alert-ingest), and whether it grows."""

from __future__ import annotations

import asyncio
import statistics
import uuid
from datetime import UTC, datetime

import orjson

from ..kafka_io import bench_producer, produce_bulk
from ..pipeline import services
from ..procs import PEAKS, SERVICES, missing
from ..slice import Slice, stack_slice
from ..tickets import ticket_stream
from . import Ctx, NotRun
from .ingest import mix

LIMIT_MB = 200.0
MB = 2**20


def _state_changes(n: int) -> list[tuple[bytes, bytes]]:
    """AlertStateChanged envelopes, one new fingerprint each (engineering-validation's input)."""
    now = datetime.now(UTC).isoformat()
    out = []
    for i in range(n):
        fp = f"m{i:015d}"
        alert = {"id": f"{fp}-1", "fingerprint": fp, "product": ["Chat", "Talk", "Guide", "Support"][i % 4],
                 "signal": "latency", "status": "firing", "severity": "warning", "summary": "p99 latency above 2s",
                 "starts_at": now, "source": "native"}
        ev = {"specversion": "1.0", "id": str(uuid.uuid4()), "source": "/bench",
              "type": "io.incident-pipeline.alert.state_changed.v1", "time": now, "subject": fp,
              "datacontenttype": "application/json",
              "data": {"schema_version": 1, "change": "first_firing", "alert": alert, "occurrences": 1}}
        out.append((fp.encode(), orjson.dumps(ev)))
    return out


def _incidents(n: int) -> list[tuple[bytes, bytes]]:
    """IncidentOpened envelopes for distinct incidents (the notifier's input, with no ticket to comment on)."""
    now = datetime.now(UTC).isoformat()
    out = []
    for i in range(n):
        iid = f"INC-mem{i:09d}"
        ev = {"specversion": "1.0", "id": str(uuid.uuid4()), "source": "/bench",
              "type": "io.incident-pipeline.incident.opened.v1", "time": now, "subject": iid,
              "datacontenttype": "application/json",
              "data": {"schema_version": 1, "incident_id": iid, "title": "Talk: calls dropping", "product": "Talk",
                       "severity": "SEV-3", "opened_from": "engineer"}}
        out.append((iid.encode(), orjson.dumps(ev)))
    return out


def backlog_for(name: str, s: Slice, n: int) -> tuple[str, list[tuple[bytes | None, bytes]]]:
    """(input topic, `n` records) for the service's main input."""
    if name == "alert-ingest":
        base = mix(20_000, seed=41)
        return s.topics.alerts_raw, [base[i % len(base)] for i in range(n)]
    if name == "engineering-validation":
        return s.topics.alerts_state, _state_changes(n)
    if name == "ticket-triage":
        base = [rec for _, _, rec in ticket_stream(500, "mem")]
        return s.topics.tickets_new, [(f"mem{i}".encode(), base[i % len(base)][1]) for i in range(n)]
    return s.topics.incidents_updates, _incidents(n)


def growth(series: list[tuple[float, int]]) -> float:
    """Relative growth of RSS from the middle third to the last third of the window."""
    xs = [rss for _, rss in series]
    if len(xs) < 6:
        return 0.0
    third = len(xs) // 3
    mid, last = statistics.mean(xs[third:2 * third]), statistics.mean(xs[2 * third:])
    return (last - mid) / mid


async def with_backlogs(names: list[str], sizes: dict[str, int], window_s: float) -> dict[str, dict]:
    """Fill each service's input topic, start them all on one slice, sample their RSS for `window_s` seconds."""
    async with stack_slice() as s:
        producer = bench_producer(s.bootstrap)
        await producer.start()
        try:
            for name in names:
                topic, records = backlog_for(name, s, sizes[name])
                await produce_bulk(producer, topic, records, s.kafka.partitions)
                del records
        finally:
            await producer.stop()
        async with services(s, names) as procs:
            for p in procs.values():
                p.reset_peak()
            await asyncio.sleep(window_s)  # the sampling window itself, not synchronisation
            out = {}
            for name, p in procs.items():
                g = growth(p.rss_series)
                out[name] = {"backlog_mb": p.rss_peak / MB, "growth": g, "flat": g < 0.10, "backlog": sizes[name]}
            return out


async def run(ctx: Ctx) -> dict:
    cfg = ctx.cfg
    out: dict[str, dict] = {n: {"not_run": r} for n in SERVICES if (r := missing(n)) is not None}
    names = [n for n in SERVICES if n not in out]
    if not names:
        raise NotRun("no service is built yet")
    sizes = {n: cfg.backlog if n == "alert-ingest" else cfg.backlog // 10 for n in names}
    under_load = dict(PEAKS)  # peaks of the scenarios before this one
    for name, v in (await with_backlogs(names, sizes, cfg.backlog_window_s)).items():
        where = max(ctx.results.items(), key=lambda kv: kv[1].get("rss_peak_mb", {}).get(name, 0), default=("-", {}))
        out[name] = {"load_mb": under_load.get(name, 0) / MB or None,
                     "load_in": where[0] if under_load.get(name) else None, **v}
    ran = [v for v in out.values() if "not_run" not in v]
    ok = all(max(v["backlog_mb"], v["load_mb"] or 0) < LIMIT_MB and v["flat"] for v in ran)
    return {"services": out, "backlog": cfg.backlog, "limit_mb": LIMIT_MB, "window_s": cfg.backlog_window_s,
            "pass": ok and len(ran) == len(SERVICES)}
