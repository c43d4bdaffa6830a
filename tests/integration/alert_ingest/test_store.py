"""store.lock_and_count on the real database: plain repeats counted in SQL, everything else handed back."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg

from services.alert_ingest import store
from services.alert_ingest.app import MIGRATIONS, SCHEMA
from shared.db import SHARED_MIGRATIONS, apply_migrations, create_pool

T0 = datetime(2026, 12, 4, 12, 0, tzinfo=UTC)


async def _row(conn: asyncpg.Connection, fp: str) -> tuple[Any, ...]:
    r = await conn.fetchrow("SELECT status, severity, occurrences, last_seen, flapping, change_seq FROM alert_state "
                            "WHERE fingerprint = $1", fp)
    return tuple(r) if r is not None else ()


async def test_only_plain_repeats_are_counted_in_sql(stack: Any) -> None:
    pool = await create_pool(stack.database_url, schema=SCHEMA, min_size=1, max_size=2)
    try:
        await apply_migrations(pool, schema=SCHEMA, folders=[("shared", SHARED_MIGRATIONS), ("service", MIGRATIONS)])
        async with pool.acquire() as conn:
            await conn.execute(
                "INSERT INTO alert_state(fingerprint, status, severity, occurrences, episode, change_seq, flapping, "
                "first_seen, last_seen) VALUES "
                "('firing', 'firing', 'critical', 3, 1, 1, false, $1, $1), "
                "('resolved', 'resolved', 'warning', 2, 1, 2, false, $1, $1), "
                "('flapping', 'firing', 'critical', 9, 3, 5, true, $1, $1), "
                "('other-sev', 'firing', 'warning', 1, 1, 1, false, $1, $1), "
                "('placeholder', NULL, NULL, 0, 0, 0, false, NULL, NULL)", T0)
            later, earlier = T0 + timedelta(minutes=5), T0 - timedelta(minutes=5)
            async with conn.transaction():
                left = await store.lock_and_count(conn, [
                    ("firing", "firing", "critical", 4, later),       # counted
                    ("resolved", "resolved", None, 2, earlier),       # counted; last_seen not moved back
                    ("flapping", "firing", "critical", 1, later),     # flapping: the state machine decides
                    ("other-sev", "firing", "critical", 1, later),    # severity differs: a change
                    ("mixed", None, None, 2, later),                  # new, and the batch disagrees with itself
                    ("placeholder", "firing", "critical", 1, later),  # a row without a state
                    ("new", "firing", "critical", 1, later),          # new
                ])
            assert set(left) == {"flapping", "other-sev", "mixed", "placeholder", "new"}
            assert left["mixed"] is None and left["placeholder"] is None and left["new"] is None
            assert left["flapping"].occurrences == 9 and left["other-sev"].severity.value == "warning"
            assert await _row(conn, "firing") == ("firing", "critical", 7, later, False, 1)
            assert await _row(conn, "resolved") == ("resolved", "warning", 4, T0, False, 2)
            assert await _row(conn, "flapping") == ("firing", "critical", 9, T0, True, 5)  # untouched
            assert await _row(conn, "other-sev") == ("firing", "warning", 1, T0, False, 1)
            assert (await _row(conn, "new"))[0] is None  # a placeholder row, locked for the batch
    finally:
        await pool.close()
