"""Use cases of alert-ingest: one transaction per batch of raw records, and the flapping sweep."""

from __future__ import annotations

from collections import Counter as Tally
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, NamedTuple

import asyncpg
import structlog
from prometheus_client import Counter

from shared.contracts import AlertStateChanged, SourceTool, make_event
from shared.dead_letter import DeadLetter, count_dead_letter
from shared.outbox import enqueue_rows, event_row, raw_row
from shared.topics import Topics
from shared.tracking import claim_records

from . import store
from .domain.formats import BadInput, Observation, parse
from .domain.state import Change, Decision, FlapPolicy, Seen, apply, end_flapping, needs_stored_alert
from .settings import Settings

log = structlog.get_logger(__name__)

ACCEPTED = Counter("alert_ingest_alerts_accepted_total", "Alerts taken in from alerts.raw, by input format",
                   ["format"])
CHANGES = Counter("alert_ingest_state_changes_total", "AlertStateChanged events enqueued, by change", ["change"])

SOURCE = "/services/alert-ingest"
_FORMAT_NAMES = {tool: tool.value for tool in SourceTool}  # an enum's .value is a descriptor call per record


class Parsed(NamedTuple):
    """One raw record after the pure parse: its alerts, or why it is bad (a tuple: one per record)."""

    record: Any
    at: datetime
    format: str | None = None
    observations: tuple[Observation, ...] = ()
    error: BadInput | None = None


def _by_fingerprint(batch: list[Parsed]) -> dict[str, list[Seen]]:
    """The batch's observations grouped by fingerprint, in record order."""
    by_fp: dict[str, list[Seen]] = {}
    for p in batch:
        if not p.observations:
            continue
        r, at = p.record, p.at
        ref = f"{r.topic}/{r.partition}/{r.offset}"
        for o in p.observations:
            seen = by_fp.get(o.fingerprint)
            if seen is None:
                by_fp[o.fingerprint] = [Seen(o, at, ref)]
            else:
                seen.append(Seen(o, at, ref))
    return by_fp


class IngestService:
    """Turns batches of alerts.raw records into stored states and AlertStateChanged events."""

    def __init__(self, pool: asyncpg.Pool, topics: Topics, settings: Settings, *, service: str,
                 group_id: str) -> None:
        self._pool = pool
        self._topics = topics
        self._service = service
        self._group = group_id
        self._product_map = settings.product_map()
        self._max_bytes = settings.max_payload_bytes
        self.policy = FlapPolicy(settings.flap_threshold, timedelta(seconds=settings.flap_window_s))

    def parse_record(self, record: Any) -> Parsed:
        """Pure: one record -> its observations or its error."""
        at = datetime.fromtimestamp((record.timestamp or 0) / 1000, UTC)
        try:
            fmt, observations = parse(record.value, received_at=at, product_map=self._product_map,
                                      max_bytes=self._max_bytes)
        except BadInput as exc:
            # a fresh one, without the traceback: its frames reach back to handle()'s, whose locals hold this
            # Parsed, a cycle that kept a whole batch alive until a full collection (which GC_THRESHOLDS
            # makes rare): measured +120 MB peak RSS with 1% junk in the mix.
            return Parsed(record, at, error=BadInput(exc.error_class, exc.message))
        return Parsed(record, at, _FORMAT_NAMES[fmt], tuple(observations))

    async def handle(self, records: Sequence[Any]) -> None:
        """Claim, decide, store and enqueue one batch in one transaction; a failure rewinds it all."""
        # keyed by identity: claim_records hands back the very record objects it was given
        parsed = {id(r): self.parse_record(r) for r in records}
        async with self._pool.acquire() as conn, conn.transaction():
            fresh = await claim_records(conn, self._group, records)
            if not fresh:
                return
            batch = [parsed[id(r)] for r in fresh]
            by_fp = _by_fingerprint(batch)
            states = await store.lock_states(conn, list(by_fp)) if by_fp else {}
            wanted = [fp for fp, seen in by_fp.items()
                      if (st := states.get(fp)) is not None and needs_stored_alert(st, seen)]
            if wanted:
                await store.load_alerts(conn, states, wanted)
            decisions = {fp: apply(states.get(fp), seen, self.policy) for fp, seen in by_fp.items()}
            await store.save(conn, decisions)
            letters = [p for p in batch if p.error is not None]
            await enqueue_rows(conn, self._event_rows(decisions) + self._dead_letter_rows(letters))
        self._count(batch, decisions)

    def _event_rows(self, decisions: dict[str, Decision]) -> list[tuple[str, bytes | None, bytes, str]]:
        rows = []
        for fp, d in decisions.items():
            for c in d.changes:
                rows.append(event_row(self._topics.alerts_state, self._event(c), key=fp))
        return rows

    def _event(self, c: Change) -> Any:
        data = AlertStateChanged(change=c.change, alert=c.alert, occurrences=c.occurrences, flapping=c.flapping)
        return make_event(data, source=SOURCE, subject=c.alert.fingerprint, event_id=c.event_id, time=c.at)

    def _dead_letter_rows(self, letters: list[Parsed]) -> list[tuple[str, bytes | None, bytes, str]]:
        rows = []
        for p in letters:
            r, err = p.record, p.error
            assert err is not None
            d = DeadLetter(r.topic, r.partition, r.offset, r.key, r.value, err.error_class, err.message,
                           r.timestamp)
            # the original headers travel with the original bytes, ahead of the dlt-* ones
            original = [(k, v or b"") for k, v in (r.headers or ())]
            rows.append(raw_row(d.dlt_topic, d.key, d.value, [*original, *d.headers(service=self._service)]))
            log.warning("dead-lettered", topic=r.topic, partition=r.partition, offset=r.offset,
                        error_class=err.error_class, error=err.message[:300])
        return rows

    def _count(self, batch: list[Parsed], decisions: dict[str, Decision]) -> None:
        """Metrics after commit, so a rewound batch is not counted twice."""
        accepted: Tally[str] = Tally()
        for p in batch:
            if p.format is not None:
                accepted[p.format] += len(p.observations)
            elif p.error is not None:
                count_dead_letter(self._service, p.record.topic, p.error.error_class)
        for fmt, n in accepted.items():
            ACCEPTED.labels(fmt).inc(n)
        changes: Tally[str] = Tally(c.change.value for d in decisions.values() if d.changes for c in d.changes)
        for change, n in changes.items():
            CHANGES.labels(change).inc(n)

    async def sweep_flapping(self, now: datetime) -> int:
        """End flapping for alerts quiet for a whole window; returns how many ended."""
        async with self._pool.acquire() as conn, conn.transaction():
            states = await store.lock_flapping(conn, now - self.policy.window)
            decisions = {s.fingerprint: end_flapping(s, now, self.policy) for s in states}
            decisions = {fp: d for fp, d in decisions.items() if d.changes}
            if not decisions:
                return 0
            await store.save(conn, decisions)
            await enqueue_rows(conn, self._event_rows(decisions))
        for d in decisions.values():
            for c in d.changes:
                CHANGES.labels(c.change.value).inc()
        return len(decisions)
