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
    sql = f"SELECT {_COUNTERS} FROM alert_state WHERE fingerprint = ANY($1::text[]) ORDER BY fingerprint FOR UPDATE"
    rows = await conn.fetch(sql, fps)
    found = {r["fingerprint"]: _state(r) for r in rows}
    missing = [fp for fp in fps if fp not in found]
    if missing:
        await conn.execute("INSERT INTO alert_state(fingerprint) SELECT unnest($1::text[]) ON CONFLICT DO NOTHING",
                           missing)
        for r in await conn.fetch(sql, missing):
            found[r["fingerprint"]] = _state(r)
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
    if full:
        await conn.execute(
            "UPDATE alert_state s SET status = x.status, severity = x.severity, occurrences = x.occ, "
            "episode = x.episode, change_seq = x.seq, flapping = x.flapping, flips = x.flips, "
            "first_seen = x.first_seen, last_seen = x.last_seen, alert = coalesce(x.alert, s.alert), "
            "updated_at = now() "
            "FROM unnest($1::text[], $2::text[], $3::text[], $4::bigint[], $5::int[], $6::bigint[], $7::bool[], "
            "$8::jsonb[], $9::timestamptz[], $10::timestamptz[], $11::jsonb[]) "
            "AS x(fp, status, severity, occ, episode, seq, flapping, flips, first_seen, last_seen, alert) "
            "WHERE s.fingerprint = x.fp",
            [s.fingerprint for s in full], [s.status.value for s in full], [s.severity.value for s in full],
            [s.occurrences for s in full], [s.episode for s in full], [s.change_seq for s in full],
            [s.flapping for s in full], [orjson.dumps([t.timestamp() for t in s.flips]).decode() for s in full],
            [s.first_seen for s in full], [s.last_seen for s in full], [s.alert_json() for s in full],
        )
    if touch:  # the storm path: repeats only move the counters
        await conn.execute(
            "UPDATE alert_state s SET occurrences = x.occ, last_seen = x.last_seen, updated_at = now() "
            "FROM unnest($1::text[], $2::bigint[], $3::timestamptz[]) AS x(fp, occ, last_seen) "
            "WHERE s.fingerprint = x.fp",
            [s.fingerprint for s in touch], [s.occurrences for s in touch], [s.last_seen for s in touch],
        )
    await append_history(conn, [h for d in decisions.values() for h in d.history])


async def append_history(conn: asyncpg.Connection, rows: Sequence[HistoryRow]) -> None:
    if not rows:
        return
    await conn.execute(
        "INSERT INTO alert_history(fingerprint, at, outcome, status, severity, ref) "
        "SELECT * FROM unnest($1::text[], $2::timestamptz[], $3::text[], $4::text[], $5::text[], $6::text[])",
        [h.fingerprint for h in rows], [h.at for h in rows], [h.outcome for h in rows], [h.status for h in rows],
        [h.severity for h in rows], [h.ref for h in rows],
    )


async def lock_flapping(conn: asyncpg.Connection, quiet_since: datetime, limit: int = 500) -> list[AlertState]:
    """Flapping states whose last flip is not after `quiet_since`, not locked by a running batch (the sweep
    skips those and comes back)."""
    rows = await conn.fetch(
        f"SELECT {_COLUMNS} FROM alert_state WHERE flapping "
        "AND coalesce((flips->>-1)::float8, 0) <= $1 ORDER BY fingerprint LIMIT $2 FOR UPDATE SKIP LOCKED",
        quiet_since.timestamp(), limit)
    return [s for r in rows if (s := _state(r)) is not None]
