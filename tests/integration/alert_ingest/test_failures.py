"""A database failure is not bad input: the batch is retried (offsets not committed), never dead-lettered."""

from __future__ import annotations

from prometheus_client import REGISTRY

from tests.support.kafka import unique
from tests.support.waiting import eventually

from .conftest import changes_for, native


def _failures() -> float:
    return REGISTRY.get_sample_value("pipeline_handler_failures_total",
                                     {"service": "alert-ingest", "handler": "on_raw_alerts"}) or 0.0


async def test_database_failure_retries_the_batch(stack, kafka, ingest):
    before = _failures()
    await ingest.pool.execute("ALTER TABLE alert_ingest.alert_state RENAME TO alert_state_away")
    fp = unique("retry")
    try:
        await kafka.produce(stack.topics.alerts_raw, native(fp), key=fp)

        async def failures() -> float:
            return _failures()

        await eventually(failures, until=lambda n: n >= before + 1, what="the batch failed at least once")
    finally:
        await ingest.pool.execute("ALTER TABLE alert_ingest.alert_state_away RENAME TO alert_state")
    events = await changes_for(kafka, stack.topics.alerts_state, fp, 1)
    assert [e["data"]["change"] for e in events] == ["first_firing"]
    row = await ingest.pool.fetchrow("SELECT occurrences FROM alert_ingest.alert_state WHERE fingerprint = $1", fp)
    assert row["occurrences"] == 1
    assert await ingest.pool.fetchval("SELECT count(*) FROM alert_ingest.outbox WHERE topic LIKE '%.DLT'") == 0
    # nothing went to the DLT: a marker that is bad input arrives there alone
    marker = unique("marker").encode()
    await kafka.produce(stack.topics.alerts_raw, b"not json", key=marker)
    dlt = await kafka.read(stack.topics.alerts_raw + ".DLT", until=lambda rs: any(r.key == marker for r in rs))
    assert len(dlt) == 1
