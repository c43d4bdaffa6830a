"""Story 5: a ticket written before its incident was declared is linked when it is; two incidents merged into
one leave every ticket linked once and informed once."""

from __future__ import annotations

from collections import Counter

from tests.e2e.stories import comment_kinds, of_type, settle, wait_comments, zendesk_ticket
from tests.support.kafka import unique


async def test_late_link_then_merge(pipeline, kafka, stack):
    run = unique("r")
    base = int(run[1:7], 16) % 100000 * 100
    early = zendesk_ticket(base + 1, "Emails to customers not arriving",
                           "Our outgoing support emails are not delivered since this morning, errors everywhere.", 801,
                           tags=["support"])
    await kafka.produce(stack.topics.tickets_new, early, key=str(base + 1))
    early_id = str(base + 1)
    triaged = await kafka.read_json(stack.topics.tickets_triaged, until=lambda es: any(
        e["data"]["ticket"]["ticket_id"] == early_id for e in es))
    first = next(e for e in triaged if e["data"]["ticket"]["ticket_id"] == early_id)["data"]
    assert first["outcome"] == "standard_support" and first["incident_id"] is None

    async with pipeline.client("engineering-validation") as api:
        a = (await api.post("/v1/incidents", json={
            "product": "Support", "title": "Support: outgoing emails not delivered", "severity": "SEV-2",
            "summary": "Outgoing support emails are delayed or not delivered"})).json()
        b = (await api.post("/v1/incidents", json={
            "product": "Support", "title": "Support: email notifications failing", "severity": "SEV-3"})).json()
    inc_a, inc_b = a["incident_id"], b["incident_id"]

    updates = await kafka.read_json(stack.topics.incidents_updates, until=lambda es: of_type(
        es, "ticket_linked.v1", link_reason="late_link"))
    [late] = of_type(updates, "ticket_linked.v1", link_reason="late_link")
    assert late["data"]["ticket"]["ticket_id"] == early_id
    target = late["data"]["incident_id"]
    other = inc_b if target == inc_a else inc_a
    await wait_comments(pipeline.zendesk, [early_id], "link")

    # A second customer's ticket is put on the other incident by an agent, then the incidents are merged.
    second = zendesk_ticket(base + 2, "Email notifications broken", "Email notifications fail for all our agents.",
                            802, tags=["support"])
    await kafka.produce(stack.topics.tickets_new, second, key=str(base + 2))
    second_id = str(base + 2)
    await kafka.read_json(stack.topics.tickets_triaged, until=lambda es: any(
        e["data"]["ticket"]["ticket_id"] == second_id for e in es))
    async with pipeline.client("ticket-triage") as triage:
        r = await triage.post(f"/v1/tickets/{second_id}/link", json={"incident_id": other, "reason": "same outage"})
        assert r.status_code == 200, r.text
    await wait_comments(pipeline.zendesk, [second_id], "link")
    async with pipeline.client("engineering-validation") as api:
        r = await api.post(f"/v1/incidents/{other}/merge", json={"into_incident_id": target})
        assert r.status_code == 200, r.text

    updates = await settle(kafka, stack.topics.incidents_updates, lambda es: of_type(
        es, "ticket_linked.v1", link_reason="merge"))
    links = Counter((e["data"]["incident_id"], e["data"]["ticket"]["ticket_id"])
                    for e in of_type(updates, "ticket_linked.v1"))
    assert links[(target, early_id)] == 1 and links[(target, second_id)] == 1, links
    assert of_type(updates, "incident.merged.v1", incident_id=other, into_incident_id=target)
    await wait_comments(pipeline.zendesk, [second_id], "link", at_least=2)
    assert comment_kinds(pipeline.zendesk, early_id)["link"] == 1, "informed once"
    assert comment_kinds(pipeline.zendesk, second_id)["link"] == 2, "once on the first link, once on the move"

    async with pipeline.client("ticket-triage") as triage:
        for t in (early_id, second_id):
            view = (await triage.get(f"/v1/tickets/{t}")).json()
            assert view["incident_id"] == target, view
