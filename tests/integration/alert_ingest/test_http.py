"""The HTTP receivers authenticate, validate, append to alerts.raw, and the alert reaches alerts.state."""

from __future__ import annotations

import copy
from pathlib import Path

import orjson

from shared.auth import create_token
from tests.support.kafka import unique

from .conftest import AM_TOKEN, PD_KEY, changes_for

SAMPLES = Path(__file__).parents[2] / "unit" / "alert_ingest" / "samples"


def _sample(name: str) -> dict:
    return orjson.loads((SAMPLES / name).read_bytes())


async def test_alertmanager_receiver(stack, kafka, ingest):
    url = "/v1/alerts/alertmanager"
    body = _sample("alertmanager_firing.json")
    fps = [unique("am"), unique("am")]
    for a, fp in zip(body["alerts"], fps, strict=True):
        a["fingerprint"] = fp
    assert (await ingest.client.post(url, json=body)).status_code == 401
    bad_auth = {"Authorization": "Bearer wrong"}
    assert (await ingest.client.post(url, json=body, headers=bad_auth)).status_code == 401
    auth = {"Authorization": f"Bearer {AM_TOKEN}"}
    r = await ingest.client.post(url, content=b"{not json", headers=auth)
    assert r.status_code == 400 and r.json()["error"] == "not_json"
    broken = copy.deepcopy(body)
    broken["alerts"][0]["status"] = "sideways"
    r = await ingest.client.post(url, json=broken, headers=auth)
    assert r.status_code == 422 and "alerts.0.status" in r.json()["message"]
    r = await ingest.client.post(url, json={"routing_key": PD_KEY, "event_action": "trigger"}, headers=auth)
    assert r.status_code == 400 and "Alertmanager" in r.json()["message"]
    r = await ingest.client.post(url, json=body, headers=auth)
    assert r.status_code == 202, r.text
    assert r.json() == {"status": "accepted", "alerts": 2}
    for fp in fps:
        events = await changes_for(kafka, stack.topics.alerts_state, fp, 1)
        assert events[0]["data"]["change"] == "first_firing"
        assert events[0]["data"]["alert"]["source"] == "alertmanager"
    assert {e["data"]["alert"]["product"] for fp in fps
            for e in await changes_for(kafka, stack.topics.alerts_state, fp, 1)} == {"Chat", "Talk"}


async def test_alertmanager_receiver_takes_api_tokens(stack, kafka, ingest):
    async with ingest.pool.acquire() as conn:
        token = await create_token(conn, name="prometheus", team="*")
    body = _sample("alertmanager_resolved.json")
    r = await ingest.client.post("/v1/alerts/alertmanager", json=body, headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 202


async def test_pagerduty_receiver(stack, kafka, ingest):
    url = "/v2/enqueue"
    event = _sample("pagerduty_trigger.json")
    key = unique("pd")
    event["dedup_key"] = key
    r = await ingest.client.post(url, json={**event, "routing_key": "not-a-configured-key"})
    assert r.status_code == 401 and r.json()["message"] == "Invalid routing key"
    r = await ingest.client.post(url, json={**event, "payload": {**event["payload"], "severity": "dire"}})
    assert r.status_code == 400 and r.json()["status"] == "invalid event"
    assert "payload.severity" in r.json()["errors"][0]
    r = await ingest.client.post(url, content=b"\xff\xfe")
    assert r.status_code == 400
    r = await ingest.client.post(url, json=event)
    assert r.status_code == 202
    assert r.json() == {"status": "success", "message": "Event processed", "dedup_key": key}
    resolve = {"routing_key": PD_KEY, "dedup_key": key, "event_action": "resolve"}
    assert (await ingest.client.post(url, json=resolve)).status_code == 202
    events = await changes_for(kafka, stack.topics.alerts_state, key, 2)
    assert [e["data"]["change"] for e in events] == ["first_firing", "resolved"]
    # a resolve carries only the key: what is known about the alert is kept
    assert events[1]["data"]["alert"]["summary"] == event["payload"]["summary"]


async def test_pagerduty_trigger_without_dedup_key_gets_a_stable_one(stack, kafka, ingest):
    event = _sample("pagerduty_trigger.json")
    del event["dedup_key"]
    event["payload"]["summary"] = unique("no-key ")
    first = (await ingest.client.post("/v2/enqueue", json=event)).json()["dedup_key"]
    second = (await ingest.client.post("/v2/enqueue", json=event)).json()["dedup_key"]
    assert first == second
    events = await changes_for(kafka, stack.topics.alerts_state, first, 1)
    assert events[0]["data"]["alert"]["fingerprint"] == first


async def test_any_format_receiver_takes_native_alerts(stack, kafka, ingest):
    fp = unique("native-http")
    body = {"product": "Talk", "signal": "latency", "severity": "error", "status": "firing",
            "summary": "Talk call setup slow", "fingerprint": fp}
    assert (await ingest.client.post("/v1/alerts", json=body)).status_code == 401
    auth = {"Authorization": f"Bearer {AM_TOKEN}"}
    r = await ingest.client.post("/v1/alerts", json={**body, "colour": "red"}, headers=auth)
    assert r.status_code == 422 and "colour" in r.json()["message"]
    r = await ingest.client.post("/v1/alerts", json={"what": "ever"}, headers=auth)
    assert r.status_code == 400 and r.json()["error"] == "unknown_format"
    r = await ingest.client.post("/v1/alerts", json=body, headers=auth)
    assert r.status_code == 202
    assert r.json() == {"status": "accepted", "format": "native", "alerts": 1, "fingerprints": [fp]}
    [event] = await changes_for(kafka, stack.topics.alerts_state, fp, 1)
    assert event["data"]["alert"]["product"] == "Talk" and event["data"]["alert"]["signal"] == "latency"
