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
from ..procs import PEAKS, SERVICES, Proc, missing
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
        base = [rec for _, _, rec in ticket_stream(5_000, "mem")]
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


async def with_backlog(name: str, n: int, window_s: float) -> dict:
    """Fill the input topic with `n` records, start the service, sample its RSS for `window_s` seconds."""
    async with stack_slice() as s:
        topic, records = backlog_for(name, s, n)
        producer = bench_producer(s.bootstrap)
        await producer.start()
        try:
            await produce_bulk(producer, topic, records, s.kafka.partitions)
        finally:
            await producer.stop()
        del records
        async with services(s, [name]) as procs:
            proc: Proc = procs[name]
            proc.reset_peak()
            await asyncio.sleep(window_s)  # the sampling window itself, not synchronisation
            g = growth(proc.rss_series)
            return {"backlog_mb": proc.rss_peak / MB, "growth": g, "flat": g < 0.10, "backlog": n}


async def run(ctx: Ctx) -> dict:
    cfg = ctx.cfg
    window = cfg.backlog_window_s
    out: dict[str, dict] = {}
    for name in SERVICES:
        if (reason := missing(name)) is not None:
            out[name] = {"not_run": reason}
            continue
        n = cfg.backlog if name == "alert-ingest" else cfg.backlog // 10
        out[name] = {"load_mb": PEAKS.get(name, 0) / MB or None, **await with_backlog(name, n, window)}
    ran = [v for v in out.values() if "not_run" not in v]
    if not ran:
        raise NotRun("no service is built yet")
    ok = all(max(v["backlog_mb"], v["load_mb"] or 0) < LIMIT_MB and v["flat"] for v in ran)
    return {"services": out, "backlog": cfg.backlog, "limit_mb": LIMIT_MB, "window_s": window,
            "pass": ok and len(ran) == len(SERVICES)}
