"""Wait for outcomes with a deadline, polling: never a bare sleep standing in for synchronisation."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TypeVar

T = TypeVar("T")


async def eventually(probe: Callable[[], Awaitable[T]], *, until: Callable[[T], bool] = bool,
                     timeout: float = 30.0, interval: float = 0.1, what: str = "condition") -> T:
    """Call `probe` until `until(result)` holds; raise AssertionError with the last result at the deadline."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    last: T | None = None
    while True:
        last = await probe()
        if until(last):
            return last
        if loop.time() > deadline:
            raise AssertionError(f"{what} not reached within {timeout}s; last value: {last!r}")
        await asyncio.sleep(interval)
