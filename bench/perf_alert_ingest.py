"""alert-ingest's cost per record on the realistic mix, for before/after comparisons on a shared machine.

The service runs as its own process (python -m services.alert_ingest) on an isolated slice (own topic prefix,
own database) and drains a preloaded backlog of the bench mix (Alertmanager webhooks with 2..6 alerts,
PagerDuty events, native alerts; 90% of alerts repeat an open fingerprint). Between its first and its last
offset commit the script samples the process's CPU time (user + system, psutil): CPU µs per record is robust
to the machine's other load, records/s is not. `--relay` measures the raw aiokafka relay (bench.baseline) on
the same records in the same way, so the two can be compared in the same minutes.

    .venv/bin/python -m bench.perf_alert_ingest --alerts 40000 --reps 3 --relay
    .venv/bin/python -m bench.perf_alert_ingest --against 1ac791d           # interleaved with an older tree
    .venv/bin/python -m bench.perf_alert_ingest --profile /tmp/ingest.txt   # py-spy while it drains
    .venv/bin/python -m bench.perf_alert_ingest --inproc [--cprofile]       # handle() alone, no Kafka

`--inproc` calls IngestService.handle directly on batches of 2000 records (the consumer's batch size) against
the slice's database: CPU per record of parsing, deciding and the SQL client side, without Kafka, the outbox
relay or FastStream.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import shutil
import statistics
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

import asyncpg
import psutil

from .payloads import Record, alerts_in
from .pipeline import A, progress, relay, services
from .scenarios.ingest import mix, preload
from .scenarios.profile import record as py_spy_record, summarise
from .procs import ROOT, Proc, service_proc
from .slice import stack_slice


@dataclass
class Run:
    records: int  # records counted (after the first commit)
    seconds: float
    cpu_s: float  # CPU of the process between its first and last commit
    cpu_drained_s: float  # ... until its outbox was empty too (the relay's publishing included)
    rss_peak: int = 0  # bytes, sampled every 0.25 s (alert-ingest runs only)

    @property
    def rate(self) -> float:
        return self.records / self.seconds

    @property
    def us_per_record(self) -> float:
        return self.cpu_s / self.records * 1e6

    @property
    def us_drained(self) -> float:
        return self.cpu_drained_s / self.records * 1e6


def _cpu(p: psutil.Process | _Procs) -> float:
    if isinstance(p, _Procs):
        return sum(_cpu(x) for x in p.procs)
    t = p.cpu_times()
    return t.user + t.system


@dataclass
class _Procs:
    """Several instances whose CPU time is summed."""

    procs: list[psutil.Process]


async def _watch(pr, group: str, topic: str, total: int, pid: int | list[int], *, outbox_dsn: str | None = None,
                 timeout: float = 600, on_first=None) -> Run:
    """Poll committed offsets and the CPU time of the process(es); figures from the first commit to the last."""
    loop = asyncio.get_running_loop()
    proc = _Procs([psutil.Process(p) for p in (pid if isinstance(pid, list) else [pid])])
    deadline = loop.time() + timeout
    first = None
    while True:
        done = await pr.committed(group, topic)
        now, cpu = loop.time(), _cpu(proc)
        if first is None and done > 0:
            first = (now, done, cpu)
            if on_first:
                on_first()
        if first is not None and done >= total:
            break
        if now > deadline:
            raise TimeoutError(f"{group}: {done}/{total} committed")
        await asyncio.sleep(0.05)
    t0, n0, c0 = first
    if n0 >= total:
        raise RuntimeError("everything in one commit: too few records to time")
    drained = cpu
    if outbox_dsn:
        conn = await asyncpg.connect(outbox_dsn)
        try:
            while await conn.fetchval("SELECT count(*) FROM alert_ingest.outbox"):
                await asyncio.sleep(0.05)
        finally:
            await conn.close()
        drained = _cpu(proc)
    return Run(total - n0, now - t0, cpu - c0, drained - c0)


def export_tree(commit: str) -> Path:
    """The repository at `commit` in a temporary folder (git archive), to run an older service from."""
    out = Path(tempfile.mkdtemp(prefix=f"perf-ingest-{commit[:8]}-"))
    archive = subprocess.run(["git", "archive", commit], cwd=ROOT, check=True, capture_output=True).stdout
    subprocess.run(["tar", "-x", "-C", str(out)], input=archive, check=True)
    return out


@contextlib.asynccontextmanager
async def _service(s, tree: Path | None, extra: dict[str, str] | None = None, instances: int = 1):
    """alert-ingest as a process on the slice: from this tree, or from an exported one; with `instances` > 1,
    that many processes of this tree in the same consumer group (yields the list)."""
    if instances > 1:
        procs = [service_proc("alert-ingest", s.env(), extra) for _ in range(instances)]
        try:
            for p in procs:
                p.start()
            yield procs
        finally:
            await asyncio.gather(*(p.stop() for p in procs))
        return
    if tree is None:
        async with services(s, ["alert-ingest"], extra=extra, ready=False) as procs:
            yield procs["alert-ingest"]
        return
    proc = service_proc("alert-ingest", s.env(), extra)
    proc.start = lambda: _start_in(proc, tree)  # type: ignore[method-assign]
    proc.start()
    try:
        yield proc
    finally:
        await proc.stop()


def _start_in(proc: Proc, tree: Path) -> None:
    """Proc.start, with the exported tree as the working directory (so `-m services...` imports from it)."""
    proc.log_path.parent.mkdir(parents=True, exist_ok=True)
    log = open(proc.log_path, "ab")
    proc.proc = subprocess.Popen(proc.argv, cwd=tree, stdout=log, stderr=subprocess.STDOUT,
                                 env={**os.environ, **proc.env})
    proc._sampler = asyncio.create_task(proc._sample())


async def ingest_run(records: list[Record], profile: str | None = None, profile_s: int = 8,
                     tree: Path | None = None, extra: dict[str, str] | None = None, instances: int = 1) -> Run:
    async with stack_slice() as s:
        await preload(s, s.topics.alerts_raw, records)
        async with progress(s) as pr, _service(s, tree, extra, instances) as proc:
            if isinstance(proc, list):  # several instances: CPU summed, RSS of the largest
                run = await _watch(pr, s.topics.group("alert-ingest"), s.topics.alerts_raw, len(records),
                                   [p.proc.pid for p in proc], outbox_dsn=s.database_url)
                run.rss_peak = max(p.rss_peak for p in proc)
                return run
            tasks = []

            def start_profile() -> None:
                if profile:
                    tasks.append(asyncio.create_task(py_spy_record(proc, profile_s, Path(profile))))

            run = await _watch(pr, s.topics.group("alert-ingest"), s.topics.alerts_raw, len(records),
                               proc.proc.pid, outbox_dsn=s.database_url, on_first=start_profile)
            for t in tasks:
                await t
            run.rss_peak = proc.rss_peak
            return run


async def relay_run(records: list[Record]) -> Run:
    async with stack_slice([A, "bench.b"], pipeline=False) as s:
        await preload(s, s.prefix + A, records)
        async with progress(s) as pr, relay(s, ready=False) as (proc, group):
            return await _watch(pr, group, s.prefix + A, len(records), proc.proc.pid)


@dataclass
class FakeRecord:
    """A ConsumerRecord look-alike."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes
    timestamp: int
    headers: tuple = ()


