"""Cadence, retry/backoff, the SSRF guard, message templates and Zendesk job results (pure)."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest

from services.notifier.domain.cadence import cadence_for, next_due
from services.notifier.domain.messages import language, render
from services.notifier.domain.retry import Outcome, backoff, classify_status, next_step
from services.notifier.domain.ssrf import UnsafeURL, check, parse_target
from services.notifier.settings import Settings
from services.notifier.zendesk import ZendeskClient

NOW = datetime(2026, 12, 3, 12, 0, tzinfo=UTC)


def test_default_cadences_from_the_severity_scale_and_overrides():
    c = Settings().cadences()
    assert c == {"SEV-1": 1800, "SEV-2": 3600, "SEV-3": 14400, "SEV-4": None}
    c = Settings(cadence_minutes={"SEV-2": 15}, cadence_seconds={"SEV-1": 2, "SEV-3": None}).cadences()
    assert c["SEV-1"] == 2 and c["SEV-2"] == 900 and c["SEV-3"] is None
    assert cadence_for("SEV-4", c) is None and cadence_for(None, c) is None and cadence_for("SEV-1", c) == 2


def test_next_due_is_one_cadence_after_the_last_broadcast_never_in_the_past():
    assert next_due(NOW, 60, NOW) == NOW + timedelta(seconds=60)
    assert next_due(NOW - timedelta(hours=5), 60, NOW) == NOW  # one catch-up, not five


@pytest.mark.parametrize(("status", "expected"), [(200, (True, False)), (204, (True, False)), (404, (False, False)),
                                                   (401, (False, False)), (429, (False, True)), (500, (False, True)),
                                                   (503, (False, True)), (408, (False, True))])
def test_classify_status(status, expected):
    assert classify_status(status) == expected


def test_backoff_grows_exponentially_with_jitter_and_a_cap():
    rnd = random.Random(1)
    delays = [backoff(a, base_s=1, max_s=30, rnd=rnd) for a in range(1, 10)]
    assert all(0.5 <= d <= 30 for d in delays)
    assert max(backoff(8, base_s=1, max_s=30, rnd=random.Random(i)) for i in range(50)) > 10


def test_next_step_retries_then_dies_and_honours_retry_after():
    kw = dict(max_attempts=3, base_s=1, max_s=10, rnd=random.Random(0))
    assert next_step(Outcome(True), 1, **kw) == ("sent", 0.0)
    assert next_step(Outcome(False, "5xx"), 1, **kw)[0] == "pending"
    assert next_step(Outcome(False, "5xx"), 3, **kw) == ("dead", 0.0)
    assert next_step(Outcome(False, "404", retryable=False), 1, **kw) == ("dead", 0.0)
    assert next_step(Outcome(False, "429", retry_after=42), 1, **kw) == ("pending", 42)


@pytest.mark.parametrize(("url", "addresses"), [
    ("ftp://example.com/x", ["93.184.216.34"]),
    ("file:///etc/passwd", []),
    ("http://user:pw@example.com/", ["93.184.216.34"]),
    ("http://10.0.0.5/hook", ["10.0.0.5"]),
    ("http://192.168.1.1/hook", ["192.168.1.1"]),
    ("http://127.0.0.2/hook", ["127.0.0.2"]),
    ("http://[::1]/hook", ["::1"]),
    ("http://169.254.169.254/latest/meta-data", ["169.254.169.254"]),
    ("http://metadata.google.internal/", ["169.254.169.254"]),
    ("http://[::ffff:10.0.0.1]/", ["::ffff:10.0.0.1"]),
    ("http://100.100.100.200/", ["100.100.100.200"]),
    ("http://evil.example/", ["93.184.216.34", "10.0.0.1"]),  # any non-public answer refuses the name
    ("http://nowhere.invalid/", []),
])
def test_ssrf_guard_refuses(url, addresses):
    with pytest.raises(UnsafeURL):
        _, host, _ = parse_target(url)
        check(host, addresses, ["127.0.0.1"])


def test_ssrf_guard_allows_public_and_explicitly_allowed():
    check("example.com", ["93.184.216.34", "2606:2800:220:1:248:1893:25c8:1946"], [])
    check("127.0.0.1", ["127.0.0.1"], ["127.0.0.1"])
    check("hooks.internal", ["10.2.3.4"], ["10.0.0.0/8"])
    check("hooks.internal", ["10.2.3.4"], ["hooks.internal"])
    assert parse_target("https://Example.com./x") == ("https", "example.com", 443)


def test_messages_in_the_tickets_language_with_english_fallback():
    assert language("es-419") == "es" and language(None) == "en" and language("pt_BR") == "pt"
    es = render("update", "es", title="Chat", status="monitoring", message="Arreglado", next_update_at=NOW)
    assert "Arreglado" in es and "En observación" in es and "12:00 UTC" in es
    fr = render("periodic", "fr", title="Chat", status="investigating")
    assert fr.startswith("We are still working on Chat") and "Next update" not in fr
    for kind in ("link", "update", "status", "resolved", "periodic"):
        for lang in ("en", "es"):
            assert render(kind, lang, title="T", status="identified", message="M", next_update_at=NOW)


def test_zendesk_job_results_per_ticket():
    job = {"status": "completed", "results": [{"id": 1, "status": "Updated", "success": True},
                                              {"id": 2, "success": False, "error": "TicketLocked"}]}
    out = ZendeskClient._job_results(job, "j1", ["1", "2", "3"])
    assert out["1"].ok and not out["2"].ok and out["2"].retryable and "TicketLocked" in out["2"].error
    assert not out["3"].ok and out["3"].uncertain  # completed without a result: checked before resending
    failed = ZendeskClient._job_results({"status": "failed", "message": "boom"}, "j2", ["1"])
    assert failed["1"].retryable and failed["1"].uncertain


def test_a_new_link_is_promised_the_periodic_update_it_will_actually_get():
    from services.notifier.domain.cadence import next_update_for_new_link, skips_periodic

    due = NOW + timedelta(minutes=20)
    assert next_update_for_new_link(due, 1800, NOW) == due  # 20 min away, more than half a cadence
    near = NOW + timedelta(minutes=10)
    assert next_update_for_new_link(near, 1800, NOW) == near + timedelta(minutes=30)
    assert skips_periodic(NOW, near, 1800) and not skips_periodic(NOW, due, 1800)
    assert next_update_for_new_link(None, 1800, NOW) == NOW + timedelta(minutes=30)
    assert next_update_for_new_link(due, None, NOW) is None
