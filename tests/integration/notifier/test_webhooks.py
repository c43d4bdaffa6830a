"""Signed webhooks to subscribers filtered by event type and product, escalations to the team's webhook,
the SSRF guard, and a failing subscriber that never blocks the others."""

from __future__ import annotations

from datetime import UTC, datetime

from services.notifier.app import create_app
from services.notifier.settings import TeamWebhook, WebhookSubscription
from services.notifier.webhooks import resolve
from shared.contracts import Signal, ValidationEscalated, encode, make_event
from tests.integration.notifier import support as s
from tests.support.kafka import unique
from tests.support.services import free_port, run_in_process
from tests.support.waiting import eventually


def _sub(name, url, **kw):
    return WebhookSubscription(name=name, url=url, secret=s.SECRET, **kw)


async def _rows(pool, target):
    return await pool.fetch("SELECT * FROM notifier.deliveries WHERE target=$1 ORDER BY id", target)


async def test_webhooks_signed_filtered_guarded_and_isolated(stack, kafka, zendesk, receiver):
    inc, talk_inc = s.incident_id(), s.incident_id()
    dead_port = free_port()  # nothing listens there: connection refused, retried with backoff
    subs = [
        _sub("chat-all", f"{receiver.url}/chat", products=["Chat"]),
        _sub("opened-only", f"{receiver.url}/opened", event_types=["incident.opened"]),
        _sub("down", f"http://127.0.0.1:{dead_port}/hook"),
        _sub("loopback-v6", f"http://[::1]:{dead_port}/hook"),  # only 127.0.0.1 is allowed
        _sub("loopback-other", f"http://127.0.0.2:{dead_port}/hook"),
        _sub("private", "http://10.1.2.3/hook"),
        _sub("metadata", "http://169.254.169.254/latest/meta-data"),
        _sub("ftp", "ftp://example.com/hook"),
    ]
    cfg = s.settings(stack, zendesk.url, webhooks=subs, max_attempts=50)
    topic = stack.topics.incidents_updates
    async with run_in_process(create_app(cfg)) as svc:
        await kafka.produce(topic, s.opened(inc, product="Chat"), key=inc)
        await kafka.produce(topic, s.opened(talk_inc, product="Talk"), key=talk_inc)
        await kafka.produce(topic, s.posted(inc, "Webhook update"), key=inc)
        await eventually(lambda: _async(receiver.accepted("/chat")), until=lambda d: len(d) == 2)
        opened = await eventually(lambda: _async(receiver.accepted("/opened")), until=lambda d: len(d) == 2)
        assert {d["body"]["data"]["product"] for d in opened} == {"Chat", "Talk"}
        chat = receiver.accepted("/chat")
        assert [d["body"]["type"].rsplit(".", 2)[-2] for d in chat] == ["opened", "status_update_posted"]
        assert all(d["body"]["subject"] == inc for d in chat)
        assert len({d["webhook_id"] for d in receiver.deliveries}) == 4
        assert all(d["verified"] for d in receiver.deliveries)
        for name in ("loopback-v6", "loopback-other", "private", "metadata", "ftp"):
            rows = await eventually(lambda n=name: _rows(svc.pool, f"webhook:{n}"),
                                    until=lambda rs: rs and all(r["status"] == "dead" for r in rs))
            assert all(r["attempts"] == 1 and "refused" in r["last_error"] for r in rows)
        down = await eventually(lambda: _rows(svc.pool, "webhook:down"),
                                until=lambda rs: len(rs) == 3 and rs[0]["attempts"] >= 2)
        assert not any(r["status"] == "sent" for r in down)  # retried with backoff, blocking nobody


async def test_failing_receiver_is_retried_and_redirects_are_guarded(stack, kafka, zendesk, receiver):
    inc = s.incident_id()
    cfg = s.settings(stack, zendesk.url, webhooks=[_sub("flaky", f"{receiver.url}/flaky")])
    receiver.fail_next(503, 2)
    async with run_in_process(create_app(cfg)) as svc:
        await kafka.produce(stack.topics.incidents_updates, s.opened(inc), key=inc)
        got = await eventually(lambda: _async(receiver.accepted("/flaky")), until=lambda d: len(d) == 1)
        assert len({d["webhook_id"] for d in receiver.deliveries if d["path"] == "/flaky"}) == 1  # same id
        # the receiver has it; the outcome is recorded right after
        rows = await eventually(lambda: _rows(svc.pool, "webhook:flaky"), until=lambda rs: rs[0]["status"] == "sent")
        row = rows[0]
        assert row["attempts"] == 3 and got[0]["body"]["data"]["incident_id"] == inc
        # redirects are followed only to addresses that pass the guard
        hooks = svc.app.state.parts.sender.webhooks
        ok = await hooks.post(f"{receiver.url}/_redirect?to={receiver.url}/moved", s.SECRET, "msg_r1", b"{}")
        assert ok.ok and receiver.accepted("/moved")
        bad = await hooks.post(f"{receiver.url}/_redirect?to=http://169.254.169.254/latest", s.SECRET, "msg_r2",
                               b"{}")
        assert not bad.ok and not bad.retryable and "refused" in bad.error
        # a name is resolved once, checked, and the request pinned to that address (no DNS rebinding window)
        port = int(receiver.url.rsplit(":", 1)[1])
        if await resolve("localhost", port) == ["127.0.0.1"]:
            named = await hooks.post(f"http://localhost:{port}/named", s.SECRET, "msg_r3", b"{}")
            assert named.ok and receiver.accepted("/named")[0]["host"] == f"localhost:{port}"


async def test_escalation_goes_to_the_owning_teams_webhook(stack, kafka, zendesk, receiver):
    cfg = s.settings(stack, zendesk.url, team_webhooks={
        "chat-eng": TeamWebhook(url=f"{receiver.url}/chat-eng", secret=s.SECRET),
        "talk-eng": TeamWebhook(url=f"{receiver.url}/talk-eng", secret=s.SECRET)})
    cand = unique("cand")
    esc = ValidationEscalated(candidate_id=cand, product="Chat", signal=Signal.LATENCY, team="chat-eng",
                              pending_since=datetime.now(UTC), summary="Chat latency pending for 10 min")
    nobody = esc.model_copy(update={"team": "guide-eng", "candidate_id": unique("cand")})
    async with run_in_process(create_app(cfg)) as svc:
        for e in (esc, nobody):
            await kafka.produce(stack.topics.alerts_validated,
                                encode(make_event(e, source="/services/engineering-validation")),
                                key=e.candidate_id)
        got = await eventually(lambda: _async(receiver.accepted("/chat-eng")), until=lambda d: len(d) == 1)
        assert got[0]["body"]["data"]["candidate_id"] == cand and not receiver.accepted("/talk-eng")
        # no webhook for guide-eng: recorded as dead at once, visible, not lost silently
        rows = await eventually(lambda: _rows(svc.pool, "team:guide-eng"), until=lambda rs: len(rs) == 1)
        assert rows[0]["status"] == "dead" and "no webhook" in rows[0]["last_error"]


async def _async(value):
    return value