async def inproc_run(records: list[Record], batch: int = 2000, cprofile: bool = False) -> Run:
    """IngestService.handle on consumer-sized batches; process CPU time around each call."""
    import cProfile
    import pstats
    import time
    import zlib

    import gc

    from services.alert_ingest import app
    from services.alert_ingest.app import MIGRATIONS, SCHEMA
    from services.alert_ingest.service import IngestService
    from services.alert_ingest.settings import Settings
    from shared.db import SHARED_MIGRATIONS, apply_migrations, create_pool

    async with stack_slice() as s:
        pool = await create_pool(s.database_url, schema=SCHEMA, min_size=1, max_size=2)
        try:
            await apply_migrations(pool, schema=SCHEMA, folders=[("shared", SHARED_MIGRATIONS),
                                                                  ("service", MIGRATIONS)])
            service = IngestService(pool, s.topics, Settings(), service="alert-ingest",
                                    group_id=s.topics.group("alert-ingest"))
            offsets = [0] * 6
            recs = []
            now_ms = int(time.time() * 1000)
            for i, (key, value) in enumerate(records):
                p = zlib.crc32(key) % 6 if key else i % 6
                recs.append(FakeRecord(s.topics.alerts_raw, p, offsets[p], key, value, now_ms + i))
                offsets[p] += 1
            # as the app does after start-up (the thresholds only where the app sets them)
            gc.freeze()
            gc.set_threshold(*getattr(app, "GC_THRESHOLDS", gc.get_threshold()))
            prof = cProfile.Profile() if cprofile else None
            cpu = wall = 0.0
            for i in range(0, len(recs), batch):
                chunk = tuple(recs[i:i + batch])
                c0, w0 = time.process_time(), time.perf_counter()
                if prof:
                    prof.enable()
                await service.handle(chunk)
                if prof:
                    prof.disable()
                cpu += time.process_time() - c0
                wall += time.perf_counter() - w0
            if prof:
                pstats.Stats(prof).sort_stats("tottime").print_stats(30)
                pstats.Stats(prof).sort_stats("cumulative").print_stats(40)
            return Run(len(recs), wall, cpu, cpu)
        finally:
            await pool.close()


