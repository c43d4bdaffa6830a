"""The baseline's figures: sustained msgs/s (B), time to relay the storm, produce->consume latency."""

from __future__ import annotations

import time

from ..kafka_io import TopicReader, bench_producer, produce_bulk, produce_paced
from ..measure import Drain, drain
from ..payloads import Record
from ..pipeline import A, B, progress, relay
from ..slice import stack_slice
from ..stats import percentiles, poll


async def throughput(records: list[Record], timeout: float = 300) -> Drain:
    """Relay a backlog of `records` from A to B; records/s between the relay's first and last commit."""
    async with stack_slice([A, B], pipeline=False) as s:
        producer = bench_producer(s.bootstrap)
        await producer.start()
        try:
            await produce_bulk(producer, s.prefix + A, records, s.kafka.partitions)
        finally:
            await producer.stop()
        async with progress(s) as pr, relay(s, ready=False) as (proc, group):
            return await drain(pr, group, s.prefix + A, len(records), timeout=timeout, alive=proc.alive)


async def storm_seconds(records: list[Record], timeout: float = 600) -> float:
    """Records arrive at once: seconds from the first send until the last record was written to B."""
    async with stack_slice([A, B], pipeline=False) as s, relay(s) as (_, _group):
        reader = TopicReader(s.bootstrap, [s.prefix + B])
        await reader.start()
        producer = bench_producer(s.bootstrap)
        await producer.start()
        try:
            t0 = time.time()
            await produce_bulk(producer, s.prefix + A, records, s.kafka.partitions)
            await poll(_const(lambda: reader.count(s.prefix + B)), lambda n: n >= len(records), timeout=timeout,
                       interval=0.1, what="relay storm")
            return max(r.timestamp_ms for r in reader.records[s.prefix + B]) / 1000 - t0
        finally:
            await producer.stop()
            await reader.stop()


async def latency(records: list[Record], rate: int, seconds: float) -> dict:
    """Records sent at `rate`/s into A: milliseconds until the harness reads each from B."""
    n = int(rate * seconds)
    keyed = [(str(i).encode(), records[i % len(records)][1]) for i in range(n)]
    sent: dict[int, float] = {}
    async with stack_slice([A, B], pipeline=False) as s, relay(s) as _:
        reader = TopicReader(s.bootstrap, [s.prefix + B])
        await reader.start()
        producer = bench_producer(s.bootstrap, linger_ms=1)
        await producer.start()
        try:
            await produce_paced(producer, s.prefix + A, keyed, rate, on_send=sent.__setitem__)
            await poll(_const(lambda: reader.count(s.prefix + B)), lambda c: c >= n, timeout=60, what="relay echo")
        finally:
            await producer.stop()
            await reader.stop()
        got = reader.records[s.prefix + B]
    return percentiles(steady_samples(got, sent, rate))


def steady_samples(got, sent: dict[int, float], rate: int) -> list[float]:
    """Milliseconds from send to receipt, leaving out the first second of sends (warm-up)."""
    return [(r.received - sent[int(r.key)]) * 1000 for r in got if int(r.key) >= rate]


def _const(fn):
    async def probe():
        return fn()
    return probe
