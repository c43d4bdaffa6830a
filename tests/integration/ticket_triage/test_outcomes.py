"""The three outcomes on the real broker and database, plus late links and merges."""

from __future__ import annotations

import pytest

from services.ticket_triage.app import create_app
from tests.support.services import run_in_process
from tests.support.waiting import eventually

from .helpers import dumps, inc_id, incident_merged, incident_opened, native, of_type, settings, zendesk


@pytest.fixture(scope="module")
async def triage(stack):
    async with run_in_process(create_app(settings(stack, cluster_min_orgs=3))) as running:
        yield running


async def _decisions(pool, ticket_id):
    return await pool.fetch("SELECT outcome, incident_id, reason FROM triage.decisions WHERE ticket_id = $1 "
                            "ORDER BY id", ticket_id)


async def test_standard_support_touches_no_incident(stack, kafka, triage):
    t = native("How do I add a macro?", "Hi, how can we configure macros for our team? Thanks.", product="Support")
    await kafka.produce(stack.topics.tickets_new, dumps(t), key=t["ticket_id"])
    events = await kafka.read_json(stack.topics.tickets_triaged,
                                   until=lambda es: of_type(es, "ticket.triaged.v1", ticket_id=t["ticket_id"]))
    e = of_type(events, "ticket.triaged.v1", ticket_id=t["ticket_id"])[0]
    assert e["data"]["outcome"] == "standard_support" and e["data"]["incident_id"] is None
    assert e["data"]["features"]["problem.how_to"] < 0 and e["source"] == "/services/ticket-triage"
    assert await triage.pool.fetchval("SELECT count(*) FROM triage.links WHERE ticket_id = $1", t["ticket_id"]) == 0


async def test_linked_to_matching_open_incident(stack, kafka, triage):
    incident = inc_id()
    await kafka.produce(stack.topics.incidents_updates, incident_opened(
        incident, "Talk", "Talk: calls dropping mid-conversation", "voice gateway call drop rate"), key=incident)
    await eventually(lambda: triage.pool.fetchval("SELECT count(*) FROM triage.incidents WHERE incident_id = $1",
                                                  incident), what="incident known")
    t = native("Las llamadas se cortan", "Todas las llamadas se cortan a los 30 segundos, no funciona.")
    await kafka.produce(stack.topics.tickets_new, dumps(t), key=t["ticket_id"])
    updates = await kafka.read_json(stack.topics.incidents_updates,
                                    until=lambda es: of_type(es, "ticket_linked.v1", ticket_id=t["ticket_id"]))
    link = of_type(updates, "ticket_linked.v1", ticket_id=t["ticket_id"])[0]
    assert link["data"]["incident_id"] == incident and link["data"]["link_reason"] == "triage"
    assert link["data"]["ticket"]["product"] == "Talk" and link["data"]["ticket"]["locale"] == "es"
    rows = await _decisions(triage.pool, t["ticket_id"])
    assert [(r["outcome"], r["incident_id"]) for r in rows] == [("linked", incident)]


async def test_seed_story_customers_reach_the_alert_opened_incident(stack, kafka, triage):
    """As engineering-validation opens it from a critical alert: a terse technical title and a signal.

    The tickets may be triaged before or after the incident is known (late link): all three end up linked."""
    incident = inc_id()
    await kafka.produce(stack.topics.incidents_updates, incident_opened(
        incident, "Chat", "Chat: Chat API 5xx rate above 5%", "critical alert still firing after 0s",
        signal="error_rate"), key=incident)
    tickets = [zendesk("Chat widget not loading", "Our chat widget shows an error and messages fail to send.",
                       tags=["chat"]),
               zendesk("Chat caído", "El chat no funciona, todos nuestros agentes ven errores al enviar mensajes.",
                       tags=["chat"], priority="normal"),
               zendesk("Errors in Chat", "Since this morning chat messages fail with error 500 for all agents.",
                       tags=["chat"])]
    for t in tickets:
        await kafka.produce(stack.topics.tickets_new, dumps(t), key=t["detail"]["id"])
    ids = {t["detail"]["id"] for t in tickets}
    updates = await kafka.read_json(stack.topics.incidents_updates, until=lambda es: ids <= {
        e["data"]["ticket"]["ticket_id"] for e in of_type(es, "ticket_linked.v1", incident_id=incident)})
    assert len(of_type(updates, "ticket_linked.v1", incident_id=incident)) == 3


