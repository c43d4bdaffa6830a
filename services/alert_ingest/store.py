"""SQL for alert-ingest: lock the batch's states in one go, write them back in batches, append history."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime

import asyncpg
import orjson

from shared.contracts import AlertSeverity, AlertStatus

from .domain.state import AlertState, Decision, HistoryRow

_COUNTERS = "fingerprint, status, severity, occurrences, episode, change_seq, flapping, flips, first_seen, " \
            "last_seen"
_COLUMNS = _COUNTERS + ", alert"


_STATUS = {s.value: s for s in AlertStatus}
_SEVERITY = {s.value: s for s in AlertSeverity}


def _state(r: asyncpg.Record) -> AlertState | None:
    """A row of _COLUMNS or _COUNTERS (then the alert is not loaded); None for a placeholder."""
    return None if r[1] is None else _from_row(*r)


def _from_row(fp: str, status: str, severity: str, occurrences: int, episode: int, seq: int, flapping: bool,
              flips: str, first_seen: datetime, last_seen: datetime, alert: str | None = None) -> AlertState:
    # most alerts never flipped: skip decoding the empty list
    times = () if flips == "[]" else tuple(datetime.fromtimestamp(t, UTC) for t in orjson.loads(flips))
    return AlertState(fp, _STATUS[status], _SEVERITY[severity], occurrences, episode, seq, flapping, times,
                      first_seen, last_seen, alert)


async def lock_states(conn: asyncpg.Connection, fingerprints: Sequence[str]) -> dict[str, AlertState | None]:
    """Lock (FOR UPDATE, sorted) and load the states of `fingerprints`, without their stored alerts (see
    load_alerts); new ones get a placeholder row so a concurrent instance seeing the same new fingerprint
    waits for this transaction."""
    fps = sorted(set(fingerprints))
    # the list goes as one JSON text: a text[] of a batch's fingerprints costs the client a Python-level
    # check per element
    sql = (f"SELECT {_COUNTERS} FROM alert_state "
           "WHERE fingerprint = ANY(ARRAY(SELECT jsonb_array_elements_text($1::jsonb))) "
           "ORDER BY fingerprint FOR UPDATE")
    rows = await conn.fetch(sql, orjson.dumps(fps).decode())
    found = {r[0]: None if r[1] is None else _from_row(*r) for r in rows}  # _state, inlined: a call per row
    missing = [fp for fp in fps if fp not in found]
    if missing:
        await conn.execute("INSERT INTO alert_state(fingerprint) SELECT unnest($1::text[]) ON CONFLICT DO NOTHING",
                           missing)
        for r in await conn.fetch(sql, orjson.dumps(missing).decode()):
            found[r[0]] = _state(r)
    return found


async def load_alerts(conn: asyncpg.Connection, states: Mapping[str, AlertState | None],
                      fingerprints: Sequence[str]) -> None:
    """Load the stored alerts of these (already locked) states: only those a rule may need. The storm's
    repeats never do, which saves reading back every alert's JSON for every batch."""
    rows = await conn.fetch("SELECT fingerprint, alert FROM alert_state WHERE fingerprint = ANY($1::text[])",
                            list(fingerprints))
    for fp, alert in rows:
        st = states.get(fp)
        if st is not None:
            st.stored_alert = alert


async def save(conn: asyncpg.Connection, decisions: Mapping[str, Decision]) -> None:
    """Write changed states (full rows, or just the counters for repeats) and the history, in batches."""
    full = [d.state for d in decisions.values() if d.dirty == "full" and d.state is not None]
    touch = [d.state for d in decisions.values() if d.dirty == "touch" and d.state is not None]
    if full:  # rows as one JSON text (see lock_states); the alert's JSON travels as a string inside it
        await conn.execute(
            "UPDATE alert_state s SET status = x.status, severity = x.severity, occurrences = x.occ, "
            "episode = x.episode, change_seq = x.seq, flapping = x.flapping, flips = x.flips, "
            "first_seen = x.first_seen, last_seen = x.last_seen, alert = coalesce(x.alert, s.alert), "
            "updated_at = now() "
            "FROM (SELECT e->>0 AS fp, e->>1 AS status, e->>2 AS severity, (e->>3)::bigint AS occ, "
            "(e->>4)::int AS episode, (e->>5)::bigint AS seq, (e->>6)::bool AS flapping, e->7 AS flips, "
            "(e->>8)::timestamptz AS first_seen, (e->>9)::timestamptz AS last_seen, (e->>10)::jsonb AS alert "
            "FROM jsonb_array_elements($1::jsonb) AS e) AS x "
            "WHERE s.fingerprint = x.fp",
            orjson.dumps([(s.fingerprint, s.status.value, s.severity.value, s.occurrences, s.episode, s.change_seq,
                           s.flapping, [t.timestamp() for t in s.flips], s.first_seen, s.last_seen,
                           s.alert_json()) for s in full]).decode(),
        )
    if touch:  # the storm path: repeats only move the counters (rows as one JSON text, see lock_states)
        await conn.execute(
            "UPDATE alert_state s SET occurrences = x.occ, last_seen = x.last_seen, updated_at = now() "
            "FROM (SELECT e->>0 AS fp, (e->>1)::bigint AS occ, (e->>2)::timestamptz AS last_seen "
            "FROM jsonb_array_elements($1::jsonb) AS e) AS x "
            "WHERE s.fingerprint = x.fp",
            orjson.dumps([(s.fingerprint, s.occurrences, s.last_seen) for s in touch]).decode(),
        )
    await append_history(conn, [h for d in decisions.values() for h in d.history])


