"""Delivery retry policy: which outcomes are retried, backoff with jitter, when a delivery is dead. Pure."""

from __future__ import annotations

import random
from dataclasses import dataclass


@dataclass(frozen=True)
class Outcome:
    """The result of one attempt; `retry_after` is the server's Retry-After, when given."""

    ok: bool
    error: str = ""
    retryable: bool = True
    retry_after: float | None = None
    ref: str | None = None
    uncertain: bool = False  # the request may have taken effect (e.g. read timeout): verify before resending


def classify_status(status: int) -> tuple[bool, bool]:
    """(ok, retryable) for an HTTP status: 2xx ok; 408, 429 and 5xx retried; other 4xx permanent."""
    if 200 <= status < 300:
        return True, False
    return False, status in (408, 425, 429) or status >= 500


def backoff(attempt: int, *, base_s: float, max_s: float, rnd: random.Random | None = None) -> float:
    """Exponential backoff with full jitter: uniform in [base/2, min(max, base * 2**(attempt-1))]."""
    cap = min(max_s, base_s * (2 ** max(0, attempt - 1)))
    r = (rnd or random).random()
    return max(base_s / 2, cap * r)


def next_step(outcome: Outcome, attempts: int, *, max_attempts: int, base_s: float,
              max_s: float, rnd: random.Random | None = None) -> tuple[str, float]:
    """('sent' | 'pending' | 'dead', delay in seconds before the next attempt)."""
    if outcome.ok:
        return "sent", 0.0
    if not outcome.retryable or attempts >= max_attempts:
        return "dead", 0.0
    delay = backoff(attempts, base_s=base_s, max_s=max_s, rnd=rnd)
    if outcome.retry_after is not None:
        delay = max(delay, outcome.retry_after)
    return "pending", delay
