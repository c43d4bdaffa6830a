"""The outbox relay killed between sending a batch and deleting it, deterministically (short and full).

Mid-load, each relaying service (alert-ingest, ticket-triage, engineering-validation; the notifier's outbox
only carries dead letters of its own inputs, none in this workload) is stopped and started again with
OUTBOX_CRASH_AFTER_SEND=1 (test-only hook in shared/outbox.py): its relay exits the process right after the
broker acknowledged its first batch and before the DELETE. For each crash the test proves the batch is both
on the topics and still in the outbox, then restarts the service without the hook, so the relay sends the
batch again. The oracle then requires one effect per input and one comment per linked ticket: downstream
consumers drop the republished events by id.
"""

from __future__ import annotations

import asyncio
import json
import signal
import time
from collections import Counter, defaultdict

import asyncpg
import httpx

from shared.outbox import CRASH_EXIT_CODE
from tests.reliability.conftest import ChaosPipeline, full_or_short, open_incident
from tests.reliability.test_service_faults import (N_ALERTS, N_TICKETS, RATE, assert_clean, linked_tickets, quiet,
                                                   wait_comments)
from tests.support.chaos import Workload, produce, read_all, record
from tests.support.waiting import eventually

SCHEMAS = {"alert-ingest": "alert_ingest", "ticket-triage": "triage", "engineering-validation": "validation"}
HOOK_MESSAGE = "outbox test hook: exiting after send, before delete"


def hook_line(p: ChaosPipeline, name: str, since: int) -> dict:
    """The hook's log record (first_id, last_id, rows) written by the crashed process."""
    text = p.procs[name].log_path.read_bytes()[since:].decode(errors="replace")
    for line in text.splitlines():
        if HOOK_MESSAGE in line:
            return json.loads(line[line.index("{"):])
    raise AssertionError(f"{name} exited without the hook's log line:\n{text[-2000:]}")


async def batch_published_not_deleted(p: ChaosPipeline, schema: str, first: int, last: int
                                      ) -> tuple[int, int, dict[str, int]]:
    """(rows of the crashed batch still in the outbox, how many of them are on their topics, their event types)."""
    conn = await asyncpg.connect(p.stack.database_url)
    try:
        rows = await conn.fetch(f"SELECT topic, key, value, headers FROM {schema}.outbox WHERE id BETWEEN $1 AND $2 "
                                "ORDER BY id", first, last)
    finally:
        await conn.close()
    wanted: dict[str, set[tuple[bytes | None, bytes]]] = defaultdict(set)
    types: Counter[str] = Counter()
    for r in rows:
        wanted[r["topic"]].add((r["key"], bytes(r["value"])))
        types[dict(json.loads(r["headers"])).get("ce_type", "dead letter")] += 1
    published = 0
    for topic, records in wanted.items():
        on_topic = {(r.key, r.value) for r in await read_all(p.stack.bootstrap, topic)}
        published += len(records & on_topic)
    return len(rows), published, dict(types)


def start_hooked(p: ChaosPipeline, name: str) -> int:
    """Stop `name` cleanly and start it with the hook; returns the log offset its hook line will be after."""
    assert p.procs[name].stop(signal.SIGTERM, timeout=40) == 0
    proc = p._proc(name)
    proc.env = {**proc.env, "OUTBOX_CRASH_AFTER_SEND": "1"}
    since = proc.log_path.stat().st_size if proc.log_path.exists() else 0
    p.procs[name] = proc
    proc.start()
    return since


async def await_crashes(p: ChaosPipeline, since: dict[str, int], evidence: dict[str, dict],
                        timeout: float = 120) -> None:
    """Wait for each hooked service's crash, check its batch is published and not deleted, restart it without
    the hook (its relay then sends the batch again)."""
    pending = set(since)
    deadline = time.monotonic() + timeout
    while pending:
        assert time.monotonic() < deadline, f"no relay crash of {sorted(pending)} within {timeout:.0f} s"
        for name in sorted(pending):
            assert p.procs[name].proc is not None
            rc = p.procs[name].proc.poll()
            if rc is None:
                continue
            assert rc == CRASH_EXIT_CODE, f"{name} exited with {rc}, not the hook's {CRASH_EXIT_CODE}"
            hook = hook_line(p, name, since[name])
            still, published, types = await batch_published_not_deleted(p, SCHEMAS[name], hook["first_id"],
                                                                         hook["last_id"])
            evidence[name] = {"batch": hook["rows"], "still_in_outbox": still, "on_topics": published,
                              "types": types}
            assert hook["rows"] > 0 and still >= hook["rows"] and published >= hook["rows"], (name, evidence[name])
            pending.discard(name)
            p.restarts += 1
            await p.start(name)
        await asyncio.sleep(0.2)


async def resolve_through_restarts(p: ChaosPipeline, incident: str, timeout: float = 60) -> None:
    """POST resolve; the service may be exiting or restarting on another port meanwhile: retry until 200/409."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            async with p.client("engineering-validation") as api:
                r = await api.post(f"/v1/incidents/{incident}/resolve", json={"message": "Everything works again."})
            if r.status_code in (200, 409):
                return
        except httpx.HTTPError:
            pass
        assert time.monotonic() < deadline, f"could not resolve {incident}"
        await asyncio.sleep(0.5)


async def test_relay_exits_between_send_and_delete(pipeline: ChaosPipeline, kafka) -> None:
    p, t0, evidence = pipeline, time.monotonic(), {}
    name = "outbox relay exits after send, before delete (hook, 3 services)"
    w = Workload.make(N_ALERTS, N_TICKETS)
    incident = await open_incident(p, kafka, w.incident_alert())
    topics = p.stack.topics
    load = asyncio.gather(produce(p.stack.bootstrap, topics.alerts_raw, w.alert_records(), rate_per_s=RATE),
                          produce(p.stack.bootstrap, topics.tickets_new, w.ticket_records(), rate_per_s=RATE / 8))
    # alert-ingest and ticket-triage crash on their first batch of the load (alerts.state, tickets.triaged, DLT)
    since = {n: start_hooked(p, n) for n in ("alert-ingest", "ticket-triage")}
    await asyncio.gather(load, await_crashes(p, since, evidence))
    await eventually(lambda: p.oracle.settled(w), timeout=full_or_short(300, 120), interval=1.0,
                     what=f"{name}: every valid input has its effect")
    linked = await linked_tickets(p, w)
    await wait_comments(p, linked, "link", timeout=120)
    # engineering-validation crashes on the batch with incident.resolved (the notifier comments on it once)
    since = {"engineering-validation": start_hooked(p, "engineering-validation")}
    await asyncio.gather(resolve_through_restarts(p, incident), await_crashes(p, since, evidence))
    await wait_comments(p, linked, "resolved", timeout=120)
    await quiet(p, linked)
    v = await p.oracle.check(name, w, zendesk=p.zendesk, comment_kinds=("link", "resolved"))
    v.seconds = round(time.monotonic() - t0, 1)
    v.notes.append(f"crashed batches: {evidence}")
    record(v)
    print(f"{v.summary()}; events republished and dropped by id: {v.event_republished}")
    assert set(evidence) == set(SCHEMAS)
    assert linked, "no ticket was linked: the resolution comments were not exercised"
    # alert-ingest's crashed batch holds alerts.state events: the oracle sees them twice on the topic
    assert v.event_republished > 0, v.summary()
    assert_clean(v)
    assert await p.all_ready()
