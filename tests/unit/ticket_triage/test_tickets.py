"""Parsing tickets.new payloads: Zendesk ticket.created (any casing), native tickets, product resolution."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.ticket_triage.domain.policy import TriagePolicy
from services.ticket_triage.domain.tickets import TicketFormatError, parse_ticket

POLICY = TriagePolicy(brand_products={"360": "Guide"}, form_products={"77": "Talk"}, product_field_id="9001")


def zendesk(**detail) -> dict:
    d = {"id": "35436", "subject": "Help", "description": "Question", "status": "NEW", "priority": "HIGH",
         "type": "QUESTION", "tags": [], "requester_id": "1", "organization_id": "2", "brand_id": None,
         "group_id": None, "form_id": None, "created_at": "2026-03-02T10:00:00Z", "via": {"channel": "WEB"}}
    d.update(detail)
    return {"type": "zen:event-type:ticket.created", "account_id": 1, "id": "e1", "time": "2026-03-02T10:00:01Z",
            "zendesk_event_version": "2022-11-06", "subject": "zen:ticket:35436", "detail": d}


@pytest.mark.parametrize("priority", ["HIGH", "high", "High"])
def test_zendesk_casings_are_accepted(priority):
    t = parse_ticket(zendesk(priority=priority), POLICY)
    assert (t.ticket_id, t.priority, t.source, t.organization_id) == ("35436", "high", "zendesk", "2")
    assert t.created_at.tzinfo is not None


def test_event_type_casing_and_unknown_priority():
    doc = zendesk(priority=None)
    doc["type"] = "ZEN:EVENT-TYPE:TICKET.CREATED"
    assert parse_ticket(doc, POLICY).priority is None


@pytest.mark.parametrize(("detail", "product", "origin"), [
    ({"custom_fields": [{"id": 9001, "value": "chat"}]}, "Chat", "field"),
    ({"form_id": "77"}, "Talk", "form"),
    ({"brand_id": 360}, "Guide", "brand"),
    ({"tags": ["vip", "product_support"]}, "Support", "tag"),
    ({"subject": "Calls dropping", "description": "Every phone call drops"}, "Talk", "text"),
    ({"subject": "Hello", "description": "Question"}, None, "unknown"),
])
def test_product_from_fields_then_text(detail, product, origin):
    t = parse_ticket(zendesk(**detail), POLICY)
    assert (t.product, t.product_from) == (product, origin)


def test_native_ticket_and_locale():
    t = parse_ticket({"ticket_id": "n1", "subject": "El chat no funciona", "description": "Los mensajes no llegan",
                      "organization": "o", "requester": "r", "priority": "URGENT", "tags": ["x"],
                      "created_at": "2026-03-02T10:00:00+00:00"}, POLICY)
    assert (t.source, t.product, t.priority, t.locale) == ("native", "Chat", "urgent", "es")
    assert parse_ticket({"ticket_id": "n2", "subject": "s", "locale": "en-GB", "product": "Talk",
                         "created_at": "2026-03-02T10:00:00"}, POLICY).locale == "en"


@pytest.mark.parametrize("doc", [
    [], "x", {"type": "zen:event-type:ticket.deleted"}, {"type": "zen:event-type:ticket.created"},
    {"type": "zen:event-type:ticket.created", "detail": {"id": "1", "created_at": "yesterday"}},
    {"ticket_id": "1"}, {"hello": 1},
])
def test_malformed_payloads_are_rejected_with_a_reason(doc):
    with pytest.raises(TicketFormatError) as err:
        parse_ticket(doc, POLICY)
    assert str(err.value)


@given(st.recursive(st.none() | st.booleans() | st.integers() | st.text(max_size=20),
                    lambda c: st.lists(c, max_size=3) | st.dictionaries(st.text(max_size=10), c, max_size=4),
                    max_leaves=12))
def test_junk_is_either_a_ticket_or_a_format_error(doc):
    try:
        parse_ticket(doc, POLICY)
    except TicketFormatError:
        pass
