"""Classification, matching, clustering and late links: pure, time passed in."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from services.ticket_triage.domain.classify import IncidentView, match_incidents, problem_features
from services.ticket_triage.domain.decide import decide, incident_id_for, late_links
from services.ticket_triage.domain.policy import TriagePolicy
from services.ticket_triage.domain.tickets import Ticket
from shared.contracts import Severity, TriageOutcome

T0 = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
POLICY = TriagePolicy(cluster_min_orgs=3)
TALK = IncidentView("INC-000000000001", "Talk", "Talk: calls dropping mid-conversation", T0 - timedelta(hours=1),
                    "voice gateway call drop rate elevated")
GUIDE = IncidentView("INC-000000000002", "Guide", "Guide: help center pages not loading (502)",
                     T0 - timedelta(hours=1), "502 errors")


def ticket(subject: str, description: str = "", *, product: str | None = None, org: str = "o1",
           priority: str | None = "normal", at: datetime = T0, tid: str | None = None) -> Ticket:
    return Ticket(tid or f"t-{subject[:8]}-{org}", "native", subject, description, at, org, "r", product,
                  "field" if product else "unknown", priority, "en")


def test_problem_features_english_and_spanish():
    en = problem_features(ticket("Chat is down", "Nothing works since this morning, all our agents see errors"))
    es = problem_features(ticket("El chat no funciona", "Todos nuestros agentes ven errores, está caído"))
    for p in (en, es):
        assert {"outage", "errors", "breadth"} <= set(p.features) and p.score >= POLICY.problem_threshold
    slow = problem_features(ticket("Vistas muy lentas", "tardan minutos en cargar"))
    assert "slowness" in slow.features


def test_support_requests_score_negative_and_priority_counts():
    for text in ("How do I configure triggers?", "We were charged twice, please refund", "Feature request: dark mode",
                 "Cómo puedo cambiar el logo?", "Nos cobraron dos veces la factura", "Sería genial exportar a CSV"):
        assert problem_features(ticket(text)).score < 0, text
    urgent = problem_features(ticket("Calls dropping", priority="urgent"))
    assert urgent.features["priority_urgent"] > 0


def test_spanish_ticket_matches_english_incident_of_its_product():
    t = ticket("Las llamadas se cortan", "Todas las llamadas se cortan a los 30 segundos", product="Talk")
    matches = match_incidents(t, [TALK, GUIDE], lookback_s=86400)
    assert [m.incident_id for m in matches] == [TALK.incident_id]  # other products are not candidates
    assert matches[0].features["text_similarity"] > 0.3


def test_linked_decision_explains_itself():
    d = decide(ticket("Calls dropping", "Every call drops after 30 seconds", product="Talk"), [TALK], [], POLICY)
    assert d.outcome is TriageOutcome.LINKED and d.incident_id == TALK.incident_id
    assert {"match.text_similarity", "match.product", "problem.stopped_working"} <= set(d.features)
    assert "matches open incident" in d.reason


def test_problem_without_match_waits_for_a_cluster_then_opens():
    text = ("Voicemails not recorded", "Voicemail recordings are missing, it stopped working")
    first = ticket(*text, product="Talk", org="a", tid="1")
    d1 = decide(first, [GUIDE], [], POLICY)
    assert d1.outcome is TriageOutcome.STANDARD_SUPPORT and d1.pending_cluster and "pending cluster" in d1.reason
    second = ticket(*text, product="Talk", org="b", tid="2", at=T0 + timedelta(minutes=5))
    assert decide(second, [], [first], POLICY).pending_cluster
    third = ticket(*text, product="Talk", org="c", tid="3", at=T0 + timedelta(minutes=9))
    d3 = decide(third, [], [first, second], POLICY)
    assert d3.outcome is TriageOutcome.NEW_INCIDENT and d3.new_incident is not None
    assert [t.ticket_id for t in d3.new_incident.tickets] == ["1", "2", "3"]
    assert d3.new_incident.severity is Severity.SEV3 and d3.incident_id == incident_id_for(first)
    assert d3.new_incident.incident_id.startswith("INC-") and len(d3.new_incident.incident_id) == 16


def test_cluster_needs_distinct_organisations_recent_and_similar():
    text = ("Voicemails not recorded", "Voicemail recordings are missing, it stopped working")
    same_org = [ticket(*text, product="Talk", org="a", tid=str(i)) for i in range(2)]
    assert decide(ticket(*text, product="Talk", org="a", tid="x"), [], same_org, POLICY).pending_cluster
    old = [ticket(*text, product="Talk", org=o, tid=o, at=T0 - timedelta(hours=3)) for o in "bc"]
    assert decide(ticket(*text, product="Talk", org="a", tid="y"), [], old, POLICY).pending_cluster
    other = [ticket("Outbound calls fail", "cannot dial out, error", product="Talk", org=o, tid=o) for o in "bc"]
    assert decide(ticket(*text, product="Talk", org="a", tid="z"), [], other, POLICY).pending_cluster


def test_one_urgent_report_is_enough_when_configured():
    t = ticket("Chatbot is down", "Our chatbot stopped working for everyone", product="Chat", priority="urgent")
    assert decide(t, [], [], POLICY).outcome is TriageOutcome.NEW_INCIDENT
    off = POLICY.model_copy(update={"urgent_opens_incident": False})
    assert decide(t, [], [], off).pending_cluster


def test_cluster_of_one_when_threshold_is_one():
    t = ticket("Chatbot is down", "Our chatbot stopped working for everyone", product="Chat")
    assert decide(t, [], [], POLICY.model_copy(update={"cluster_min_orgs": 1})).outcome is TriageOutcome.NEW_INCIDENT


def test_late_links_only_recent_matching_problem_tickets():
    recent = ticket("Calls dropping", "our calls drop after 30 seconds", product="Talk", tid="r",
                    at=TALK.opened_at - timedelta(minutes=30))
    old = ticket("Calls dropping", "our calls drop after 30 seconds", product="Talk", tid="o",
                 at=TALK.opened_at - timedelta(hours=5))
    howto = ticket("How do I set up call routing?", product="Talk", tid="h")
    other = ticket("Help center down", "502 errors everywhere", product="Guide", tid="g")
    assert [t.ticket_id for t, _ in late_links(TALK, [recent, old, howto, other], POLICY)] == ["r"]


def test_terse_alert_incident_matches_customer_words_by_product_and_symptom():
    chat = IncidentView("INC-000000000003", "Chat", "Chat: Chat API 5xx rate above 5%", T0 - timedelta(minutes=5),
                        "critical alert still firing error_rate")
    for subject, body in [("Chat widget not loading", "Our chat widget shows an error and messages fail to send."),
                          ("Chat caído", "El chat no funciona, todos nuestros agentes ven errores.")]:
        d = decide(ticket(subject, body, product="Chat"), [chat], [], POLICY)
        assert d.outcome is TriageOutcome.LINKED and d.features["match.symptom"] == 1.0, subject


def test_a_different_component_is_not_linked():
    guide = IncidentView("INC-000000000004", "Guide", "Guide: help center pages not loading (502)", T0, "502 errors")
    t = ticket("Help center search fails", "Every search returns an error, it stopped working", product="Guide")
    matches = match_incidents(t, [guide], lookback_s=86400)
    assert matches[0].features["component"] == 0.0 and matches[0].score == 0.0
