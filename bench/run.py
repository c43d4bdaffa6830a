"""`python -m bench.run`: every scenario of issue 8 on the shared stack, results to .state/bench/ and
docs/benchmarks.md. BENCH_QUICK=1 for the small sizes; BENCH_ONLY=ingest,storm to pick scenarios."""

from __future__ import annotations

import asyncio
import logging
import os
import sys
import time
import traceback
import uuid
from datetime import UTC, datetime

from . import config, machine, report
from .procs import SCENARIO_PEAKS, STATE
from .scenarios import Ctx, NotRun, alertmanager, fanout, ingest, latency, memory, profile, storm, triage
from .slice import ADMIN_DSN, BOOTSTRAP

SCENARIOS = [
    ("ingest", ingest.run), ("storm", storm.run), ("latency_alerts", latency.run_alerts),
    ("latency_tickets", latency.run_tickets), ("triage", triage.run), ("fanout", fanout.run),
    ("alertmanager", alertmanager.run), ("profile", profile.run),
    ("memory", memory.run), ("profile_triage", profile.run_triage),
]
BUDGET_S = {True: 100, False: 800}  # stop starting scenarios past this (make bench < 15 min, quick < 2 min)


def say(msg: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


async def main() -> dict:
    cfg = config.load()
    only = {x.strip() for x in os.environ.get("BENCH_ONLY", "").split(",") if x.strip()}
    started = datetime.now(UTC)
    ctx = Ctx(cfg, started.strftime("%Y%m%dT%H%M%SZ") + "-" + uuid.uuid4().hex[:4])
    kafka_v, pg_v = await machine.server_versions(ADMIN_DSN, BOOTSTRAP)
    info = machine.describe(kafka_v, pg_v)
    t0 = time.monotonic()
    for name, fn in SCENARIOS:
        if only and name not in only:
            continue
        if time.monotonic() - t0 > BUDGET_S[cfg.quick]:
            ctx.results[name] = {"not_run": "time budget of this run spent"}
            continue
        say(f"{name} ...")
        SCENARIO_PEAKS.clear()
        t = time.monotonic()
        try:
            ctx.results[name] = await fn(ctx)
        except NotRun as exc:
            ctx.results[name] = {"not_run": str(exc)}
        except Exception as exc:
            traceback.print_exc()
            ctx.results[name] = {"error": f"{type(exc).__name__}: {exc}"}
        ctx.results[name]["elapsed_s"] = round(time.monotonic() - t, 1)
        ctx.results[name]["rss_peak_mb"] = {k: round(v / 2**20) for k, v in SCENARIO_PEAKS.items()}
        say(f"{name}: {report._verdict(ctx.results[name])} in {time.monotonic() - t:.0f} s")
    results_file = STATE / f"results-{ctx.run_id}.json"
    doc = {"run_id": ctx.run_id, "quick": cfg.quick, "started": started.strftime("%Y-%m-%d %H:%M"),
           "duration_s": time.monotonic() - t0, "config": cfg.__dict__, "machine": info,
           "baseline": ctx.baseline, "results": ctx.results, "results_file": str(results_file.relative_to(
               report.ROOT))}
    report.write(doc, results_file)
    for row in report.rows(ctx.results):
        say(" | ".join(row))
    say(f"results: {results_file}; table: docs/benchmarks.md")
    return doc


if __name__ == "__main__":
    logging.basicConfig(level=logging.ERROR)
    logging.getLogger("aiokafka").setLevel(logging.ERROR)
    asyncio.run(main())
