"""Isolating the failing records of a batch: each is dead-lettered once, every other record is applied once
and in offset order per partition, and the work stays near one extra pass over the batch even when many
records fail (the handler is a fake transaction: all of a run applies, or none)."""

from __future__ import annotations

import random
from dataclasses import dataclass

import pytest

from shared import poison


@dataclass(frozen=True)
class Rec:
    topic: str
    partition: int
    offset: int
    value: bytes


@dataclass
class Msg:
    raw_message: tuple


class FakeHandler:
    def __init__(self) -> None:
        self.applied: list[Rec] = []
        self.runs = 0
        self.record_runs = 0

    async def __call__(self, msg: Msg) -> None:
        self.runs += 1
        self.record_runs += len(msg.raw_message)
        if any(r.value == b"bad" for r in msg.raw_message):
            raise ValueError("cannot process")
        self.applied.extend(msg.raw_message)


def make_batch(n: int, bad: set[int]) -> tuple[Rec, ...]:
    # as aiokafka hands a batch over: grouped by partition, each in offset order
    return tuple(Rec("alerts.raw", i * 6 // n, i, b"bad" if i in bad else b"ok") for i in range(n))


@pytest.fixture
def letters(monkeypatch) -> list[Rec]:
    out: list[Rec] = []

    async def dead_letter(pool, record, exc, *, group_id, service):
        out.append(record)

    monkeypatch.setattr(poison, "dead_letter", dead_letter)
    return out


@pytest.mark.parametrize(("n", "k", "max_record_runs"), [(2000, 1, 1.1), (2000, 20, 1.8), (2000, 100, 2.8),
                                                           (16, 2, 2.5), (1, 1, 0), (2, 2, 1)])
async def test_every_failing_record_is_dead_lettered_and_every_other_applied_once_in_order(
        letters, n, k, max_record_runs):
    bad = set(random.Random(n * 1000 + k).sample(range(n), k))
    batch = make_batch(n, bad)
    fn = FakeHandler()
    found = await poison.isolate(fn, Msg(batch), ValueError("first"), pool=None, group_id="g", service="t")
    assert found == k and sorted(r.offset for r in letters) == sorted(bad)
    assert fn.applied == [r for r in batch if r.offset not in bad]  # once each, in batch (offset) order
    assert fn.record_runs <= max_record_runs * n, (fn.record_runs, fn.runs)


def test_chunks_cover_the_batch_in_order_in_about_sqrt_n_pieces():
    for n in (2, 3, 16, 45, 500, 2000):
        parts = poison.chunks(list(range(n)))
        assert [x for p in parts for x in p] == list(range(n)) and len(parts) >= 2
        assert len(parts) <= int(n ** 0.5) + 2 and max(map(len, parts)) <= int(n ** 0.5) + 2


async def test_an_infrastructure_failure_while_isolating_propagates(letters):
    async def fn(msg: Msg) -> None:
        if len(msg.raw_message) < 100:
            raise OSError("connection reset")
        raise ValueError("cannot process")

    with pytest.raises(OSError):
        await poison.isolate(fn, Msg(make_batch(2000, {5})), ValueError("first"), pool=None, group_id="g",
                             service="t")
    assert letters == []