async def test_cluster_of_reports_opens_incident_and_links_all(stack, kafka, triage):
    text = ("Help center search fails", "Searching articles in our help center returns an error for every query.")
    tickets = [native(*text, product="Guide") for _ in range(3)]
    for t in tickets:
        await kafka.produce(stack.topics.tickets_new, dumps(t), key=t["ticket_id"])
    ids = {t["ticket_id"] for t in tickets}

    def done(es):
        return len({e["data"]["ticket"]["ticket_id"] for e in of_type(es, "ticket_linked.v1")} & ids) == 3

    updates = await kafka.read_json(stack.topics.incidents_updates, until=done)
    opened = [e for e in of_type(updates, "incident.opened.v1") if e["data"]["opened_from"] == "tickets"]
    assert len(opened) == 1
    incident = opened[0]["data"]["incident_id"]
    assert opened[0]["data"]["product"] == "Guide" and opened[0]["data"]["severity"] == "SEV-3"
    assert opened[0]["data"]["team"] == "guide-eng"
    links = [e for e in of_type(updates, "ticket_linked.v1", incident_id=incident)]
    assert {e["data"]["ticket"]["ticket_id"] for e in links} == ids
    assert all(e["data"]["link_reason"] == "new_incident" for e in links)
    # opened before its links, on the same key (ordered)
    assert updates.index(opened[0]) < min(updates.index(e) for e in links)
    first = await _decisions(triage.pool, tickets[0]["ticket_id"])
    assert [r["outcome"] for r in first] == ["standard_support", "new_incident"]
    assert "pending cluster" in first[0]["reason"]


async def test_one_urgent_report_opens_an_incident(stack, kafka, triage):
    # Talk's open incident is about dropped calls: another component, so this is a new problem
    t = native("IVR menu fails", "Callers hear an error in the IVR menu and nothing happens, on all our numbers.",
               product="Talk", priority="urgent")
    await kafka.produce(stack.topics.tickets_new, dumps(t), key=t["ticket_id"])
    events = await kafka.read_json(stack.topics.tickets_triaged,
                                   until=lambda es: of_type(es, "ticket.triaged.v1", ticket_id=t["ticket_id"]))
    e = of_type(events, "ticket.triaged.v1", ticket_id=t["ticket_id"])[0]
    assert e["data"]["outcome"] == "new_incident" and e["data"]["incident_id"].startswith("INC-")
    assert "urgent" in e["data"]["reason"]


async def test_late_link_when_incident_opens_after_the_ticket(stack, kafka, triage):
    t = native("Outgoing emails stopped", "Our customers stopped receiving email notifications, nothing is sent.",
               product="Support")
    await kafka.produce(stack.topics.tickets_new, dumps(t), key=t["ticket_id"])
    await eventually(lambda: _decisions(triage.pool, t["ticket_id"]), what="ticket triaged")
    incident = inc_id()
    await kafka.produce(stack.topics.incidents_updates, incident_opened(
        incident, "Support", "Support: email notifications not sent", "outgoing email queue stuck"), key=incident)
    updates = await kafka.read_json(stack.topics.incidents_updates,
                                    until=lambda es: of_type(es, "ticket_linked.v1", ticket_id=t["ticket_id"]))
    link = of_type(updates, "ticket_linked.v1", ticket_id=t["ticket_id"])[0]
    assert link["data"]["incident_id"] == incident and link["data"]["link_reason"] == "late_link"
    rows = await _decisions(triage.pool, t["ticket_id"])
    assert [r["outcome"] for r in rows] == ["standard_support", "linked"]


async def test_merge_moves_links_to_the_target(stack, kafka, triage):
    a, b = inc_id(), inc_id()
    await kafka.produce(stack.topics.incidents_updates,
                        incident_opened(a, "Chat", "Chat: widget slow to load", "widget latency"), key=a)
    await kafka.produce(stack.topics.incidents_updates,
                        incident_opened(b, "Chat", "Chat: widget degraded", "cdn errors"), key=b)
    await eventually(lambda: triage.pool.fetchval("SELECT count(*) FROM triage.incidents WHERE incident_id IN "
                                                  "($1, $2)", a, b), until=lambda n: n == 2, what="incidents")
    t = native("Chat widget slow to load", "The chat widget takes forever to load, very slow for all visitors.")
    await kafka.produce(stack.topics.tickets_new, dumps(t), key=t["ticket_id"])
    await eventually(lambda: triage.pool.fetchval("SELECT incident_id FROM triage.tickets WHERE ticket_id = $1",
                                                  t["ticket_id"]), what="ticket linked")
    first = await triage.pool.fetchval("SELECT incident_id FROM triage.tickets WHERE ticket_id = $1", t["ticket_id"])
    other = b if first == a else a
    await kafka.produce(stack.topics.incidents_updates, incident_merged(first, other), key=first)
    updates = await kafka.read_json(stack.topics.incidents_updates, until=lambda es: of_type(
        es, "ticket_linked.v1", ticket_id=t["ticket_id"], incident_id=other))
    assert of_type(updates, "ticket_linked.v1", ticket_id=t["ticket_id"], incident_id=other)[0]["data"][
        "link_reason"] == "merge"
    status = await triage.pool.fetchval("SELECT status FROM triage.incidents WHERE incident_id = $1", first)
    assert status == "merged"
