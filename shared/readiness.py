"""Readiness of the consumers: a handler whose batches keep failing (an infrastructure error: a dropped table,
a missing privilege, the database down) is redelivered forever and makes no progress, so after a grace period
the service must stop saying it is ready. Plain Python with an injectable clock: no Kafka, no database."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from pydantic import AliasChoices, Field
from pydantic_settings import BaseSettings, SettingsConfigDict

#: Where a batch's records come from; a failure is tracked per partition, so that a partition stuck on its own
#: is not hidden by the other partitions of the same handler succeeding.
Partition = tuple[str, int]
ANY_PARTITION: Partition = ("*", -1)


class ReadinessSettings(BaseSettings):
    """How long a consumer may fail continuously before /ready says 503 (shared by all services: no prefix)."""

    model_config = SettingsConfigDict(extra="ignore", populate_by_name=True)

    max_failing_s: float = Field(
        30.0, gt=0, validation_alias=AliasChoices("READY_MAX_FAILING_S", "ready_max_failing_s"),
        description="Seconds a handler may fail every delivery of a partition before the service is not ready.",
    )


@dataclass
class Failing:
    """A run of consecutive failures of one handler on one partition."""

    since: float
    failures: int
    last_error: str


def partitions_of(msg: Any) -> set[Partition]:
    """The partitions of a batch message's records (FastStream's msg.raw_message), or ANY_PARTITION."""
    raw = getattr(msg, "raw_message", None)
    records = raw if isinstance(raw, tuple) else (raw,)
    found = {(r.topic, r.partition) for r in records if hasattr(r, "topic") and hasattr(r, "partition")}
    return found or {ANY_PARTITION}


def _iso(t: float | None) -> str | None:
    return None if t is None else datetime.fromtimestamp(t, UTC).isoformat(timespec="seconds")


class ConsumerHealth:
    """Per handler: the last success, and per partition the current run of consecutive failures."""

    def __init__(self, max_failing_s: float, *, clock: Callable[[], float] = time.time,
                 assigned: Callable[[], set[Partition] | None] = lambda: None) -> None:
        self.max_failing_s = max_failing_s
        self._clock = clock
        self._assigned = assigned
        self._last_success: dict[str, float | None] = {}
        self._failing: dict[str, dict[Partition, Failing]] = {}

    def register(self, handler: str) -> None:
        self._last_success.setdefault(handler, None)
        self._failing.setdefault(handler, {})

    def succeeded(self, handler: str, partitions: Callable[[], Iterable[Partition]]) -> None:
        """A delivery was handled: its partitions make progress again (`partitions` is only read when some
        partition of the handler is failing, so the hot path costs nothing)."""
        self._last_success[handler] = self._clock()
        failing = self._failing.setdefault(handler, {})
        if failing:
            for p in partitions():
                failing.pop(p, None)

    def failed(self, handler: str, partitions: Iterable[Partition], error: BaseException) -> None:
        """A delivery failed and will be redelivered."""
        now, text = self._clock(), repr(error)[:300]
        failing = self._failing.setdefault(handler, {})
        self._last_success.setdefault(handler, None)
        for p in partitions:
            run = failing.get(p)
            if run is None:
                failing[p] = Failing(now, 1, text)
            else:
                run.failures += 1
                run.last_error = text

    def _runs(self, handler: str) -> dict[Partition, Failing]:
        """The handler's failing runs, without those of partitions revoked meanwhile (another instance has
        them now; this one will not see them again to clear them)."""
        runs = self._failing.get(handler) or {}
        assigned = self._assigned() if runs else None
        if assigned is not None:
            for p in [p for p in runs if p != ANY_PARTITION and p not in assigned]:
                del runs[p]
        return runs

    def failing_for(self, handler: str) -> float:
        """Seconds the handler's longest-failing partition has been failing (0 when none is)."""
        return max((self._clock() - r.since for r in self._runs(handler).values()), default=0.0)

    def stuck(self) -> list[str]:
        """Handlers failing continuously for longer than the grace period."""
        return [h for h in self._failing if self.failing_for(h) > self.max_failing_s]

    def report(self) -> dict[str, dict[str, Any]]:
        """For /ready: per handler, whether it is ok, and the failing run when there is one."""
        out: dict[str, dict[str, Any]] = {}
        for handler in self._failing:
            runs = self._runs(handler)
            entry: dict[str, Any] = {"last_success": _iso(self._last_success.get(handler))}
            if runs:
                first = min(runs.values(), key=lambda r: r.since)
                worst = max(runs.values(), key=lambda r: r.failures)
                entry.update(
                    failing_since=_iso(first.since), failing_s=round(self._clock() - first.since, 1),
                    failures=worst.failures, last_error=worst.last_error,
                    partitions=sorted(f"{t}/{p}" for t, p in runs if (t, p) != ANY_PARTITION))
            entry["ok"] = self.failing_for(handler) <= self.max_failing_s
            out[handler] = entry
        return out


def assigned_partitions(broker: Any) -> set[Partition] | None:
    """The partitions assigned to the broker's started consumers (None when that cannot be read)."""
    try:
        return {(tp.topic, tp.partition) for sub in broker.subscribers
                for c in (getattr(sub, "consumer_subgroup", None) or [getattr(sub, "consumer", None)]) if c is not None
                for tp in c.assignment()}
    except Exception:
        return None


def subscribers_not_fetching(broker: Any) -> list[str]:
    """Started subscribers without a live consume loop (FastStream restarts a crashed loop; one that is gone
    for good fetches nothing while the broker still answers pings)."""
    dead = []
    for sub in getattr(broker, "subscribers", []):
        if not getattr(sub, "running", False) or not getattr(sub, "calls", True):
            continue
        tasks = getattr(sub, "tasks", None)
        if tasks is not None and all(t.done() for t in tasks):
            dead.append(",".join(getattr(sub, "topic_names", None) or ["?"]))
    return dead
