"""Measurement primitives shared by the baseline and the scenarios (drain rate, quiescence, latency)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from .kafka_io import Progress
from .stats import NotReached


@dataclass
class Drain:
    """How a consumer group drained a backlog: records counted between its first and last commit."""

    records: int
    seconds: float

    @property
    def rate(self) -> float:
        return self.records / self.seconds if self.seconds > 0 else 0.0


async def drain(progress: Progress, group: str, topic: str, total: int, *, timeout: float,
                interval: float = 0.05, alive=lambda: True, started: float | None = None) -> Drain:
    """Watch `group` commit its way through `total` records on `topic`; rate from its first commit to the
    last, or from `started` (loop time the records began to arrive, for a consumer already running)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    first: tuple[float, int] | None = (started, 0) if started is not None else None
    while True:
        done = await progress.committed(group, topic)
        now = loop.time()
        if first is None and done > 0:
            first = (now, done)
        if done >= total and first is not None:
            if done == first[1]:
                raise RuntimeError(f"{group} took all {total} records in one commit: too few to time")
            return Drain(total - first[1], now - first[0])
        if now > deadline or not alive():
            raise NotReached(f"{group} committed {done}/{total} on {topic} before the "
                             f"{'deadline' if alive() else 'process died'}")
        await asyncio.sleep(interval)


async def quiescent(probe, *, quiet_s: float, timeout: float, interval: float = 0.2,
                    done=lambda value: True) -> object:
    """Wait until `probe()` returns the same value, with `done(value)`, for `quiet_s` seconds in a row."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    last, since = object(), loop.time()
    while True:
        value = await probe()
        now = loop.time()
        if value != last or not done(value):
            last, since = value, now
        elif now - since >= quiet_s:
            return value
        if now > deadline:
            raise NotReached(f"never quiet for {quiet_s}s within {timeout:.0f}s (last {value!r})")
        await asyncio.sleep(interval)
