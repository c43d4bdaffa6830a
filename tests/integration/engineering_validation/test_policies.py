"""Every automatic policy on the real broker and database, with one in-process app for the module.

Each test uses a product of its own, so the tests share the slice without seeing each other's candidates.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest

from tests.support.kafka import unique
from tests.support.waiting import eventually

from .support import (
    about, incident_events, product, running, send_alert, send_ticket, send_triage_incident, token, validated,
)

OWNERS_TEAM = "chat-eng"


@pytest.fixture(scope="module")
async def app(stack):
    async with running(stack, fallback_team=OWNERS_TEAM) as running_app:
        yield running_app


async def candidates(app, product_name):
    return await app.pool.fetch("SELECT * FROM validation.candidates WHERE product=$1", product_name)


async def test_critical_alert_opens_an_incident_at_once(app, stack, kafka):
    p = product()
    loop = asyncio.get_running_loop()
    started = loop.time()
    await send_alert(kafka, stack, unique("fp"), p, severity="critical")
    events = await incident_events(kafka, stack, lambda es: about(es, product=p, type_suffix="incident.opened.v1"))
    latency = loop.time() - started
    opened = about(events, product=p, type_suffix="incident.opened.v1")[0]
    assert opened["data"]["opened_from"] == "alerts" and opened["data"]["severity"] == "SEV-1"
    assert opened["source"] == "/services/engineering-validation"
    assert opened["data"]["incident_id"].startswith("INC-") and len(opened["data"]["incident_id"]) == 16
    [decision] = await validated(kafka, stack, p)
    assert decision["data"]["decision"] == "confirmed"
    assert decision["data"]["decided_by"] == {"kind": "policy", "name": "critical_still_firing"}
    assert decision["data"]["incident_id"] == opened["data"]["incident_id"]
    assert decision["data"]["team"] == OWNERS_TEAM
    assert latency < 5, f"alert -> IncidentOpened took {latency:.2f}s"


async def test_an_alert_storm_is_one_candidate(app, stack, kafka):
    p = product()
    fps = [unique("fp") for _ in range(6)]
    for fp in fps:
        await send_alert(kafka, stack, fp, p, severity="warning")
    rows = await eventually(lambda: app.pool.fetch("SELECT * FROM validation.alerts WHERE product=$1", p),
                            until=lambda rs: len(rs) == 6, what="six alerts stored")
    assert len({r["candidate_id"] for r in rows}) == 1
    [cand] = await candidates(app, p)
    assert cand["status"] == "pending" and cand["signal"] == "error_rate"


async def test_two_signals_confirm_into_one_incident(app, stack, kafka):
    p = product()
    await send_alert(kafka, stack, unique("fp"), p, severity="warning", signal="error_rate")
    await send_alert(kafka, stack, unique("fp"), p, severity="warning", signal="latency")
    decisions = await validated(kafka, stack, p, n=2)
    assert {d["data"]["decided_by"]["name"] for d in decisions} == {"multi_signal"}
    assert len({d["data"]["incident_id"] for d in decisions}) == 1
    assert all(d["data"]["severity"] == "SEV-2" for d in decisions)
    events = await incident_events(kafka, stack, lambda es: len(about(es, product=p)) >= 1)
    assert len(about(events, product=p, type_suffix="incident.opened.v1")) == 1
    # later alerts of either signal join that incident: no second candidate for the same problem
    incident_id = decisions[0]["data"]["incident_id"]
    late = [unique("fp"), unique("fp")]
    await send_alert(kafka, stack, late[0], p, severity="warning", signal="error_rate")
    await send_alert(kafka, stack, late[1], p, severity="warning", signal="latency")
    events = await incident_events(kafka, stack, lambda es: {e["data"].get("fingerprint") for e in about(
        es, incident=incident_id)} >= set(late))
    assert len(await candidates(app, p)) == 2


async def test_corroborating_ticket_confirms(app, stack, kafka):
    p = product()
    await send_alert(kafka, stack, unique("fp"), p, severity="warning")
    await eventually(lambda: candidates(app, p), what="candidate stored")
    await send_ticket(kafka, stack, p, outcome="new_incident")
    [decision] = await validated(kafka, stack, p)
    assert decision["data"]["decided_by"]["name"] == "ticket_corroboration"


async def test_n_tickets_of_any_outcome_confirm(app, stack, kafka):
    p = product()
    await send_alert(kafka, stack, unique("fp"), p, severity="warning")
    for _ in range(3):
        await send_ticket(kafka, stack, p, outcome="standard_support")
    [decision] = await validated(kafka, stack, p)
    assert decision["data"]["decided_by"]["name"] == "ticket_corroboration"
    assert "3 customer tickets" in decision["data"]["reason"]


async def test_alert_resolved_quickly_is_dismissed_as_transient(app, stack, kafka):
    p, fp = product(), unique("fp")
    await send_alert(kafka, stack, fp, p, severity="warning")
    await send_alert(kafka, stack, fp, p, severity="warning", status="resolved")
    [decision] = await validated(kafka, stack, p)
    assert decision["data"]["decision"] == "dismissed"
    assert decision["data"]["decided_by"]["name"] == "transient"
    assert decision["data"]["fingerprints"] == [fp]


async def test_dismiss_silence_dismisses_and_hold_silence_waits_for_its_end(app, stack, kafka):
    p_dismiss, p_hold = product(), product()
    headers = await token(app, OWNERS_TEAM)
    now = datetime.now(UTC)
    windows = ((p_dismiss, "dismiss", now + timedelta(hours=1)), (p_hold, "hold", now + timedelta(seconds=2)))
    for p, mode, ends in windows:
        r = await app.client.post("/v1/silences", headers=headers,
                                  json={"product": p, "mode": mode, "ends_at": ends.isoformat(), "reason": "upgrade"})
        assert r.status_code == 201, r.text
    await send_alert(kafka, stack, unique("fp"), p_dismiss, severity="critical")
    await send_alert(kafka, stack, unique("fp"), p_hold, severity="critical")
    [dismissed] = await validated(kafka, stack, p_dismiss)
    assert dismissed["data"]["decision"] == "dismissed"
    assert dismissed["data"]["decided_by"]["name"] == "maintenance_window"
    [held] = await eventually(lambda: candidates(app, p_hold), what="held candidate")
    assert held["status"] == "pending" or datetime.now(UTC) >= now + timedelta(seconds=2)
    [confirmed] = await validated(kafka, stack, p_hold)  # the timer re-evaluates when the silence ends
    assert confirmed["data"]["decision"] == "confirmed"
    assert datetime.fromisoformat(confirmed["time"]) >= now + timedelta(seconds=2)


async def test_alert_attaches_to_open_incident_of_same_signal(app, stack, kafka):
    p = product()
    await send_alert(kafka, stack, unique("fp"), p, severity="critical")
    [first] = await validated(kafka, stack, p)
    incident_id = first["data"]["incident_id"]
    late = unique("fp")
    await send_alert(kafka, stack, late, p, severity="warning")
    events = await incident_events(kafka, stack, lambda es: any(
        e["data"].get("fingerprint") == late for e in about(es, incident=incident_id)))
    assert len(about(events, product=p, type_suffix="incident.opened.v1")) == 1
    assert await candidates(app, p) and len(await candidates(app, p)) == 1  # no second candidate


async def test_alert_joins_an_incident_ticket_triage_opened(app, stack, kafka):
    p = product()
    tickets = [unique("T"), unique("T")]
    incident_id = await send_triage_incident(kafka, stack, p, tickets)
    headers = await token(app, OWNERS_TEAM)

    async def linked():
        r = await app.client.get(f"/v1/incidents/{incident_id}", headers=headers)
        return r.json() if r.status_code == 200 else {}

    view = await eventually(linked, until=lambda v: len(v.get("tickets", [])) == 2, what="mirrored ticket links")
    assert view["opened_from"] == "tickets" and view["team"] == OWNERS_TEAM
    fp = unique("fp")
    await send_alert(kafka, stack, fp, p, severity="warning", signal="latency")
    view = await eventually(linked, until=lambda v: [a["fingerprint"] for a in v.get("alerts", [])] == [fp],
                            what="alert attached to the ticket incident")
    assert [t["ticket_id"] for t in view["tickets"]] == tickets
    assert [e["kind"] for e in view["timeline"]][:3] == ["opened", "ticket_linked", "ticket_linked"]
    events = await incident_events(kafka, stack, lambda es: about(es, incident=incident_id,
                                                                  type_suffix="alert_attached.v1"))
    assert about(events, incident=incident_id, type_suffix="alert_attached.v1")[0]["data"]["fingerprint"] == fp


async def test_junk_on_alerts_state_is_dead_lettered(app, stack, kafka):
    marker = unique("junk")
    await kafka.produce(stack.topics.alerts_state, b"{not json " + marker.encode(), key=marker)
    records = await kafka.read(stack.topics.alerts_state + ".DLT",
                               until=lambda rs: any(marker.encode() in r.value for r in rs))
    rec = next(r for r in records if marker.encode() in r.value)
    headers = dict(rec.headers)
    assert headers["dlt-service"] == b"engineering-validation"
    assert headers["dlt-original-topic"] == stack.topics.alerts_state.encode()


async def test_warm_path_latency_alert_to_incident_opened(app, stack, kafka):
    loop = asyncio.get_running_loop()
    p = product()
    started = loop.time()
    await send_alert(kafka, stack, unique("fp"), p, severity="critical")
    await incident_events(kafka, stack, lambda es: about(es, product=p, type_suffix="incident.opened.v1"))
    assert loop.time() - started < 1.5  # typically ~0.06 s: decided inline, relay woken by NOTIFY
    metrics = (await app.client.get("/metrics")).text
    assert 'validation_decisions_total{decision="confirmed",kind="policy",name="critical_still_firing"}' in metrics


async def test_refire_after_transient_dismissal_is_a_new_candidate(app, stack, kafka):
    p, fp = product(), unique("fp")
    await send_alert(kafka, stack, fp, p, severity="warning")
    await send_alert(kafka, stack, fp, p, severity="warning", status="resolved")
    await validated(kafka, stack, p)
    await send_alert(kafka, stack, fp, p, severity="critical", change="refired")
    decisions = await validated(kafka, stack, p, n=2)
    assert [d["data"]["decision"] for d in decisions] == ["dismissed", "confirmed"]
    assert decisions[0]["data"]["candidate_id"] != decisions[1]["data"]["candidate_id"]


async def test_raised_alert_severity_raises_the_incident(app, stack, kafka):
    p, first = product(), unique("fp")
    await send_alert(kafka, stack, first, p, severity="warning")
    await send_alert(kafka, stack, unique("fp"), p, severity="warning", signal="latency")  # multi-signal: SEV-2
    [decision, _] = await validated(kafka, stack, p, n=2)
    incident_id = decision["data"]["incident_id"]
    await send_alert(kafka, stack, first, p, severity="critical", change="severity_raised")
    events = await incident_events(kafka, stack, lambda es: about(es, incident=incident_id,
                                                                  type_suffix="severity_changed.v1"))
    [changed] = about(events, incident=incident_id, type_suffix="severity_changed.v1")
    assert (changed["data"]["previous"], changed["data"]["severity"]) == ("SEV-2", "SEV-1")
    assert changed["data"]["changed_by"] == "policy:alert_severity_raised"


async def test_ticket_without_product_corroborates_nothing(app, stack, kafka):
    p = product()
    await send_alert(kafka, stack, unique("fp"), p, severity="warning")
    await eventually(lambda: candidates(app, p), what="candidate stored")

    def consumed():
        return app.pool.fetchval("SELECT coalesce(sum(next_offset), 0) FROM validation.consumer_positions "
                                 "WHERE topic=$1", stack.topics.tickets_triaged)

    before = await consumed()
    await send_ticket(kafka, stack, None, outcome="new_incident")
    await send_ticket(kafka, stack, product(), outcome="new_incident")
    await eventually(consumed, until=lambda n: n >= before + 2, what="both tickets consumed")
    assert [c["status"] for c in await candidates(app, p)] == ["pending"]


async def test_silence_body_and_team_are_checked(app, stack):
    headers = await token(app, OWNERS_TEAM)
    now = datetime.now(UTC)
    body = {"product": product(), "starts_at": now.isoformat(), "ends_at": (now - timedelta(hours=1)).isoformat()}
    r = await app.client.post("/v1/silences", headers=headers, json=body)
    assert r.status_code == 422 and "ends_at" in r.text
    other = await token(app, "talk-eng")
    r = await app.client.post("/v1/silences", headers=other,
                              json={"product": product(), "ends_at": (now + timedelta(hours=1)).isoformat()})
    assert r.status_code == 403
    assert (await app.client.get("/v1/silences")).status_code == 401


async def test_ticket_before_its_incident_still_joins_that_incident(app, stack, kafka):
    p = product()
    await send_alert(kafka, stack, unique("fp"), p, severity="warning")
    await eventually(lambda: candidates(app, p), what="candidate stored")
    incident_id = unique("INC-")
    # ticket-triage's TicketTriaged overtakes its IncidentOpened (different topics, no order between them)
    await send_ticket(kafka, stack, p, outcome="new_incident", incident_id=incident_id)
    await eventually(lambda: app.pool.fetchval("SELECT count(*) FROM validation.ticket_evidence WHERE product=$1",
                                               p), until=lambda n: n == 1, what="ticket evidence")
    await send_triage_incident(kafka, stack, p, [], incident_id=incident_id)
    [decision] = await validated(kafka, stack, p)
    assert decision["data"]["decided_by"]["name"] == "ticket_corroboration"
    assert decision["data"]["incident_id"] == incident_id
