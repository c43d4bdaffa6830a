"""Retries with backoff on 5xx and 429 (Retry-After honoured), dead deliveries visible in the API and the
metrics, and redelivered records or events that change nothing."""

from __future__ import annotations

import time
from dataclasses import dataclass

from services.notifier.app import create_app
from services.notifier.service import Notifier
from shared.auth import create_token
from tests.integration.notifier import support as s
from tests.support.kafka import unique
from tests.support.services import run_in_process
from tests.support.waiting import eventually


async def _delivery(pool, ticket):
    return await pool.fetchrow("SELECT * FROM notifier.deliveries WHERE ticket_id=$1 ORDER BY id LIMIT 1", ticket)


async def _token(pool, team):
    async with pool.acquire() as conn:
        return await create_token(conn, name=unique("tok"), team=team)


async def test_5xx_and_429_are_retried_until_sent_once(stack, kafka, zendesk):
    inc, t1 = s.incident_id(), unique("7")
    topic = stack.topics.incidents_updates
    async with run_in_process(create_app(s.settings(stack, zendesk.url))) as svc:
        await kafka.produce(topic, s.opened(inc), key=inc)
        zendesk.fail_next(503, 2)
        zendesk.fail_next(429, 1, retry_after=1)
        started = time.monotonic()
        await kafka.produce(topic, s.linked(inc, t1), key=inc)
        row = await eventually(lambda: _delivery(svc.pool, t1), until=lambda r: r and r["status"] == "sent")
        assert row["attempts"] == 4 and len(zendesk.bodies(t1)) == 1
        assert time.monotonic() - started >= 1.0  # the 429's Retry-After was waited out
        attempts = [r for r in zendesk.requests if r["path"] == f"/api/v2/tickets/{t1}.json"]
        assert len(attempts) == 4


async def test_dead_after_max_attempts_visible_in_api_and_metric(stack, kafka, zendesk):
    inc, t1, t2 = s.incident_id(), unique("8"), unique("9")
    topic = stack.topics.incidents_updates
    cfg = s.settings(stack, zendesk.url, max_attempts=3)
    async with run_in_process(create_app(cfg)) as svc:
        await kafka.produce(topic, s.opened(inc, product="Talk"), key=inc)
        zendesk.fail_next(500, 3)
        await kafka.produce(topic, s.linked(inc, t1), key=inc)
        row = await eventually(lambda: _delivery(svc.pool, t1), until=lambda r: r and r["status"] == "dead")
        assert row["attempts"] == 3 and "HTTP 500" in row["last_error"]
        zendesk.fail_next(404, 1)  # a permanent error is not retried
        await kafka.produce(topic, s.linked(inc, t2), key=inc)
        row2 = await eventually(lambda: _delivery(svc.pool, t2), until=lambda r: r and r["status"] == "dead")
        assert row2["attempts"] == 1

        ops, talk, chat = [await _token(svc.pool, t) for t in ("*", "talk-eng", "chat-eng")]
        r = await svc.client.get("/v1/deliveries", params={"status": "dead"},
                                 headers={"Authorization": f"Bearer {talk}"})
        assert r.status_code == 200 and {d["ticket_id"] for d in r.json()["deliveries"]} >= {t1, t2}
        r = await svc.client.get("/v1/deliveries", params={"status": "dead"},
                                 headers={"Authorization": f"Bearer {chat}"})
        assert not {d["ticket_id"] for d in r.json()["deliveries"]} & {t1, t2}
        assert (await svc.client.get(f"/v1/incidents/{inc}/deliveries")).status_code == 401
        r = await svc.client.get(f"/v1/incidents/{inc}/deliveries", headers={"Authorization": f"Bearer {chat}"})
        assert r.status_code == 403
        r = await svc.client.get(f"/v1/incidents/{inc}/deliveries", headers={"Authorization": f"Bearer {ops}"})
        assert r.status_code == 200 and len(r.json()["deliveries"]) == 2
        r = await svc.client.get("/v1/deliveries", params={"status": "bogus"},
                                 headers={"Authorization": f"Bearer {ops}"})
        assert r.status_code == 422
        metrics = (await svc.client.get("/metrics")).text
        assert 'notifier_dead_deliveries_total{channel="zendesk",target="zendesk"}' in metrics
    assert len(zendesk.bodies(t1)) == 0