async def append_history(conn: asyncpg.Connection, rows: Sequence[HistoryRow]) -> None:
    if not rows:
        return
    await conn.execute(  # rows as one JSON text (see lock_states), inserted in their order
        "INSERT INTO alert_history(fingerprint, at, outcome, status, severity, ref) "
        "SELECT e->>0, (e->>1)::timestamptz, e->>2, e->>3, e->>4, e->>5 "
        "FROM jsonb_array_elements($1::jsonb) WITH ORDINALITY AS x(e, n) ORDER BY n",
        orjson.dumps([(h.fingerprint, h.at, h.outcome, h.status, h.severity, h.ref) for h in rows]).decode(),
    )


async def lock_flapping(conn: asyncpg.Connection, quiet_since: datetime, limit: int = 500) -> list[AlertState]:
    """Flapping states whose last flip is not after `quiet_since`, not locked by a running batch (the sweep
    skips those and comes back)."""
    rows = await conn.fetch(
        f"SELECT {_COLUMNS} FROM alert_state WHERE flapping "
        "AND coalesce((flips->>-1)::float8, 0) <= $1 ORDER BY fingerprint LIMIT $2 FOR UPDATE SKIP LOCKED",
        quiet_since.timestamp(), limit)
    return [s for r in rows if (s := _state(r)) is not None]



# One statement for the storm path: lock every existing state of the batch (sorted, as lock_states does),
# count the repeats of those whose stored status and severity are what the batch's observations say (what
# domain.state calls plain repeats: not flapping, same status, same severity while firing), and hand back the
# others, plus the fingerprints that have no row yet. A counted repeat costs no row decoding and no state
# machine step in Python.
_LOCK_AND_COUNT = f"""
WITH e AS (
    SELECT x->>0 AS fp, x->>1 AS status, x->>2 AS severity, (x->>3)::bigint AS n,
           (x->>4)::timestamptz AS latest
    FROM jsonb_array_elements($1::jsonb) AS x
), locked AS MATERIALIZED (
    SELECT {_COUNTERS} FROM alert_state
    WHERE fingerprint IN (SELECT fp FROM e) ORDER BY fingerprint FOR UPDATE
), counted AS (
    UPDATE alert_state s SET occurrences = s.occurrences + e.n, last_seen = greatest(s.last_seen, e.latest),
                             updated_at = now()
    FROM e JOIN locked l ON l.fingerprint = e.fp
    WHERE s.fingerprint = e.fp AND e.status IS NOT NULL AND l.status = e.status AND NOT l.flapping
      AND (e.status <> 'firing' OR l.severity = e.severity)
    RETURNING s.fingerprint
)
SELECT {_COUNTERS}, true FROM locked l
WHERE NOT EXISTS (SELECT 1 FROM counted c WHERE c.fingerprint = l.fingerprint)
UNION ALL
SELECT e.fp, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, false FROM e
WHERE NOT EXISTS (SELECT 1 FROM locked l WHERE l.fingerprint = e.fp)
"""


#: What a batch says of one fingerprint (lock_and_count), a plain tuple so that orjson writes it: fingerprint;
#: the status, and while firing the severity, that all its observations repeat (None when they differ or one
#: acknowledges: never counted in SQL); how many observations; the latest receive time.
Repeats = tuple[str, str | None, str | None, int, datetime]


async def lock_and_count(conn: asyncpg.Connection, batch: Sequence[Repeats]) -> dict[str, AlertState | None]:
    """Lock the batch's states and store its plain repeats; returns the states the state machine must still
    see, keyed by fingerprint (new ones get a placeholder row and None, as in lock_states). A fingerprint
    missing from the result was counted here and needs nothing more."""
    found: dict[str, AlertState | None] = {}
    missing = []
    for r in await conn.fetch(_LOCK_AND_COUNT, orjson.dumps(batch).decode()):
        if r[10]:
            found[r[0]] = None if r[1] is None else _from_row(*r[:10])
        else:
            missing.append(r[0])
    if missing:
        found.update(await lock_states(conn, missing))
    return found