def _line(name: str, runs: list[Run]) -> str:
    us = [r.us_per_record for r in runs]
    usd = [r.us_drained for r in runs]
    rate = [r.rate for r in runs]
    return (f"{name:13s} CPU µs/record median {statistics.median(us):6.1f} (min {min(us):.1f}, max {max(us):.1f})"
            f" | with outbox drained {statistics.median(usd):6.1f}"
            f" | records/s median {statistics.median(rate):7.0f} (min {min(rate):.0f}, max {max(rate):.0f})"
            + (f" | peak RSS {max(r.rss_peak for r in runs) / 2**20:.0f} MiB" if runs[0].rss_peak else ""))


async def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--alerts", type=int, default=40_000, help="alerts in the mix (records: about 0.62 per alert)")
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--seed", type=int, default=8)
    ap.add_argument("--relay", action="store_true", help="also measure the raw aiokafka relay, interleaved")
    ap.add_argument("--against", metavar="COMMIT", help="also run the service as of COMMIT, interleaved")
    ap.add_argument("--env", action="append", default=[], metavar="NAME=VALUE",
                    help="extra environment for the service under test (not for --against), e.g. "
                         "ALERT_INGEST_CONSUMER_MAX_RECORDS=5000")
    ap.add_argument("--instances", type=int, default=1, help="alert-ingest processes in the consumer group "
                    "(CPU summed over them)")
    ap.add_argument("--also-instances", type=int, action="append", default=[], metavar="N",
                    help="also measure N instances, interleaved (repeatable)")
    ap.add_argument("--inproc", action="store_true", help="handle() in this process, no Kafka (see above)")
    ap.add_argument("--cprofile", action="store_true", help="with --inproc: cProfile the handle() calls")
    ap.add_argument("--profile", help="py-spy the service while it drains (one run), raw output to this file")
    ap.add_argument("--poison", type=float, metavar="PERCENT",
                    help="compare the mix with PERCENT%% of its records replaced by junk (issue 9: 1%% poison "
                         "within 10%% of clean), ABBA-interleaved")
    a = ap.parse_args()
    records = mix(a.alerts, seed=a.seed)
    print(f"{len(records)} records, {alerts_in(records)} alerts")
    if a.poison:
        await _poison_vs_clean(a, records)
        return
    if a.inproc:
        runs = []
        for _ in range(a.reps):
            runs.append(await inproc_run(records, cprofile=a.cprofile))
            print(f"  in process: {runs[-1].us_per_record:.1f} µs/record, {runs[-1].rate:.0f}/s", flush=True)
        print(_line("handle()", runs))
        return
    if a.profile:
        r = await ingest_run(records, a.profile, extra=dict(e.split("=", 1) for e in a.env))
        print(_line("alert-ingest*", [r]), "(* under py-spy)")
        own, incl = summarise(Path(a.profile), top=25)
        for f, p in own:
            print(f"  self {p:5.1f}%  {f}")
        for f, p in incl:
            print(f"  incl {p:5.1f}%  {f}")
        return
    ingest, base, older, more = [], [], [], {}
    old_tree = export_tree(a.against) if a.against else None
    try:
        await _interleaved(a, records, ingest, base, older, old_tree, more)
    finally:
        if old_tree is not None:
            shutil.rmtree(old_tree, ignore_errors=True)
    if older:
        print(_line(a.against[:12], older))
    print(_line("alert-ingest" + (f" x{a.instances}" if a.instances > 1 else ""), ingest))
    for n, runs in more.items():
        print(_line(f"alert-ingest x{n}", runs))
    if base:
        print(_line("relay", base))
        ratio = statistics.median(r.rate for r in ingest) / statistics.median(r.rate for r in base)
        cpu_ratio = (statistics.median(r.us_per_record for r in base)
                     / statistics.median(r.us_per_record for r in ingest))
        print(f"throughput ratio (records/s) {ratio:.2f}; CPU ratio (relay µs / ingest µs) {cpu_ratio:.2f}")
        for n, runs in more.items():
            print(f"x{n} instances: throughput ratio "
                  f"{statistics.median(r.rate for r in runs) / statistics.median(r.rate for r in base):.2f}")


