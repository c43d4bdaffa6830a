"""Scenario 5: one status update to 10,000 linked tickets through the Zendesk stand-in: time until every
ticket has the comment, and the HTTP calls the notifier made (bulk update_many allowed)."""

from __future__ import annotations

import time
import uuid

from shared.contracts import IncidentOpened, IncidentStatus, Severity, StatusUpdatePosted, TicketLinked, TicketRef
from shared.contracts.envelope import encode, make_event

from ..kafka_io import bench_producer, produce_bulk
from ..measure import quiescent
from ..pipeline import progress, services
from ..procs import missing
from ..slice import stack_slice
from ..stats import NotReached, spread
from . import Ctx, NotRun

EMAIL, TOKEN = "bench@example.com", "bench-zendesk-token"
#: Linking 10,000 tickets (each gets its own first comment) is set-up, run without the client-side rate cap.
SETUP_ENV = {"NOTIFIER_ZENDESK_RATE_LIMIT_PER_MINUTE": "100000"}


def _env(url: str) -> dict[str, str]:
    return {"NOTIFIER_ZENDESK_BASE_URL": url, "NOTIFIER_ZENDESK_EMAIL": EMAIL, "NOTIFIER_ZENDESK_API_TOKEN": TOKEN}


def linked_records(incident_id: str, n: int) -> list[tuple[bytes, bytes]]:
    """IncidentOpened then `n` TicketLinked on incidents.updates, keyed by the incident."""
    key = incident_id.encode()
    opened = IncidentOpened(incident_id=incident_id, title="Chat: messages not delivered", product="Chat",
                            severity=Severity.SEV2, opened_from="engineer", team="chat-eng",
                            public_message="We are investigating delayed chat messages.")
    out = [(key, encode(make_event(opened, source="/bench", subject=incident_id)))]
    for i in range(n):
        ref = TicketRef(ticket_id=str(7_000_000 + i), subject="Chat messages not delivered", locale="en",
                        product="Chat")
        out.append((key, encode(make_event(TicketLinked(incident_id=incident_id, ticket=ref), source="/bench",
                                           subject=incident_id))))
    return out


async def _send(s, records) -> None:
    producer = bench_producer(s.bootstrap)
    await producer.start()
    try:
        await produce_bulk(producer, s.topics.incidents_updates, records, s.kafka.partitions)
    finally:
        await producer.stop()


async def fanout_once(n: int) -> dict:
    from tools.zendesk_standin import ZendeskStandIn

    standin = ZendeskStandIn(email=EMAIL, token=TOKEN)
    incident_id = f"INC-fan{uuid.uuid4().hex[:8]}"
    async with standin.serve() as url, stack_slice() as s, progress(s) as pr:
        async def linked() -> tuple:
            return (await pr.lag(s.topics.group("notifier"), s.topics.incidents_updates), len(standin.comments))
        async with services(s, ["notifier"], {**_env(url), **SETUP_ENV}):
            await _send(s, linked_records(incident_id, n))
            state = await quiescent(linked, quiet_s=3.0, timeout=300)
            if state[1] < n:
                raise NotReached(f"only {state[1]}/{n} tickets got their link comment")
        standin.reset()
        async with services(s, ["notifier"], _env(url)):
            update = StatusUpdatePosted(incident_id=incident_id, update_id=f"upd-{uuid.uuid4().hex[:8]}",
                                        message="We identified the cause and are deploying a fix.",
                                        status=IncidentStatus.IDENTIFIED, author="bench")
            t0 = time.time()
            await _send(s, [(incident_id.encode(), encode(make_event(update, source="/bench",
                                                                      subject=incident_id)))])
            await quiescent(linked, quiet_s=3.0, timeout=600)
            done = [c[-1]["at"] for c in standin.comments.values() if c]
            calls = len(standin.requests)
    if len(done) < n:
        raise NotReached(f"only {len(done)}/{n} tickets got the status update")
    return {"seconds": max(done) - t0, "http_calls": calls, "tickets_commented": len(done)}


async def run(ctx: Ctx) -> dict:
    if reason := missing("notifier"):
        raise NotRun(reason)
    n = ctx.cfg.fanout_tickets
    runs = [await fanout_once(n) for _ in range(1 if not ctx.cfg.quick else 1)]
    calls = runs[0]["http_calls"]
    return {"tickets": n, "seconds": spread([r["seconds"] for r in runs]), "http_calls": calls,
            "tickets_per_call": n / calls if calls else None, "runs": runs, "pass": None,
            "rate_limit_per_minute": 400}
