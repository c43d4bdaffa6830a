"""The human path through the HTTP API: validations (auth 401/403/422/409) and the incident lifecycle."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from services.engineering_validation import store
from tests.support.kafka import unique
from tests.support.waiting import eventually

from .support import (
    about, incident_events, product, running, send_alert, send_ticket_link, send_triage_incident, token, validated,
)

TEAM = "guide-eng"


@pytest.fixture(scope="module")
async def app(stack):
    # critical alerts wait a long time, so every candidate here is for a human to decide
    async with running(stack, fallback_team=TEAM, critical_delay_s=3600, multi_signal_min=0, ticket_min=0,
                       ticket_linked_confirms=False) as running_app:
        yield running_app


@pytest.fixture(scope="module")
async def headers(app):
    return await token(app, TEAM)


async def pending_candidate(app, headers, p):
    async def probe():
        r = await app.client.get("/v1/validations", params={"status": "pending", "team": TEAM}, headers=headers)
        assert r.status_code == 200, r.text
        return [c for c in r.json() if c["product"] == p]
    [cand] = await eventually(probe, what=f"pending candidate for {p}")
    return cand


async def test_auth_is_required_and_team_scoped(app, headers):
    assert (await app.client.get("/v1/validations")).status_code == 401
    bad = {"Authorization": "Bearer ipt_nope"}
    assert (await app.client.get("/v1/incidents", headers=bad)).status_code == 401
    other = await token(app, "talk-eng")
    r = await app.client.get("/v1/validations", params={"team": TEAM}, headers=other)
    assert r.status_code == 403
    admin = await token(app, "*")
    assert (await app.client.get("/v1/validations", params={"team": TEAM}, headers=admin)).status_code == 200


async def test_engineer_confirms_with_severity_and_title(app, stack, kafka, headers):
    p, fp = product(), unique("fp")
    await send_alert(kafka, stack, fp, p, severity="critical")
    cand = await pending_candidate(app, headers, p)
    assert cand["team"] == TEAM and cand["fingerprints"] == [fp]
    one = (await app.client.get(f"/v1/validations/{cand['id']}", headers=headers)).json()
    assert [a["fingerprint"] for a in one["alerts"]] == [fp] and one["status"] == "pending"
    other = await token(app, "talk-eng")
    r = await app.client.post(f"/v1/validations/{cand['id']}/confirm", json={}, headers=other)
    assert r.status_code == 403
    r = await app.client.post(f"/v1/validations/{cand['id']}/confirm", json={"severity": "SEV-9"}, headers=headers)
    assert r.status_code == 422 and r.json()["detail"][0]["loc"][-1] == "severity"
    r = await app.client.post(f"/v1/validations/{cand['id']}/confirm", headers=headers,
                              json={"severity": "SEV-2", "title": "Guide search broken"})
    assert r.status_code == 200, r.text
    incident_id = r.json()["incident_id"]
    [decision] = await validated(kafka, stack, p)
    assert decision["data"]["decided_by"]["kind"] == "engineer" and decision["data"]["severity"] == "SEV-2"
    events = await incident_events(kafka, stack, lambda es: about(es, incident=incident_id,
                                                                  type_suffix="alert_attached.v1"))
    [opened] = about(events, incident=incident_id, type_suffix="opened.v1")
    assert opened["data"]["title"] == "Guide search broken" and opened["data"]["severity"] == "SEV-2"
    r = await app.client.post(f"/v1/validations/{cand['id']}/dismiss", json={"reason": "x"}, headers=headers)
    assert r.status_code == 409
    assert (await app.client.post("/v1/validations/CAN-none/confirm", json={}, headers=headers)).status_code == 404


async def test_engineer_dismisses_with_a_reason(app, stack, kafka, headers):
    p = product()
    await send_alert(kafka, stack, unique("fp"), p, severity="warning")
    cand = await pending_candidate(app, headers, p)
    r = await app.client.post(f"/v1/validations/{cand['id']}/dismiss", json={}, headers=headers)
    assert r.status_code == 422 and r.json()["detail"][0]["loc"][-1] == "reason"
    r = await app.client.post(f"/v1/validations/{cand['id']}/dismiss", json={"reason": "known noisy check"},
                              headers=headers)
    assert r.status_code == 200, r.text
    [decision] = await validated(kafka, stack, p)
    assert decision["data"]["decision"] == "dismissed" and decision["data"]["reason"] == "known noisy check"
    assert decision["data"]["incident_id"] is None


async def confirmed_incident(app, stack, kafka, headers, p, fp):
    await send_alert(kafka, stack, fp, p, severity="critical")
    cand = await pending_candidate(app, headers, p)
    r = await app.client.post(f"/v1/validations/{cand['id']}/confirm", headers=headers)  # no body: all defaults
    assert r.status_code == 200, r.text
    return r.json()["incident_id"]


async def test_incident_lifecycle_patch_update_resolve(app, stack, kafka, headers):
    p = product()
    incident_id = await confirmed_incident(app, stack, kafka, headers, p, unique("fp"))
    url = f"/v1/incidents/{incident_id}"
    assert (await app.client.patch(url, json={}, headers=headers)).status_code == 422
    assert (await app.client.patch(url, json={"status": "resolved"}, headers=headers)).status_code == 409
    other = await token(app, "talk-eng")
    assert (await app.client.patch(url, json={"severity": "SEV-3"}, headers=other)).status_code == 403
    r = await app.client.patch(url, json={"severity": "SEV-2", "status": "identified", "title": "Fixed title"},
                               headers=headers)
    assert r.status_code == 200, r.text
    r = await app.client.post(f"{url}/updates", json={"message": "We found the cause.", "status": "monitoring"},
                              headers=headers)
    assert r.status_code == 201, r.text
    r = await app.client.post(f"{url}/resolve", json={"message": "All good now."}, headers=headers)
    assert r.status_code == 200, r.text
    assert (await app.client.post(f"{url}/resolve", json={}, headers=headers)).status_code == 409
    events = await incident_events(kafka, stack, lambda es: about(es, incident=incident_id,
                                                                  type_suffix="resolved.v1"))
    types = [e["type"].split(".")[-2] for e in about(events, incident=incident_id)]
    assert types == ["opened", "alert_attached", "severity_changed", "status_changed", "status_changed",
                     "status_update_posted", "resolved"]
    posted = about(events, incident=incident_id, type_suffix="status_update_posted.v1")[0]["data"]
    assert posted["status"] == "monitoring" and posted["message"] == "We found the cause."
    view = (await app.client.get(url, headers=headers)).json()
    assert view["status"] == "resolved" and view["severity"] == "SEV-2" and view["title"] == "Fixed title"
    assert len(view["alerts"]) == 1 and [t["kind"] for t in view["timeline"]][-1] == "resolved"
    listed = (await app.client.get("/v1/incidents", params={"status": "open"}, headers=headers)).json()
    assert incident_id not in [i["id"] for i in listed]
    listed = (await app.client.get("/v1/incidents", params={"status": "resolved", "product": p},
                                   headers=headers)).json()
    assert [i["id"] for i in listed] == [incident_id]


async def test_merge_moves_alerts_and_tickets(app, stack, kafka, headers):
    p = product()
    fp = unique("fp")
    source = await confirmed_incident(app, stack, kafka, headers, p, fp)
    tickets = [unique("T")]
    target = await send_triage_incident(kafka, stack, product(), tickets)
    await eventually(lambda: app.client.get(f"/v1/incidents/{target}", headers=headers),
                     until=lambda r: r.status_code == 200 and r.json()["tickets"], what="mirrored incident")
    late_ticket = unique("T")
    await send_ticket_link(kafka, stack, source, late_ticket)  # ticket-triage links a ticket to the source too
    await eventually(lambda: app.client.get(f"/v1/incidents/{source}", headers=headers),
                     until=lambda r: r.json()["tickets"], what="late link mirrored")
    admin = await token(app, "*")
    r = await app.client.post(f"/v1/incidents/{source}/merge", json={"into_incident_id": "bad id"}, headers=admin)
    assert r.status_code == 422
    r = await app.client.post(f"/v1/incidents/{source}/merge", json={"into_incident_id": target}, headers=admin)
    assert r.status_code == 200, r.text
    assert r.json()["fingerprints"] == [fp] and r.json()["ticket_ids"] == [late_ticket]
    r = await app.client.post(f"/v1/incidents/{source}/merge", json={"into_incident_id": target}, headers=admin)
    assert r.status_code == 409
    events = await incident_events(kafka, stack, lambda es: about(es, incident=source, type_suffix="merged.v1"))
    [merged] = about(events, incident=source, type_suffix="merged.v1")
    assert merged["data"]["into_incident_id"] == target and merged["data"]["fingerprints"] == [fp]
    view = (await app.client.get(f"/v1/incidents/{target}", headers=admin)).json()
    assert [a["fingerprint"] for a in view["alerts"]] == [fp]
    assert sorted(t["ticket_id"] for t in view["tickets"]) == sorted([*tickets, late_ticket])
    gone = (await app.client.get(f"/v1/incidents/{source}", headers=admin)).json()
    assert gone["merged_into"] == target


async def test_engineer_declares_an_incident(app, stack, kafka, headers):
    p = product()
    r = await app.client.post("/v1/incidents", headers=headers,
                              json={"product": p, "title": "Manual", "severity": "SEV-3"})
    assert r.status_code == 201, r.text
    incident_id = r.json()["incident_id"]
    events = await incident_events(kafka, stack, lambda es: about(es, incident=incident_id))
    assert about(events, incident=incident_id)[0]["data"]["opened_from"] == "engineer"


async def test_a_dismissed_alert_is_no_multi_signal_evidence(make_stack, kafka):
    stack = await make_stack()
    p = product()
    async with running(stack, fallback_team=TEAM, critical_delay_s=3600) as app:
        headers = await token(app, TEAM)
        await send_alert(kafka, stack, unique("fp"), p, severity="warning", signal="saturation")
        cand = await pending_candidate(app, headers, p)
        r = await app.client.post(f"/v1/validations/{cand['id']}/dismiss", json={"reason": "noisy"}, headers=headers)
        assert r.status_code == 200
        await send_alert(kafka, stack, unique("fp"), p, severity="warning", signal="latency")
        second = await eventually(lambda: app.pool.fetchrow(
            "SELECT * FROM validation.candidates WHERE product=$1 AND signal='latency'", p), what="second candidate")
        assert second["status"] == "pending"  # the noisy saturation alert, still firing, does not confirm it


async def test_old_evidence_and_ended_silences_are_pruned(app):
    now = datetime.now(UTC)
    p = product()
    await app.pool.execute("INSERT INTO validation.ticket_evidence(ticket_id, product, outcome, received_at) "
                           "VALUES ($1, $2, 'linked', $3), ($4, $2, 'linked', $5)",
                           unique("T"), p, now - timedelta(hours=2), unique("T"), now)
    await app.pool.execute("INSERT INTO validation.silences(id, product, mode, starts_at, ends_at) "
                           "VALUES ($1, $2, 'hold', $3, $4)", unique("SIL-"), p, now - timedelta(days=3),
                           now - timedelta(days=2))
    await store.prune(app.pool, now, ticket_window_s=1800)
    assert await app.pool.fetchval("SELECT count(*) FROM validation.ticket_evidence WHERE product=$1", p) == 1
    assert await app.pool.fetchval("SELECT count(*) FROM validation.silences WHERE product=$1", p) == 0
