"""Run a set of services on a slice for the duration of a block, and the baseline relay likewise."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

from .kafka_io import Progress
from .procs import Proc, relay_proc, service_proc
from .slice import Slice

A, B = "bench.a", "bench.b"  # the relay's topics (under the slice's prefix)


@contextlib.asynccontextmanager
async def services(s: Slice, names: list[str], extra: dict[str, str] | None = None,
                   ready: bool = True) -> AsyncIterator[dict[str, Proc]]:
    """Start the services as processes; with `ready`, wait until each answers /ready."""
    procs = {n: service_proc(n, s.env(), extra) for n in names}
    try:
        for p in procs.values():
            p.start()
        if ready:
            await asyncio.gather(*(p.wait_http_ready() for p in procs.values()))
        yield procs
    finally:
        await asyncio.gather(*(p.stop() for p in procs.values()))


@contextlib.asynccontextmanager
async def relay(s: Slice, *, ready: bool = True) -> AsyncIterator[tuple[Proc, str]]:
    """The baseline relay from A to B on the slice; yields (process, its consumer group)."""
    group = f"{s.prefix}bench-relay"
    proc, ready_file = relay_proc(s.bootstrap, s.prefix + A, s.prefix + B, group)
    proc.start()
    try:
        if ready:
            async def joined() -> bool:
                return ready_file.exists()
            await proc.wait(joined, timeout=60)
        yield proc, group
    finally:
        await proc.stop()


@contextlib.asynccontextmanager
async def progress(s: Slice) -> AsyncIterator[Progress]:
    p = Progress(s.bootstrap)
    await p.start()
    try:
        yield p
    finally:
        await p.stop()
