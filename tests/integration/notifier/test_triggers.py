"""Each trigger comments once on every linked ticket, in the ticket's language, through the real stack."""

from __future__ import annotations

from services.notifier.app import create_app
from shared.auth import create_token
from tests.integration.notifier import support as s
from tests.support.kafka import unique
from tests.support.services import run_in_process
from tests.support.waiting import eventually


async def _comments(zendesk, ticket, n):
    return await eventually(lambda: _bodies(zendesk, ticket), until=lambda b: len(b) >= n, timeout=20,
                            what=f"{n} comments on {ticket}")


async def _bodies(zendesk, ticket):
    return zendesk.bodies(ticket)


async def test_each_trigger_comments_once_per_ticket_in_its_language(stack, kafka, zendesk):
    inc, t_en, t_es = s.incident_id(), unique("1"), unique("2")
    topic = stack.topics.incidents_updates
    async with run_in_process(create_app(s.settings(stack, zendesk.url))) as svc:
        await kafka.produce(topic, s.opened(inc, message="We are looking into delayed messages."), key=inc)
        await kafka.produce(topic, s.linked(inc, t_en, locale="en"), key=inc)
        await kafka.produce(topic, s.linked(inc, t_es, locale="es-ES"), key=inc)
        en = await _comments(zendesk, t_en, 1)
        es = await _comments(zendesk, t_es, 1)
        assert "Current status: Investigating" in en[0] and "delayed messages" in en[0]
        assert "Estado actual: En investigación" in es[0]

        await kafka.produce(topic, s.posted(inc, "We found the cause.", status="identified"), key=inc)
        await _comments(zendesk, t_en, 2)
        await kafka.produce(topic, s.status_changed(inc, "identified", "monitoring"), key=inc)
        await _comments(zendesk, t_en, 3)
        await kafka.produce(topic, s.resolved(inc, "Messages flow normally again."), key=inc)
        en = await _comments(zendesk, t_en, 4)
        es = await _comments(zendesk, t_es, 4)

        assert "We found the cause." in en[1] and "Identified" in en[1]
        assert "changed to: Monitoring" in en[2]
        assert "has been resolved" in en[3] and "Messages flow normally again." in en[3]
        assert "se ha resuelto" in es[3]
        # the same link again (a replayed or repeated TicketLinked) does not comment twice
        await kafka.produce(topic, s.linked(inc, t_en), key=inc)
        log = await eventually(lambda: _ticket_log(svc, t_en),
                               until=lambda d: len(d) == 4 and all(x["status"] == "sent" for x in d))
        assert [d["kind"] for d in log] == ["link", "update", "status", "resolved"]
        assert all(d["status"] == "sent" and d["attempts"] == 1 for d in log)
        assert len(zendesk.bodies(t_en)) == 4
        assert all(c["public"] for c in zendesk.comments[t_en])


async def _ticket_log(svc, ticket):
    async with svc.pool.acquire() as conn:
        token = await create_token(conn, name="ops", team="*")
    r = await svc.client.get(f"/v1/tickets/{ticket}/deliveries", headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 200, r.text
    return r.json()["deliveries"]


async def test_merge_moves_links_and_unlink_stops_comments(stack, kafka, zendesk):
    a, b, ta, tb, gone = s.incident_id(), s.incident_id(), unique("1"), unique("2"), unique("3")
    topic = stack.topics.incidents_updates
    cfg = s.settings(stack, zendesk.url, cadence_seconds={"SEV-2": 3600})
    async with run_in_process(create_app(cfg)) as svc:
        await kafka.produce(topic, s.opened(a, title="Chat A"), key=a)
        await kafka.produce(topic, s.opened(b, title="Chat B"), key=b)
        await kafka.produce(topic, s.linked(a, ta), key=a)
        await kafka.produce(topic, s.linked(a, gone), key=a)
        await kafka.produce(topic, s.linked(b, tb), key=b)
        await _comments(zendesk, ta, 1)
        await _comments(zendesk, gone, 1)
        await kafka.produce(topic, s.unlinked(a, gone), key=a)
        await kafka.produce(topic, s.merged(a, b), key=a)
        await kafka.produce(topic, s.linked(b, ta, reason="merge"), key=b)  # triage follows the merge
        moved = await _comments(zendesk, ta, 2)
        assert "Chat B" in moved[1]
        await kafka.produce(topic, s.posted(b, "Update for B."), key=b)
        await kafka.produce(topic, s.posted(a, "Late update for merged A."), key=a)
        await _comments(zendesk, tb, 2)
        ta_bodies = await _comments(zendesk, ta, 3)
        assert "Update for B." in ta_bodies[2]
        assert await svc.pool.fetchval("SELECT count(*) FROM notifier.schedules WHERE incident_id=$1", a) == 0
        assert await svc.pool.fetchval("SELECT count(*) FROM notifier.schedules WHERE incident_id=$1", b) == 1
        done = await eventually(lambda: svc.pool.fetchval(
            "SELECT count(*) FROM notifier.deliveries WHERE incident_id=$1 AND kind='update'", b),
            until=lambda n: n == 2)
        assert done == 2
        await eventually(lambda: svc.pool.fetchval("SELECT latest_update FROM notifier.incidents WHERE incident_id=$1",
                                                   a), until=lambda m: m == "Late update for merged A.")
        assert await svc.pool.fetchval("SELECT count(*) FROM notifier.deliveries WHERE incident_id=$1 "
                                       "AND kind='update'", a) == 0
    assert len(zendesk.bodies(gone)) == 1 and len(zendesk.bodies(ta)) == 3
    assert not any("Late update for merged A." in x for x in zendesk.bodies(ta))
