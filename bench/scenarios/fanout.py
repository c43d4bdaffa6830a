"""Scenario 5: one status update to 10,000 linked tickets through the Zendesk stand-in: time until every
ticket has the comment, and the HTTP calls the notifier made (bulk update_many allowed).

Set-up writes the 10,000 links straight into the notifier's `links` table (after the incident arrived over
Kafka), so the measured phase is the fan-out alone, not 10,000 first-link comments."""

from __future__ import annotations

import time
import uuid

import asyncpg

from shared.contracts import IncidentOpened, IncidentStatus, Severity, StatusUpdatePosted
from shared.contracts.envelope import encode, make_event

from ..kafka_io import bench_producer, produce_bulk
from ..pipeline import services
from ..procs import missing
from ..slice import stack_slice
from ..stats import NotReached, poll
from . import Ctx, NotRun

EMAIL, TOKEN = "bench@example.com", "bench-zendesk-token"
FIRST_TICKET = 7_000_000


def _env(url: str) -> dict[str, str]:
    return {"NOTIFIER_ZENDESK_BASE_URL": url, "NOTIFIER_ZENDESK_EMAIL": EMAIL, "NOTIFIER_ZENDESK_API_TOKEN": TOKEN}


async def _send(s, event, incident_id: str) -> None:
    producer = bench_producer(s.bootstrap)
    await producer.start()
    try:
        record = (incident_id.encode(), encode(make_event(event, source="/bench", subject=incident_id)))
        await produce_bulk(producer, s.topics.incidents_updates, [record], s.kafka.partitions)
    finally:
        await producer.stop()


async def _link(dsn: str, incident_id: str, n: int) -> None:
    """Wait for the notifier to know the incident, then link `n` tickets to it in one statement."""
    conn = await asyncpg.connect(dsn)
    try:
        async def known() -> bool:
            return bool(await conn.fetchval("SELECT count(*) FROM notifier.incidents WHERE incident_id=$1",
                                            incident_id))
        await poll(known, bool, timeout=60, interval=0.1, what="incident known to the notifier")
        await conn.execute("INSERT INTO notifier.links(incident_id, ticket_id, locale) "
                           "SELECT $1, unnest($2::text[]), 'en'", incident_id,
                           [str(FIRST_TICKET + i) for i in range(n)])
    finally:
        await conn.close()


async def fanout_once(n: int, deadline_s: float) -> dict:
    from tools.zendesk_standin import ZendeskStandIn

    standin = ZendeskStandIn(email=EMAIL, token=TOKEN)
    incident_id = f"INC-fan{uuid.uuid4().hex[:8]}"
    async with standin.serve() as url, stack_slice() as s, services(s, ["notifier"], _env(url)):
        await _send(s, IncidentOpened(incident_id=incident_id, title="Chat: messages not delivered", product="Chat",
                                      severity=Severity.SEV2, opened_from="engineer", team="chat-eng"), incident_id)
        try:
            await _link(s.database_url, incident_id, n)
        except asyncpg.PostgresError as exc:
            raise NotRun(f"could not link tickets in the notifier's tables: {exc}") from exc
        standin.reset()
        update = StatusUpdatePosted(incident_id=incident_id, update_id=f"upd-{uuid.uuid4().hex[:8]}",
                                    message="We identified the cause and are deploying a fix.",
                                    status=IncidentStatus.IDENTIFIED, author="bench")
        t0 = time.time()
        await _send(s, update, incident_id)

        async def commented() -> int:
            return len(standin.comments)
        finished = True
        try:
            await poll(commented, lambda c: c >= n, timeout=deadline_s, interval=0.2, what="fan-out")
        except NotReached:
            finished = False
        at = [c[-1]["at"] for c in standin.comments.values() if c]
        return {"seconds": (max(at) - t0) if at else None, "tickets_commented": len(at), "finished": finished,
                "http_calls": len(standin.requests),
                "update_many_calls": sum(1 for r in standin.requests if "update_many" in r["path"]),
                "job_status_calls": sum(1 for r in standin.requests if "job_statuses" in r["path"])}


async def run(ctx: Ctx) -> dict:
    if reason := missing("notifier"):
        raise NotRun(reason)
    n = ctx.cfg.fanout_tickets
    r = await fanout_once(n, deadline_s=60 if ctx.cfg.quick else 240)
    calls = r["http_calls"]
    return {"tickets": n, **r, "tickets_per_call": r["tickets_commented"] / calls if calls else None,
            "pass": None if r["finished"] else False}
