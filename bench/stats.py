"""Summaries: median/min/max of repetitions, latency percentiles, and polling with a deadline."""

from __future__ import annotations

import asyncio
import statistics
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, TypeVar

T = TypeVar("T")


class NotReached(RuntimeError):
    """A condition polled for was not reached before its deadline."""


def spread(values: Sequence[float]) -> dict[str, Any]:
    """Median, min and max of repetitions (with the raw values)."""
    vals = [float(v) for v in values]
    if not vals:
        return {"median": None, "min": None, "max": None, "runs": []}
    return {"median": statistics.median(vals), "min": min(vals), "max": max(vals), "runs": vals}


def percentiles(samples_ms: Sequence[float]) -> dict[str, float | int | None]:
    """p50/p95/p99/max of latency samples in milliseconds (nearest rank)."""
    xs = sorted(samples_ms)
    if not xs:
        return {"n": 0, "p50": None, "p95": None, "p99": None, "max": None}

    def rank(q: float) -> float:
        return xs[min(len(xs) - 1, max(0, int(round(q * len(xs))) - 1))]
    return {"n": len(xs), "p50": rank(0.50), "p95": rank(0.95), "p99": rank(0.99), "max": xs[-1]}


async def poll(probe: Callable[[], Awaitable[T]], until: Callable[[T], bool], *, timeout: float,
               interval: float = 0.05, what: str = "condition") -> T:
    """Call `probe` until `until(value)` holds; NotReached (with the last value) at the deadline."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        value = await probe()
        if until(value):
            return value
        if loop.time() > deadline:
            raise NotReached(f"{what} not reached in {timeout:.0f}s (last: {value!r})")
        await asyncio.sleep(interval)
