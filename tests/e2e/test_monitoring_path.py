"""Story 1, the monitoring path: an alert storm becomes exactly one candidate per problem; policy confirms one,
an engineer the other; a traffic blip that resolves within the transient window is dismissed."""

from __future__ import annotations

from collections import Counter

from tests.e2e.stories import am_payload, of_type, settle
from tests.support.kafka import unique
from tests.support.waiting import eventually


async def test_alert_storm_to_validated_incidents(pipeline, kafka, stack):
    run = unique("r")
    fps = {"Chat": f"chat-err-{run}", "Talk": f"talk-lat-{run}", "Guide": f"guide-vol-{run}"}
    chat = am_payload("firing", "HighErrorRate", "chat-api", "critical", "Chat API 5xx rate above 5%", fps["Chat"])
    talk = am_payload("firing", "HighLatency", "talk", "error", "Talk p95 latency above 2s", fps["Talk"])
    blip = am_payload("firing", "TrafficVolumeChange", "guide", "warning", "Guide traffic changing fast", fps["Guide"])
    blip_ok = am_payload("resolved", "TrafficVolumeChange", "guide", "warning", "Guide traffic normal", fps["Guide"])
    for _ in range(40):  # repeated many times, as Alertmanager re-sends on every group interval
        await kafka.produce(stack.topics.alerts_raw, chat, key=fps["Chat"])
        await kafka.produce(stack.topics.alerts_raw, talk, key=fps["Talk"])
    await kafka.produce(stack.topics.alerts_raw, blip, key=fps["Guide"])
    await kafka.produce(stack.topics.alerts_raw, blip_ok, key=fps["Guide"])

    async with pipeline.client("engineering-validation") as api:
        async def talk_pending():
            items = (await api.get("/v1/validations", params={"status": "pending"})).json()
            return [c for c in items if fps["Talk"] in c["fingerprints"]]

        [candidate] = await eventually(talk_pending, what="Talk candidate pending for its team")
        assert candidate["team"] == "talk-eng" and candidate["product"] == "Talk"
        resp = await api.post(f"/v1/validations/{candidate['id']}/confirm", json={"title": "Talk: calls slow"})
        assert resp.status_code == 200, resp.text

    validated = await settle(kafka, stack.topics.alerts_validated, lambda es: len(
        of_type(es, "alert.validated.v1")) >= 3)
    decisions = of_type(validated, "alert.validated.v1")
    assert Counter((d["data"]["product"], d["data"]["decision"]) for d in decisions) == {
        ("Chat", "confirmed"): 1, ("Talk", "confirmed"): 1, ("Guide", "dismissed"): 1}
    by_product = {d["data"]["product"]: d["data"] for d in decisions}
    assert by_product["Chat"]["decided_by"] == {"kind": "policy", "name": "critical_still_firing"}
    assert by_product["Talk"]["decided_by"]["kind"] == "engineer"
    assert by_product["Guide"]["decided_by"]["name"] == "transient"

    updates = await settle(kafka, stack.topics.incidents_updates,
                           lambda es: len(of_type(es, "incident.opened.v1")) >= 2)
    opened = {e["data"]["product"]: e["data"] for e in of_type(updates, "incident.opened.v1")}
    assert set(opened) == {"Chat", "Talk"}, "exactly one incident per confirmed problem, none for the blip"
    assert len(of_type(updates, "incident.opened.v1")) == 2
    assert (opened["Chat"]["signal"], opened["Chat"]["severity"]) == ("error_rate", "SEV-1")
    assert (opened["Talk"]["signal"], opened["Talk"]["severity"]) == ("latency", "SEV-2")
    assert opened["Talk"]["title"] == "Talk: calls slow"
    assert by_product["Chat"]["incident_id"] == opened["Chat"]["incident_id"]

    states = await kafka.read_json(stack.topics.alerts_state, until=lambda es: len(es) >= 4)
    first = Counter(e["data"]["alert"]["fingerprint"] for e in states if e["data"]["change"] == "first_firing")
    assert first == {fps["Chat"]: 1, fps["Talk"]: 1, fps["Guide"]: 1}, "80 repeats de-duplicated to one each"