async def test_uncertain_outcomes_are_checked_on_the_ticket_never_doubled(stack, kafka, zendesk):
    inc, slow, crashed_sent, crashed_not = s.incident_id(), unique("4"), unique("5"), unique("6")
    topic = stack.topics.incidents_updates
    async with run_in_process(create_app(s.settings(stack, zendesk.url, http_timeout_s=0.5))) as svc:
        await kafka.produce(topic, s.opened(inc), key=inc)
        # Zendesk applies the comment but the answer never arrives in time (read timeout)
        zendesk.delay_next(1.5)
        await kafka.produce(topic, s.linked(inc, slow), key=inc)
        row = await eventually(lambda: _delivery(svc.pool, slow), until=lambda r: r and r["status"] == "sent")
        assert row["attempts"] == 2 and row["external_ref"] == "verified" and len(zendesk.bodies(slow)) == 1
        assert any(r["path"] == f"/api/v2/tickets/{slow}/comments.json" for r in zendesk.requests)
        # a sender that died mid-request (hard crash) leaves claimed rows; when the lease runs out they are
        # retried after checking the ticket: one comment had landed, the other had not
        zendesk._add_comment(crashed_sent, {"body": "Crash body", "public": True}, via="api")
        for t in (crashed_sent, crashed_not):
            await svc.pool.execute(
                "INSERT INTO notifier.deliveries(idempotency_key, channel, target, kind, incident_id, ticket_id, "
                "body, status, attempts, claimed_until, claimed_by) VALUES ($1, 'zendesk', 'zendesk', 'update', $2, "
                "$3, 'Crash body', 'sending', 1, now() - interval '1 second', 'crashed')", f"crash:{t}", inc, t)
        for t in (crashed_sent, crashed_not):
            r = await eventually(lambda t=t: _delivery(svc.pool, t), until=lambda r: r["status"] == "sent")
            assert r["attempts"] == 2 and zendesk.bodies(t) == ["Crash body"]
        assert (await _delivery(svc.pool, crashed_sent))["external_ref"] == "verified"


@dataclass
class Rec:
    topic: str
    partition: int
    offset: int
    key: bytes
    value: bytes
    timestamp: int = 0
    headers: tuple = ()


async def test_redelivered_records_and_republished_events_change_nothing(stack, kafka, zendesk):
    inc, t1 = s.incident_id(), unique("1")
    topic = stack.topics.incidents_updates
    async with run_in_process(create_app(s.settings(stack, zendesk.url))) as svc:
        notifier: Notifier = svc.app.state.parts.notifier
        link = s.linked(inc, t1)
        await kafka.produce(topic, s.opened(inc), key=inc)
        await kafka.produce(topic, link, key=inc)
        await kafka.produce(topic, link, key=inc)  # the same event published twice (relay retry)
        update = s.posted(inc, "Once only.")
        await kafka.produce(topic, update, key=inc)
        await eventually(lambda: _count(zendesk, t1), until=lambda n: n == 2)
        # the same records again, as after a lost offset commit: claim_records skips them
        records = await kafka.read(topic, until=lambda rs: sum(r.key == inc.encode() for r in rs) >= 4)
        replay = [r for r in records if r.key == inc.encode()]
        await notifier.on_incident_records(replay)
        # and the same events at new offsets (republished): claim_events skips them
        await notifier.on_incident_records([Rec(topic, 99, i, inc.encode(), r.value)  # no such partition
                                            for i, r in enumerate(replay)])
        # junk on the topic goes to the dead-letter topic and the consumer carries on
        await kafka.produce(topic, b"{not json", key=inc)
        dlt = await kafka.read(stack.topics.incidents_updates + ".DLT",
                               until=lambda rs: any(r.value == b"{not json" for r in rs))
        assert dict(next(r for r in dlt if r.value == b"{not json").headers)["dlt-service"] == b"notifier"
        await kafka.produce(topic, s.posted(inc, "After the junk."), key=inc)
        await eventually(lambda: _count(zendesk, t1), until=lambda n: n == 3)
        n = await svc.pool.fetchval("SELECT count(*) FROM notifier.deliveries WHERE ticket_id=$1", t1)
        assert n == 3


async def _count(zendesk, ticket):
    return len(zendesk.bodies(ticket))
