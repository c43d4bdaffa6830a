"""HTTP API on the real stack: Zendesk signatures (good, bad, stale, unsigned, malformed) and overrides."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from services.ticket_triage.app import create_app
from services.ticket_triage.domain.signature import sign
from shared.auth import create_token
from tests.support.services import run_in_process
from tests.support.waiting import eventually

from .helpers import SECRET, dumps, inc_id, incident_opened, native, of_type, settings, zendesk


@pytest.fixture(scope="module")
async def triage(stack):
    async with run_in_process(create_app(settings(stack))) as running:
        yield running


@pytest.fixture(scope="module")
async def tokens(triage):
    async with triage.pool.acquire() as conn:
        return {team: await create_token(conn, name=f"agent-{team}", team=team)
                for team in ("customer-support", "chat-eng", "talk-eng")}


def _signed(body: bytes, *, secret: str = SECRET, at: datetime | None = None) -> dict[str, str]:
    ts = (at or datetime.now(UTC)).isoformat().replace("+00:00", "Z")
    return {"X-Zendesk-Webhook-Signature": sign(secret, ts, body), "X-Zendesk-Webhook-Signature-Timestamp": ts,
            "Content-Type": "application/json"}


async def test_signed_zendesk_webhook_is_appended_and_triaged(stack, kafka, triage):
    doc = zendesk("How do I change the IVR menu?", "How can we configure IVR menus in Talk?", priority="LOW")
    body = dumps(doc)
    r = await triage.client.post("/v1/tickets/zendesk", content=body, headers=_signed(body))
    assert r.status_code == 202, r.text
    assert r.json()["ticket_id"] == doc["detail"]["id"]
    records = await kafka.read(stack.topics.tickets_new, until=lambda rs: any(x.value == body for x in rs))
    assert next(x for x in records if x.value == body).key == doc["detail"]["id"].encode()
    row = await eventually(lambda: triage.pool.fetchrow("SELECT * FROM triage.tickets WHERE ticket_id = $1",
                                                        doc["detail"]["id"]), what="triaged")
    assert row["priority"] == "low" and row["product"] == "Talk" and row["outcome"] == "standard_support"


@pytest.mark.parametrize("case", ["bad", "stale", "future", "unsigned", "wrong_secret"])
async def test_bad_signatures_are_rejected(triage, case):
    body = dumps(zendesk("x", "y"))
    headers = {"bad": {**_signed(body), "X-Zendesk-Webhook-Signature": "AAAA"},
               "stale": _signed(body, at=datetime.now(UTC) - timedelta(minutes=10)),
               "future": _signed(body, at=datetime.now(UTC) + timedelta(minutes=10)),
               "unsigned": {"Content-Type": "application/json"},
               "wrong_secret": _signed(body, secret="other")}[case]
    r = await triage.client.post("/v1/tickets/zendesk", content=body, headers=headers)
    assert r.status_code == 401, r.text


async def test_signed_but_malformed_payload_is_422_with_reason(triage):
    for body in (b"{not json", dumps({"type": "zen:event-type:ticket.deleted", "detail": {"id": "1"}}),
                 dumps({"hello": "world"})):
        r = await triage.client.post("/v1/tickets/zendesk", content=body, headers=_signed(body))
        assert r.status_code == 422 and "malformed" in r.json()["detail"], r.text


async def test_overrides_link_unlink_standard_with_history(stack, kafka, triage, tokens):
    incident = inc_id()
    await kafka.produce(stack.topics.incidents_updates,
                        incident_opened(incident, "Chat", "Chat: messages not delivered"), key=incident)
    t = native("Feature request: CSV export", "It would be great if chat could export transcripts.", product="Chat")
    await kafka.produce(stack.topics.tickets_new, dumps(t), key=t["ticket_id"])
    tid = t["ticket_id"]
    await eventually(lambda: triage.pool.fetchval("SELECT count(*) FROM triage.incidents i, triage.tickets t "
                                                  "WHERE i.incident_id = $1 AND t.ticket_id = $2", incident, tid),
                     what="incident and ticket known")
    auth = {"Authorization": f"Bearer {tokens['chat-eng']}"}
    body = {"incident_id": incident, "reason": "customer describes the delivery problem"}
    assert (await triage.client.post(f"/v1/tickets/{tid}/link", json=body)).status_code == 401
    other = {"Authorization": f"Bearer {tokens['talk-eng']}"}
    assert (await triage.client.post(f"/v1/tickets/{tid}/link", json=body, headers=other)).status_code == 403
    bad = await triage.client.post(f"/v1/tickets/{tid}/link", json={"incident_id": "nope", "reason": ""}, headers=auth)
    assert bad.status_code == 422 and "incident_id" in bad.text
    r = await triage.client.post(f"/v1/tickets/{tid}/link", json=body, headers=auth)
    assert r.status_code == 200 and r.json() == {"changed": True, "outcome": "linked", "incident_id": incident}
    again = await triage.client.post(f"/v1/tickets/{tid}/link", json=body, headers=auth)
    assert again.json()["changed"] is False  # never linked twice
    support = {"Authorization": f"Bearer {tokens['customer-support']}"}
    r = await triage.client.post(f"/v1/tickets/{tid}/unlink", json={"reason": "not related"}, headers=support)
    assert r.status_code == 200 and r.json()["outcome"] == "standard_support"
    r = await triage.client.post(f"/v1/tickets/{tid}/unlink", json={"reason": "again"}, headers=support)
    assert r.status_code == 409
    r = await triage.client.post(f"/v1/tickets/{tid}/standard", json={"reason": "feature request"}, headers=support)
    assert r.status_code == 200 and r.json()["changed"] is False
    updates = await kafka.read_json(stack.topics.incidents_updates, until=lambda es: of_type(
        es, "ticket_unlinked.v1", ticket_id=tid))
    assert [e["data"]["link_reason"] for e in of_type(updates, "ticket_linked.v1", ticket_id=tid)] == ["override"]
    triaged = await kafka.read_json(stack.topics.tickets_triaged, until=lambda es: len(
        of_type(es, "ticket.triaged.v1", ticket_id=tid)) == 3)
    assert [(e["data"]["outcome"], e["data"]["override"]) for e in of_type(triaged, "ticket.triaged.v1",
                                                                             ticket_id=tid)] == [
        ("standard_support", False), ("linked", True), ("standard_support", True)]
    view = (await triage.client.get(f"/v1/tickets/{tid}", headers=support)).json()
    assert [h["decided_by"] for h in view["history"]] == ["triage", "agent-chat-eng", "agent-customer-support"]
    assert view["outcome"] == "standard_support" and view["overridden"] is True
    assert (await triage.client.get("/v1/tickets/unknown", headers=support)).status_code == 404


async def test_native_ticket_endpoint_needs_a_token_and_a_valid_body(stack, kafka, triage, tokens):
    t = native("Pricing", "What is the price of the Guide plans?", product="Guide")
    assert (await triage.client.post("/v1/tickets", content=dumps(t))).status_code == 401
    auth = {"Authorization": f"Bearer {tokens['customer-support']}"}
    bad = await triage.client.post("/v1/tickets", content=dumps({"ticket_id": "x"}), headers=auth)
    assert bad.status_code == 422 and "subject" in bad.json()["detail"]
    r = await triage.client.post("/v1/tickets", content=dumps(t), headers=auth)
    assert r.status_code == 202 and r.json()["ticket_id"] == t["ticket_id"]
    row = await eventually(lambda: triage.pool.fetchrow("SELECT outcome, product FROM triage.tickets "
                                                        "WHERE ticket_id = $1", t["ticket_id"]), what="triaged")
    assert dict(row) == {"outcome": "standard_support", "product": "Guide"}
