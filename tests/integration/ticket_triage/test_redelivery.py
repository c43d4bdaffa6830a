"""Redelivery changes nothing, a ticket is never decided or linked twice, junk goes to the DLT, and two
instances in one consumer group give the same result as one."""

from __future__ import annotations

import orjson

from services.ticket_triage.app import create_app
from tests.support.kafka import KafkaTestClient
from tests.support.services import run_in_process
from tests.support.waiting import eventually

from .helpers import dumps, inc_id, incident_opened, native, of_type, settings

CLUSTERS = {
    "Guide": ("Help center search fails", "Searching articles in our help center returns an error for every query."),
    "Talk": ("Voicemails not recorded", "Callers leave voicemails but no recordings show up, it stopped working."),
    "Chat": ("Chat transcripts missing", "All past conversation transcripts disappeared and the history errors."),
}


async def _counts(pool) -> tuple[int, int, int, int]:
    return (await pool.fetchval("SELECT count(*) FROM triage.tickets"),
            await pool.fetchval("SELECT count(*) FROM triage.decisions"),
            await pool.fetchval("SELECT count(*) FROM triage.links"),
            await pool.fetchval("SELECT count(*) FROM triage.incidents"))


async def test_redelivery_and_duplicates_change_nothing(stack, kafka):
    async with run_in_process(create_app(settings(stack))) as triage:
        tickets = [native(*CLUSTERS["Guide"], product="Guide") for _ in range(3)]
        tickets.append(native("Invoice question", "Please send last month's invoice.", product="Support"))
        for t in tickets:
            await kafka.produce(stack.topics.tickets_new, dumps(t), key=t["ticket_id"])
        await kafka.produce(stack.topics.tickets_new, b"{junk", key=b"junk")
        await eventually(lambda: triage.pool.fetchval("SELECT count(*) FROM triage.links"), until=lambda n: n == 3,
                         what="cluster linked")
        dlt = await kafka.read(stack.topics.tickets_new + ".DLT", until=lambda rs: any(r.key == b"junk" for r in rs))
        assert dict(dlt[0].headers)["dlt-error-class"] == b"JSONDecodeError"
        before = await _counts(triage.pool)
        # the same records delivered again (lost offset commit, rebalance): skipped by the tracked positions
        records = await kafka.read(stack.topics.tickets_new, until=lambda rs: len(rs) >= 5)
        service = triage.app.state.triage_service()
        await service.handle_tickets(records)
        # the same ticket sent again (a webhook retry): a new offset, but the ticket is known
        await kafka.produce(stack.topics.tickets_new, dumps(tickets[0]), key=tickets[0]["ticket_id"])
        # an incident event published twice by a relay that died before deleting it
        incident = inc_id()
        event = incident_opened(incident, "Support", "Support: invoices not generated", "billing job failing")
        for _ in range(2):
            await kafka.produce(stack.topics.incidents_updates, event, key=incident)
        await eventually(lambda: _positions(triage.pool, stack.topics.tickets_new), until=lambda n: n >= 6,
                         what="retried ticket consumed")
        await eventually(lambda: _positions(triage.pool, stack.topics.incidents_updates), until=lambda n: n >= 6,
                         what="both copies consumed")
        after = await _counts(triage.pool)
        assert after == (before[0], before[1], before[2], before[3] + 1)
        assert await triage.pool.fetchval("SELECT count(*) FROM triage.processed_events WHERE event_id = $1",
                                          orjson.loads(event)["id"]) == 1
        updates = await kafka.read_json(stack.topics.incidents_updates, until=lambda es: len(es) >= 6)
        assert len(of_type(updates, "ticket_linked.v1")) == 3


async def test_failed_batch_is_redelivered_and_applied_once(stack, kafka, monkeypatch):
    """Infrastructure failure mid-batch: nothing is stored, the batch comes again, the effect happens once."""
    from services.ticket_triage import store

    real, calls = store.open_incidents, []

    async def flaky(conn):
        calls.append(1)
        if len(calls) == 1:
            raise ConnectionError("database went away")
        return await real(conn)

    monkeypatch.setattr(store, "open_incidents", flaky)
    async with run_in_process(create_app(settings(stack))) as triage:
        t = native("Where is my invoice?", "Please send the invoice for March.", product="Support")
        await kafka.produce(stack.topics.tickets_new, dumps(t), key=t["ticket_id"])
        await kafka.produce(stack.topics.incidents_updates, b"not an event", key=b"junk")
        rows = await eventually(lambda: triage.pool.fetch("SELECT outcome FROM triage.decisions WHERE ticket_id = $1",
                                                          t["ticket_id"]), what="decided after the retry")
        assert len(calls) >= 2 and [r["outcome"] for r in rows] == ["standard_support"]
        dlt = await kafka.read(stack.topics.incidents_updates + ".DLT", until=lambda rs: any(
            r.key == b"junk" for r in rs))
        assert dict(dlt[0].headers)["dlt-service"] == b"ticket-triage"


async def _positions(pool, topic: str) -> int:
    """Sum of next offsets stored for a topic (how many records the group has applied)."""
    return await pool.fetchval("SELECT coalesce(sum(next_offset), 0) FROM triage.consumer_positions "
                               "WHERE topic = $1", topic)


async def test_two_instances_give_the_same_result_as_one(make_stack):
    stack = await make_stack()
    kafka = KafkaTestClient(stack.bootstrap)
    await kafka.start()
    try:
        async with run_in_process(create_app(settings(stack, consumer_max_records=2))) as one, \
                run_in_process(create_app(settings(stack))) as two:
            tickets = [native(*text, product=p) for p, text in CLUSTERS.items() for _ in range(3)]
            tickets += [native("How do I add a macro?", "How can we configure macros?", product="Support")
                        for _ in range(3)]
            await kafka.produce_many(stack.topics.tickets_new, [orjson.loads(dumps(t)) for t in tickets],
                                     key_fn=lambda i: tickets[i]["ticket_id"].encode())
            incident = inc_id()
            await kafka.produce(stack.topics.incidents_updates, incident_opened(
                incident, "Support", "Support: macros failing", "macro engine errors"), key=incident)
            await eventually(lambda: one.pool.fetchval("SELECT count(*) FROM triage.decisions"),
                             until=lambda n: n == 3 + 3 * (2 + 2 + 1), what="all decided")
            updates = await kafka.read_json(stack.topics.incidents_updates,
                                            until=lambda es: len(of_type(es, "ticket_linked.v1")) >= 9)
            opened = [e for e in of_type(updates, "incident.opened.v1") if e["data"]["opened_from"] == "tickets"]
            assert sorted(e["data"]["product"] for e in opened) == ["Chat", "Guide", "Talk"]
            linked = [e["data"]["ticket"]["ticket_id"] for e in of_type(updates, "ticket_linked.v1")]
            assert sorted(linked) == sorted(t["ticket_id"] for t in tickets[:9])
            assert await one.pool.fetchval("SELECT count(*) FROM triage.tickets") == 12
            # the first two reports of each cluster: pending, then new_incident; the third: new_incident
            rows = await one.pool.fetch("SELECT ticket_id, array_agg(outcome ORDER BY id) AS o "
                                        "FROM triage.decisions GROUP BY ticket_id")
            shapes = sorted(tuple(r["o"]) for r in rows)
            assert shapes == sorted([("standard_support",)] * 3 + [("new_incident",)] * 3
                                    + [("standard_support", "new_incident")] * 6)
            assert two.runtime.started and one.runtime.started
    finally:
        await kafka.stop()
