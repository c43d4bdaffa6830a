"""/ready tells the truth about consuming: a consumer whose batches keep failing on an infrastructure error
(here a table of the service renamed away) is redelivered forever, and once that has lasted longer than
READY_MAX_FAILING_S the service answers 503 with the handler, the error and how long; repaired, it catches up
and is ready again, with nothing lost. ticket-triage as its own process, on the real broker and database."""

from __future__ import annotations

import random
import re
import signal

import asyncpg
import httpx

from tests.support.services import ServiceProcess, free_port
from tests.support.waiting import eventually
from tools.demo import zendesk_ticket

GRACE_S = 3


async def _ready(c: httpx.AsyncClient) -> tuple[int, dict]:
    r = await c.get("/ready", timeout=5)
    return r.status_code, r.json()


async def test_a_consumer_stuck_on_a_missing_table_makes_the_service_not_ready_until_repaired(
        stack, kafka, tmp_path):
    port = free_port()
    svc = ServiceProcess("services.ticket_triage", port,
                         {**stack.env(), "TRIAGE_HTTP_PORT": str(port), "READY_MAX_FAILING_S": str(GRACE_S)},
                         tmp_path / "svc.log")
    db = await asyncpg.connect(stack.database_url)
    first, second = (str(random.randint(10**8, 10**9)) for _ in range(2))

    async def stored() -> set[str]:
        rows = await db.fetch("SELECT ticket_id FROM triage.tickets WHERE ticket_id = ANY($1::text[])",
                              [first, second])
        return {r["ticket_id"] for r in rows}

    svc.start()
    try:
        await svc.wait_ready(timeout=60)
        async with httpx.AsyncClient(base_url=svc.url) as c:
            await kafka.produce(stack.topics.tickets_new, zendesk_ticket(int(first), "Chat is down", "x", 7))
            await eventually(stored, until=lambda s: first in s, timeout=30, what="the first ticket stored")
            status, body = await _ready(c)
            assert status == 200 and body["consumers"]["on_new_tickets"]["ok"], body

            await db.execute("ALTER TABLE triage.tickets RENAME TO tickets_renamed_away")
            await kafka.produce(stack.topics.tickets_new, zendesk_ticket(int(second), "Chat is down", "y", 7))
            status, body = await eventually(lambda: _ready(c), until=lambda r: r[0] == 503,
                                            timeout=GRACE_S + 30, interval=0.5, what="/ready 503")
            stuck = body["consumers"]["on_new_tickets"]
            assert body["stuck"] == ["on_new_tickets"] and body["database"] and body["kafka"], body
            # stuck means failing for longer than GRACE_S; the reported figure is rounded to 0.1 s (3.04 -> 3.0)
            assert not stuck["ok"] and stuck["failures"] >= 2 and stuck["failing_s"] >= GRACE_S, stuck
            assert "UndefinedTableError" in stuck["last_error"] and stuck["partitions"], stuck
            assert body["consumers"]["on_incident_updates"]["ok"], body
            metrics = (await c.get("/metrics")).text
            gauge = re.search(r'pipeline_consumer_failing_seconds\{handler="on_new_tickets",service="ticket-triage"\}'
                              r" ([0-9.e+]+)", metrics)
            assert gauge and float(gauge.group(1)) > GRACE_S, metrics[-2000:]

            await db.execute("ALTER TABLE triage.tickets_renamed_away RENAME TO tickets")
            status, body = await eventually(lambda: _ready(c), until=lambda r: r[0] == 200,
                                            timeout=30, interval=0.5, what="/ready 200 after the repair")
            assert body["stuck"] == [] and "failing_since" not in body["consumers"]["on_new_tickets"], body
            await eventually(stored, until=lambda s: s == {first, second}, timeout=30,
                             what="the ticket sent during the fault stored")
    finally:
        await db.close()
        code = svc.stop(signal.SIGTERM, timeout=30)
    assert code == 0, (tmp_path / "svc.log").read_text()[-2000:]
