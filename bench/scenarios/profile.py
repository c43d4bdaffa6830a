"""alert-ingest under load, sampled with py-spy: where its time goes (self and inclusive, top functions)."""

from __future__ import annotations

import asyncio
import collections
import re
import shutil
import sys
from pathlib import Path

from ..procs import STATE, Proc, missing
from . import Ctx, NotRun
from ..tickets import ticket_stream
from .ingest import ingest_once, mix
from .triage import triage_once


def py_spy() -> str | None:
    here = Path(sys.executable).parent / "py-spy"
    return str(here) if here.exists() else shutil.which("py-spy")


def _function(frame: str) -> str:
    """'name (path:line)' -> 'name (path)': samples of one function, whatever line."""
    return re.sub(r":\d+\)$", ")", frame.strip())


def summarise(collapsed: Path, top: int = 15) -> tuple[list[tuple[str, float]], list[tuple[str, float]]]:
    """(self %, inclusive %) per function from py-spy's collapsed stacks ('a;b;c N' per line)."""
    own: collections.Counter[str] = collections.Counter()
    incl: collections.Counter[str] = collections.Counter()
    total = 0
    for line in collapsed.read_text().splitlines():
        stack, _, n = line.rpartition(" ")
        if not stack or not n.isdigit():
            continue
        frames = [_function(f) for f in stack.split(";") if f.strip()]
        count = int(n)
        total += count
        if frames:
            own[frames[-1]] += count
        for f in set(frames):
            incl[f] += count
    pct = 100.0 / max(total, 1)
    return ([(f, c * pct) for f, c in own.most_common(top)],
            [(f, c * pct) for f, c in incl.most_common(top * 4) if ("services/" in f or "shared/" in f)
             and "__main__" not in f and "serve (" not in f][:top])


async def record(proc: Proc, seconds: int, out: Path) -> None:
    """Attach py-spy to the running service for `seconds` (idle samples left out)."""
    argv = [py_spy(), "record", "--pid", str(proc.proc.pid), "--duration", str(seconds), "--rate", "200",
            "--format", "raw", "--output", str(out), "--nonblocking"]
    p = await asyncio.create_subprocess_exec(*argv, stdout=asyncio.subprocess.DEVNULL,
                                             stderr=asyncio.subprocess.PIPE)
    _, err = await p.communicate()
    if p.returncode != 0 or not out.exists():
        raise RuntimeError(f"py-spy failed: {err.decode()[-500:]}")


def _table(own, incl) -> list[str]:
    table = ["| self % | function (self time) |", "|---:|---|"] + [f"| {p:.1f} | `{f}` |" for f, p in own]
    table += ["", "| inclusive % | function in services/ or shared/ |", "|---:|---|"]
    return table + [f"| {p:.1f} | `{f}` |" for f, p in incl]


def _sampler(secs: int, out: Path):
    def start(proc: Proc):
        async def later() -> None:
            await proc.wait_http_ready(timeout=60)
            await record(proc, secs, out)
        return asyncio.create_task(later())
    return start


async def run(ctx: Ctx) -> dict:
    if reason := missing("alert-ingest"):
        raise NotRun(reason)
    if py_spy() is None:
        raise NotRun("py-spy is not installed (pip install py-spy)")
    out = STATE / f"profile-alert-ingest-{ctx.run_id}.txt"
    out.parent.mkdir(parents=True, exist_ok=True)
    secs = ctx.cfg.profile_seconds
    records = mix(max(ctx.cfg.throughput_alerts, 2_000 * secs * 2), seed=31)  # enough to stay busy while sampled
    d = await ingest_once(records, on_running=_sampler(secs, out))
    own, incl = summarise(out)
    return {"file": str(out), "records_per_s_while_profiled": d.rate, "self": own, "inclusive": incl,
            "table": _table(own, incl), "pass": None}


async def run_triage(ctx: Ctx) -> dict:
    """The same for ticket-triage, while it works through a backlog of tickets with 50 incidents open."""
    if ctx.cfg.quick:
        raise NotRun("full run only (keeps BENCH_QUICK=1 under 2 minutes)")
    if reason := missing("ticket-triage"):
        raise NotRun(reason)
    if py_spy() is None:
        raise NotRun("py-spy is not installed (pip install py-spy)")
    out = STATE / f"profile-ticket-triage-{ctx.run_id}.txt"
    out.parent.mkdir(parents=True, exist_ok=True)
    secs = ctx.cfg.profile_seconds
    records = [rec for _, _, rec in ticket_stream(max(ctx.cfg.triage_tickets, 400 * secs), "pt")]
    rate, _ = await triage_once(records, on_running=_sampler(secs, out))
    own, incl = summarise(out)
    return {"file": str(out), "tickets_per_s_while_profiled": rate, "self": own, "inclusive": incl,
            "table": _table(own, incl), "pass": None}
