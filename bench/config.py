"""Sizes of one run: `make bench` (full, < 15 min) or BENCH_QUICK=1 (< 2 min)."""

from __future__ import annotations

import os
from dataclasses import dataclass


@dataclass(frozen=True)
class Config:
    quick: bool
    reps: int  # repetitions of each judged figure (median, min, max)
    storm_reps: int  # the storm takes minutes end to end: its own count
    throughput_alerts: int  # alerts per throughput repetition (scenario 1 and baseline B)
    storm_alerts: int
    storm_fingerprints: int
    latency_rate: int  # alerts/s offered in scenario 3
    latency_seconds: float
    ticket_rate: int
    triage_tickets: int
    fanout_tickets: int
    backlog: int  # messages waiting for alert-ingest in the memory scenario (a tenth for the others)
    backlog_window_s: float  # how long RSS is sampled with the backlog waiting
    am_alerts: int  # alerts posted to each receiver in scenario 7
    am_concurrency: int
    am_batch: int  # alerts per HTTP request
    profile_seconds: int
    ingest_instances: int = 2  # scenario 1 also runs this many alert-ingest processes (one per core here)


FULL = Config(quick=False, reps=3, storm_reps=1, throughput_alerts=60_000, storm_alerts=200_000,
              storm_fingerprints=2_000, latency_rate=1000, latency_seconds=8, ticket_rate=200, triage_tickets=3_000,
              fanout_tickets=10_000, backlog=1_000_000, backlog_window_s=10, am_alerts=20_000, am_concurrency=8,
              am_batch=10, profile_seconds=10)
QUICK = Config(quick=True, reps=1, storm_reps=1, throughput_alerts=15_000, storm_alerts=10_000,
               storm_fingerprints=2_000, latency_rate=1000, latency_seconds=3, ticket_rate=200, triage_tickets=300,
               fanout_tickets=200, backlog=20_000, backlog_window_s=2, am_alerts=2_000, am_concurrency=8,
               am_batch=10, profile_seconds=3, ingest_instances=1)


def load() -> Config:
    """QUICK when BENCH_QUICK=1, else FULL; BENCH_ONLY (comma list) picks scenarios in run.py."""
    return QUICK if os.environ.get("BENCH_QUICK") == "1" else FULL
