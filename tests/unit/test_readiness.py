"""A handler that keeps failing makes the service not ready after the grace period, per partition, and a
success (or the partition moving to another instance) clears it. No Kafka, no database, a fake clock."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from types import SimpleNamespace

from shared.readiness import ANY_PARTITION, ConsumerHealth, ReadinessSettings, partitions_of, subscribers_not_fetching


class Clock:
    def __init__(self) -> None:
        self.now = 1_700_000_000.0

    def __call__(self) -> float:
        return self.now


@dataclass
class Rec:
    topic: str
    partition: int


def batch(*parts: tuple[str, int]) -> SimpleNamespace:
    return SimpleNamespace(raw_message=tuple(Rec(t, p) for t, p in parts))


P0, P1 = ("alerts.raw", 0), ("alerts.raw", 1)


def test_a_handler_failing_past_the_grace_period_is_stuck_and_a_success_clears_it():
    clock = Clock()
    h = ConsumerHealth(30, clock=clock)
    h.register("on_raw_alerts")
    assert h.stuck() == [] and h.report()["on_raw_alerts"] == {"last_success": None, "ok": True}
    for _ in range(31):
        h.failed("on_raw_alerts", {P0, P1}, RuntimeError("relation alert_state does not exist"))
        clock.now += 1
    report = h.report()["on_raw_alerts"]
    assert h.stuck() == ["on_raw_alerts"] and report["ok"] is False
    assert report["failures"] == 31 and report["failing_s"] == 31.0
    assert "alert_state" in report["last_error"] and report["partitions"] == ["alerts.raw/0", "alerts.raw/1"]
    assert h.failing_for("on_raw_alerts") == 31.0

    h.succeeded("on_raw_alerts", lambda: {P0, P1})
    assert h.stuck() == [] and h.failing_for("on_raw_alerts") == 0.0
    assert h.report()["on_raw_alerts"]["ok"] and h.report()["on_raw_alerts"]["last_success"]


def test_within_the_grace_period_the_handler_is_still_ready():
    clock = Clock()
    h = ConsumerHealth(30, clock=clock)
    h.failed("on_inputs", {P0}, OSError("connection refused"))
    clock.now += 29
    assert h.stuck() == [] and h.report()["on_inputs"]["ok"]


def test_a_partition_stuck_on_its_own_is_not_hidden_by_the_others_succeeding():
    clock = Clock()
    h = ConsumerHealth(10, clock=clock)
    h.failed("on_raw_alerts", {P0}, RuntimeError("x"))
    for _ in range(20):
        clock.now += 1
        h.succeeded("on_raw_alerts", lambda: {P1})
        h.failed("on_raw_alerts", {P0}, RuntimeError("x"))
    assert h.stuck() == ["on_raw_alerts"]
    assert h.report()["on_raw_alerts"]["partitions"] == ["alerts.raw/0"]


def test_a_revoked_partition_no_longer_counts():
    clock = Clock()
    assigned = {P0, P1}
    h = ConsumerHealth(10, clock=clock, assigned=lambda: assigned)
    h.failed("on_raw_alerts", {P0}, RuntimeError("x"))
    clock.now += 60
    assert h.stuck() == ["on_raw_alerts"]
    assigned = {P1}  # another instance took partition 0: this one will never clear it
    assert h.stuck() == [] and h.failing_for("on_raw_alerts") == 0.0


def test_the_partitions_are_only_read_when_something_is_failing():
    h = ConsumerHealth(10)

    def boom():
        raise AssertionError("read on the hot path")

    h.succeeded("on_raw_alerts", boom)


def test_partitions_of_a_batch_and_of_anything_else():
    assert partitions_of(batch(P0, P1, P0)) == {P0, P1}
    assert partitions_of(SimpleNamespace(raw_message=None)) == {ANY_PARTITION}
    assert partitions_of(None) == {ANY_PARTITION}


def test_the_grace_period_comes_from_the_environment(monkeypatch):
    assert ReadinessSettings().max_failing_s == 30.0
    monkeypatch.setenv("READY_MAX_FAILING_S", "2.5")
    assert ReadinessSettings().max_failing_s == 2.5


async def test_a_started_subscriber_without_a_live_consume_loop_is_not_fetching():
    async def forever() -> None:
        await asyncio.Event().wait()

    live = asyncio.create_task(forever())
    dead = asyncio.create_task(asyncio.sleep(0))
    await dead
    try:
        broker = SimpleNamespace(subscribers=[
            SimpleNamespace(running=True, calls=[1], tasks=[dead, live], topic_names=["a"]),  # restarted loop
            SimpleNamespace(running=True, calls=[1], tasks=[dead], topic_names=["b"]),
            SimpleNamespace(running=False, calls=[1], tasks=[], topic_names=["c"]),
        ])
        assert subscribers_not_fetching(broker) == ["b"]
    finally:
        live.cancel()
