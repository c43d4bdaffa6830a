"""ticket-triage on its hot path: CPU per ticket and tickets/s, and an equivalence check against a git revision.

    python -m bench.perf_ticket_triage throughput [--tickets 3000] [--reps 3]
    python -m bench.perf_ticket_triage equivalence --against <rev> [--tickets 3000] [--batch 500]

`throughput` measures as scenario 4 of the harness does: an isolated slice (own topic prefix and database),
ticket-triage started as a process, 50 incidents opened on incidents.updates, then a backlog of Zendesk
ticket.created records on tickets.new; timed from the first record produced until the last ticket's first
TicketTriaged is read back from tickets.triaged. CPU seconds of the service process (psutil, user + system)
over the same span, divided by the tickets: on a shared 2-core machine that figure is steadier than the rate.

`equivalence` feeds the same batches, in process and in the same order, to the service at `--against` (taken
with `git archive` into a temporary package) and to the working tree's, each on its own database, and compares
every row they store and every outbox row they write (times left out). It prints the differences, if any.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import contextlib
import importlib
import io
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import asyncpg
import orjson
import psutil

from .kafka_io import TopicReader, bench_producer, produce_bulk
from .pipeline import services
from .scenarios.latency import seed_incidents
from .slice import ADMIN_DSN, _with_database, stack_slice
from .tickets import incident_opened_records, open_incidents, ticket_stream

ROOT = Path(__file__).resolve().parents[1]


def _cpu(p: psutil.Process) -> float:
    t = p.cpu_times()
    return t.user + t.system


async def throughput_once(n: int, run: str, profile: Path | None = None) -> dict[str, Any]:
    records = [rec for _, _, rec in ticket_stream(n, run)]
    ids = {k.decode() for k, _ in records}
    async with stack_slice() as s, services(s, ["ticket-triage"]) as procs:
        await seed_incidents(s)
        proc = psutil.Process(procs["ticket-triage"].proc.pid)
        reader = TopicReader(s.bootstrap, [s.topics.tickets_triaged])
        await reader.start()
        producer = bench_producer(s.bootstrap)
        await producer.start()
        seen: set[str] = set()
        outcomes: collections.Counter[str] = collections.Counter()
        read = 0
        try:
            await asyncio.sleep(1.0)  # idle: the process settles after seeding
            spy = None
            if profile is not None:  # py-spy on the service while it works (sampling costs it a little)
                spy = await asyncio.create_subprocess_exec(
                    str(Path(sys.executable).parent / "py-spy"), "record", "--pid", str(proc.pid), "--rate", "200",
                    "--format", "raw", "--output", str(profile), "--nonblocking", "--idle",
                    stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL)
                await asyncio.sleep(1.0)
            cpu0, t0 = _cpu(proc), time.monotonic()
            await produce_bulk(producer, s.topics.tickets_new, records, s.kafka.partitions)
            deadline = t0 + 900
            while len(seen) < len(ids):
                got = reader.records[s.topics.tickets_triaged]
                for r in got[read:]:
                    doc = orjson.loads(r.value)
                    tid = doc["data"]["ticket"]["ticket_id"]
                    if tid not in seen:
                        seen.add(tid)
                    outcomes[doc["data"]["outcome"]] += 1
                read = len(got)
                if time.monotonic() > deadline or not procs["ticket-triage"].alive():
                    raise RuntimeError(f"only {len(seen)}/{len(ids)} tickets triaged")
                await asyncio.sleep(0.02)
            t1, cpu1 = time.monotonic(), _cpu(proc)
            if spy is not None:
                spy.send_signal(2)  # SIGINT: py-spy writes what it sampled
                await spy.wait()
        finally:
            await producer.stop()
            await reader.stop()
    return {"tickets": len(ids), "seconds": t1 - t0, "tickets_per_s": len(ids) / (t1 - t0),
            "cpu_us_per_ticket": (cpu1 - cpu0) / len(ids) * 1e6, "events": dict(outcomes)}


async def throughput(args: argparse.Namespace) -> None:
    runs = []
    for i in range(args.reps):
        r = await throughput_once(args.tickets, f"pf{i}", profile=args.profile)
        runs.append(r)
        print(orjson.dumps(r).decode(), flush=True)
    for key in ("tickets_per_s", "cpu_us_per_ticket"):
        vals = [r[key] for r in runs]
        print(f"{key}: median {statistics.median(vals):.0f} (min {min(vals):.0f}, max {max(vals):.0f}, "
              f"{len(vals)} runs)")


# --- equivalence ------------------------------------------------------------------------------------------


def _reference_package(rev: str, into: Path) -> str:
    """services/ticket_triage at `rev` as a top-level package `ticket_triage_ref` (relative imports only)."""
    tar = subprocess.run(["git", "archive", rev, "services/ticket_triage"], cwd=ROOT, check=True,
                         capture_output=True).stdout
    with tarfile.open(fileobj=io.BytesIO(tar)) as tf:
        tf.extractall(into, filter="data")
    (into / "services" / "ticket_triage").rename(into / "ticket_triage_ref")
    sys.path.insert(0, str(into))
    return "ticket_triage_ref"


class _Rec(SimpleNamespace):
    """What handle_tickets reads of an aiokafka ConsumerRecord."""


async def _build(pkg: str, dsn: str) -> Any:
    from shared.db import SHARED_MIGRATIONS, apply_migrations, create_pool
    from shared.topics import Topics

    app = importlib.import_module(f"{pkg}.app")
    service = importlib.import_module(f"{pkg}.service")
    events = importlib.import_module(f"{pkg}.events")
    settings = importlib.import_module(f"{pkg}.settings").Settings()
    pool = await create_pool(dsn, schema="triage", max_size=2)
    await apply_migrations(pool, schema="triage", folders=[("shared", SHARED_MIGRATIONS),
                                                           ("service", app.MIGRATIONS)])
    emitter = events.Emitter(Topics("eq."), settings.product_teams)
    return service.TriageService(pool, emitter, settings.policy, group_id="eq.ticket-triage")


def _unregister_metrics(pkg: str) -> None:
    """Let the other package register metrics of the same names in this process."""
    from prometheus_client import REGISTRY
    from prometheus_client.metrics import MetricWrapperBase

    for name, mod in list(sys.modules.items()):
        if name == pkg or name.startswith(pkg + "."):
            for value in vars(mod).values():
                if isinstance(value, MetricWrapperBase):
                    with contextlib.suppress(KeyError):
                        REGISTRY.unregister(value)


async def _snapshot(pool: asyncpg.Pool) -> dict[str, list]:
    """Every stored row, times left out (now() and utcnow() differ between the two runs)."""
    out: dict[str, list] = {}
    out["tickets"] = [dict(r) for r in await pool.fetch(
        "SELECT * FROM triage.tickets ORDER BY ticket_id")]
    out["decisions"] = [dict(r) for r in await pool.fetch("SELECT * FROM triage.decisions ORDER BY id")]
    out["links"] = [dict(r) for r in await pool.fetch("SELECT * FROM triage.links ORDER BY incident_id, ticket_id")]
    out["incidents"] = [dict(r) for r in await pool.fetch("SELECT * FROM triage.incidents ORDER BY incident_id")]
    out["positions"] = [dict(r) for r in await pool.fetch(
        "SELECT group_id, topic, partition, next_offset FROM triage.consumer_positions ORDER BY 1, 2, 3")]
    rows = await pool.fetch("SELECT id, topic, key, value, headers FROM triage.outbox ORDER BY id")
    outbox = []
    for r in rows:
        try:
            v = orjson.loads(r["value"])
        except orjson.JSONDecodeError:
            v = r["value"]  # a dead letter: the original bytes
        if isinstance(v, dict):
            v.pop("time", None)
            if isinstance(v.get("data"), dict):
                v["data"].pop("decided_at", None)
        headers = [h for h in orjson.loads(r["headers"]) if h[0] != "dlt-time"]
        outbox.append({"id": r["id"], "topic": r["topic"], "key": r["key"], "value": v, "headers": headers})
    out["outbox"] = outbox
    for name in ("tickets", "decisions", "links", "incidents"):
        for row in out[name]:
            for col in ("received_at", "decided_at", "linked_at", "updated_at"):
                row.pop(col, None)
    return out


async def equivalence(args: argparse.Namespace) -> None:
    import uuid

    from shared.logging import configure_logging

    configure_logging(service="perf", level="WARNING")

    tmp = Path(tempfile.mkdtemp(prefix="triage-ref-"))
    ref_pkg = _reference_package(args.against, tmp)
    stream = ticket_stream(args.tickets, "eq", seed=args.seed)
    incidents = incident_opened_records(open_incidents(args.incidents))
    # a few junk records and a retried ticket, as production sees them
    values = [rec for _, _, rec in stream]
    values[10:10] = [(b"junk", b"{junk"), (b"nope", b'{"type": "zen:event-type:ticket.deleted"}')]
    values.insert(200, values[50])
    dbs = {}
    admin = await asyncpg.connect(ADMIN_DSN)
    try:
        for pkg in (ref_pkg, "services.ticket_triage"):
            name = f"perf_eq_{uuid.uuid4().hex[:10]}"
            await admin.execute(f'CREATE DATABASE "{name}"')
            dbs[pkg] = name
        snaps, cpu = {}, {}
        for pkg, name in dbs.items():
            svc = await _build(pkg, _with_database(ADMIN_DSN, name))
            try:
                inc = [_Rec(topic="eq.incidents.updates", partition=0, offset=i, key=k, value=v, timestamp=0)
                       for i, (k, v) in enumerate(incidents)]
                await svc.handle_incident_updates(inc)
                recs = [_Rec(topic="eq.tickets.new", partition=i % 3, offset=i // 3, key=k, value=v, timestamp=0)
                        for i, (k, v) in enumerate(values)]
                t0 = time.process_time()
                for i in range(0, len(recs), args.batch):
                    await svc.handle_tickets(recs[i:i + args.batch])
                cpu[pkg] = time.process_time() - t0
                await svc.handle_tickets(recs[:args.batch])  # redelivered: changes nothing
                snaps[pkg] = await _snapshot(svc.pool)
            finally:
                await svc.pool.close()
                _unregister_metrics(pkg)
    finally:
        for name in dbs.values():
            with contextlib.suppress(Exception):
                await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()
    ref, new = snaps[ref_pkg], snaps["services.ticket_triage"]
    differences = 0
    for table in ref:
        a, b = ref[table], new[table]
        if a != b:
            differences += 1
            print(f"DIFFERENT {table}: {len(a)} rows at {args.against}, {len(b)} in the working tree")
            for x, y in zip(a, b, strict=False):
                if x != y:
                    print("  first difference:\n   ", x, "\n   ", y)
                    break
        else:
            print(f"same {table}: {len(a)} rows")
    outcomes = collections.Counter(r["outcome"] for r in new["decisions"])
    print(f"decisions by outcome: {dict(outcomes)}")
    for pkg, secs in cpu.items():
        print(f"in-process CPU per ticket, {pkg}: {secs / len(values) * 1e6:.0f} us")
    if differences:
        raise SystemExit(1)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="mode", required=True)
    t = sub.add_parser("throughput")
    t.add_argument("--tickets", type=int, default=3000)
    t.add_argument("--reps", type=int, default=3)
    t.add_argument("--profile", type=Path, help="py-spy raw output of the service process (figures then skewed)")
    e = sub.add_parser("equivalence")
    e.add_argument("--against", default="HEAD")
    e.add_argument("--tickets", type=int, default=3000)
    e.add_argument("--incidents", type=int, default=50)
    e.add_argument("--batch", type=int, default=500)
    e.add_argument("--seed", type=int, default=5)
    args = p.parse_args()
    asyncio.run(throughput(args) if args.mode == "throughput" else equivalence(args))


if __name__ == "__main__":
    main()