async def _poison_vs_clean(a, records: list[Record]) -> None:
    """The same mix clean and with a share of its records replaced by junk that must be dead-lettered
    (tests/support/chaos.poison_values: random bytes, invalid UTF-8, deep nesting, wrong types, ...), in ABBA
    order; records/s counts every record, junk included."""
    import random

    from tests.support.chaos import poison_values

    rng = random.Random(a.seed)
    n_bad = max(1, round(len(records) * a.poison / 100))
    poisoned = list(records)
    for i, v in zip(rng.sample(range(len(records)), n_bad), poison_values(n_bad, rng), strict=True):
        poisoned[i] = (None, v)
    runs: dict[str, list[Run]] = {"clean": [], "poison": []}
    order = ["clean", "poison", "poison", "clean"] * ((a.reps + 1) // 2)
    for label in order[: 2 * a.reps]:
        r = await ingest_run(records if label == "clean" else poisoned)
        runs[label].append(r)
        print(f"  {label:6s} {r.us_per_record:.1f} µs/record, {r.rate:.0f}/s", flush=True)
    print(_line("clean", runs["clean"]))
    print(_line(f"{a.poison:g}% poison", runs["poison"]))
    rate = {k: statistics.median(r.rate for r in v) for k, v in runs.items()}
    us = {k: statistics.median(r.us_per_record for r in v) for k, v in runs.items()}
    print(f"poison/clean records/s {rate['poison'] / rate['clean']:.3f}; CPU per record clean/poison "
          f"{us['clean'] / us['poison']:.3f} ({n_bad} junk records of {len(records)})")


async def _interleaved(a, records, ingest: list[Run], base: list[Run], older: list[Run],
                       old_tree: Path | None, more: dict[int, list[Run]]) -> None:
    """Repetitions of the older tree (if any) and this tree, in alternating order (ABBA: neither always
    runs first), then the relay (if asked)."""
    async def old(i: int) -> None:
        older.append(await ingest_run(records, tree=old_tree))
        print(f"  rep {i + 1}: {a.against[:12]:12s} {older[-1].us_per_record:.1f} µs/record, "
              f"{older[-1].rate:.0f}/s", flush=True)

    async def new(i: int) -> None:
        ingest.append(await ingest_run(records, extra=dict(e.split("=", 1) for e in a.env), instances=a.instances))
        print(f"  rep {i + 1}: alert-ingest {ingest[-1].us_per_record:.1f} µs/record, {ingest[-1].rate:.0f}/s",
              flush=True)
        for n in a.also_instances:
            more.setdefault(n, []).append(await ingest_run(records, extra=dict(e.split("=", 1) for e in a.env),
                                                           instances=n))
            print(f"  rep {i + 1}: alert-ingest x{n} {more[n][-1].us_per_record:.1f} µs/record, "
                  f"{more[n][-1].rate:.0f}/s", flush=True)

    for i in range(a.reps):
        order = [old, new] if i % 2 == 0 else [new, old]
        for step in order:
            if step is new or old_tree is not None:
                await step(i)
        if a.relay:
            base.append(await relay_run(records))
            print(f"  rep {i + 1}: relay        {base[-1].us_per_record:.1f} µs/record, {base[-1].rate:.0f}/s",
                  flush=True)


if __name__ == "__main__":
    asyncio.run(main())
