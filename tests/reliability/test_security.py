"""Security across the APIs: 401 without a token and with a wrong one on every route (read from each app's
routes), 403 for another team's token on the routes that act on a team's incident, candidate or ticket, the
SSRF guard of the notifier's outgoing webhooks, the Zendesk webhook signature, and no secrets, tokens or
customer e-mail addresses in the logs of a run."""

from __future__ import annotations

import re
import socket
import time
from typing import Any

import asyncpg
import httpx
import orjson
import pytest

from tests.e2e.stories import sign_zendesk
from tests.reliability.conftest import (
    CHAOS_ENV, RECEIVER_TOKEN, SIGNING_SECRET, ChaosPipeline, make_token, open_incident, resolve_open,
)
from tests.support.chaos import Workload, produce, record
from tests.support.waiting import eventually

OPERATIONAL = {"/health", "/ready", "/metrics", "/docs", "/docs/oauth2-redirect", "/redoc", "/openapi.json"}
#: Routes authenticated another way (tested separately): HMAC signature, PagerDuty routing key.
OTHER_AUTH = {("ticket-triage", "/v1/tickets/zendesk"), ("alert-ingest", "/v2/enqueue")}


def app_routes(service: str) -> list[tuple[str, str]]:
    """(method, path) of every API route of a service, from its FastAPI app (built, not started)."""
    import importlib

    pkg = {"alert-ingest": "alert_ingest", "engineering-validation": "engineering_validation",
           "ticket-triage": "ticket_triage", "notifier": "notifier"}[service]
    app_mod = importlib.import_module(f"services.{pkg}.app")
    settings_mod = importlib.import_module(f"services.{pkg}.settings")
    app = app_mod.create_app(settings_mod.Settings())
    # the OpenAPI document lists every route, also those of routers FastAPI includes lazily
    out = []
    for path, ops in app.openapi()["paths"].items():
        if path not in OPERATIONAL and (service, path) not in OTHER_AUTH:
            out.extend((m.upper(), path) for m in sorted(ops) if m.upper() not in ("HEAD", "OPTIONS"))
    assert out or service == "alert-ingest", f"no routes found for {service}"
    return out


ROUTES = [(s, m, p) for s in ("alert-ingest", "engineering-validation", "ticket-triage", "notifier")
          for m, p in app_routes(s)]


class World:
    """Resources of the Chat team to aim other teams' tokens at."""

    incident = ""
    other_incident = ""
    candidate = ""
    ticket = ""
    talk_token = ""
    chat_token = ""


@pytest.fixture(scope="module")
async def world(pipeline: ChaosPipeline, kafka) -> World:
    w = Workload.make(0, 3, poison_ratio=0)
    world = World()
    world.incident = await open_incident(pipeline, kafka, w.incident_alert())
    await produce(pipeline.stack.bootstrap, pipeline.stack.topics.tickets_new,
                  [r for r in w.ticket_records() if r[0].decode() in w.tickets])

    async def linked() -> str | None:
        conn = await asyncpg.connect(pipeline.stack.database_url)
        try:
            return await conn.fetchval("SELECT ticket_id FROM triage.links WHERE ticket_id = ANY($1)", w.tickets)
        finally:
            await conn.close()

    world.ticket = await eventually(linked, timeout=60, interval=0.5, what="a linked Chat ticket")
    conn = await asyncpg.connect(pipeline.stack.database_url)
    try:
        world.candidate = await conn.fetchval("SELECT id FROM validation.candidates WHERE incident_id = $1",
                                              world.incident) or "cand-none"
    finally:
        await conn.close()
    world.talk_token = await make_token(pipeline.stack.database_url, name="talk-engineer", team="talk-eng")
    world.chat_token = await make_token(pipeline.stack.database_url, name="chat-engineer", team="chat-eng")

    async def deliveries_known() -> bool:
        async with pipeline.client("notifier") as c:
            return (await c.get(f"/v1/incidents/{world.incident}/deliveries")).status_code == 200

    await eventually(deliveries_known, timeout=60, interval=0.5, what="the notifier knows the incident")
    return world


def fill(path: str, world: World) -> str:
    return (path.replace("{incident_id}", world.incident).replace("{candidate_id}", world.candidate)
            .replace("{ticket_id}", world.ticket))


def body_for(method: str, path: str, world: World) -> dict[str, Any] | None:
    """A valid body for each mutating route, so a 403 is not hidden behind a 422."""
    if method in ("GET", "DELETE"):
        return None
    bodies = {
        "/v1/incidents/{incident_id}/resolve": {"message": "x"},
        "/v1/incidents/{incident_id}/updates": {"message": "x"},
        "/v1/incidents/{incident_id}/merge": {"into_incident_id": "INC-000000000000"},
        "/v1/incidents/{incident_id}": {"title": "x"},
        "/v1/validations/{candidate_id}/dismiss": {"reason": "x"},
        "/v1/validations/{candidate_id}/confirm": {"reason": "x"},
        "/v1/incidents": {"product": "Chat", "title": "x", "severity": "SEV-3"},
        "/v1/silences": {"product": "Chat", "ends_at": "2099-01-01T00:00:00Z"},
        "/v1/tickets/{ticket_id}/link": {"incident_id": "INC-0123456789ab", "reason": "x"},
        "/v1/tickets/{ticket_id}/unlink": {"reason": "x"},
        "/v1/tickets/{ticket_id}/standard": {"reason": "x"},
    }
    return bodies.get(path, {})


async def call(p: ChaosPipeline, service: str, method: str, path: str, token: str | None, world: World
               ) -> httpx.Response:
    if token is None:
        headers = {}
    elif token.startswith(("Basic ", "Bearer")):
        headers = {"Authorization": token}  # a raw header value
    else:
        headers = {"Authorization": f"Bearer {token}"}
    async with httpx.AsyncClient(base_url=p.url(service), timeout=15) as c:
        body = body_for(method, path, world)
        if body is not None:
            headers["Content-Type"] = "application/json"
        params = {"status": "dead"} if path == "/v1/deliveries" else None
        return await c.request(method, fill(path, world), headers=headers, params=params,
                               content=orjson.dumps(body) if body is not None else None)


@pytest.mark.parametrize(("service", "method", "path"), ROUTES, ids=[f"{m} {s}{p}" for s, m, p in ROUTES])
async def test_401_without_or_with_a_wrong_token(pipeline: ChaosPipeline, world: World, service: str,
                                                 method: str, path: str) -> None:
    for token in (None, "ipt_wrong-token-" + "x" * 20, "Bearer", "Basic dXNlcjpwYXNz", RECEIVER_TOKEN + "x"):
        r = await call(pipeline, service, method, path, token, world)
        assert r.status_code == 401, (token, r.status_code, r.text[:200])


#: Routes that only list or create: another team gets its own view (filtered) or may create for itself.
LISTINGS = {("engineering-validation", "GET", "/v1/validations"), ("engineering-validation", "GET", "/v1/incidents"),
            ("notifier", "GET", "/v1/deliveries"), ("engineering-validation", "GET", "/v1/silences")}
SCOPED = [(s, m, p) for s, m, p in ROUTES if s != "alert-ingest" and (s, m, p) not in LISTINGS
          and not (s == "ticket-triage" and p == "/v1/tickets")]


def _scoped_case(s: str, m: str, p: str):
    return pytest.param(s, m, p, id=f"{m} {s}{p}")


@pytest.mark.parametrize(("service", "method", "path"), [_scoped_case(*r) for r in SCOPED])
async def test_403_for_another_teams_token(pipeline: ChaosPipeline, world: World, service: str, method: str,
                                           path: str) -> None:
    r = await call(pipeline, service, method, path, world.talk_token, world)
    assert r.status_code == 403, (r.status_code, r.text[:300])


async def test_listings_show_only_the_tokens_team(pipeline: ChaosPipeline, world: World) -> None:
    async with pipeline.client("engineering-validation", world.talk_token) as c:
        vals = (await c.get("/v1/validations")).json()
        assert all(v.get("team") == "talk-eng" for v in vals), vals[:3]
        assert (await c.get("/v1/validations", params={"team": "chat-eng"})).status_code == 403
    async with pipeline.client("notifier", world.talk_token) as c:
        r = await c.get("/v1/deliveries", params={"status": "sent"})
        assert r.status_code == 200
        assert world.incident not in r.text


async def test_incident_listing_is_scoped_to_the_tokens_team(pipeline: ChaosPipeline, world: World) -> None:
    async with pipeline.client("engineering-validation", world.talk_token) as c:
        r = await c.get("/v1/incidents", params={"status": "all"})
        assert r.status_code == 200
        assert world.incident not in r.text


async def test_the_owning_team_is_let_in(pipeline: ChaosPipeline, world: World) -> None:
    async with pipeline.client("notifier", world.chat_token) as c:
        assert (await c.get(f"/v1/incidents/{world.incident}/deliveries")).status_code == 200
    async with pipeline.client("ticket-triage", world.chat_token) as c:
        assert (await c.get(f"/v1/tickets/{world.ticket}")).status_code == 200


async def test_zendesk_webhook_signature_and_freshness(pipeline: ChaosPipeline) -> None:
    body = orjson.dumps({"type": "zen:event-type:ticket.created", "detail": {"id": "1"}})
    old = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() - 3600))
    cases = {"no headers": {"Content-Type": "application/json"},
             "wrong secret": sign_zendesk("not-the-secret", body),
             "stale timestamp": sign_zendesk(SIGNING_SECRET, body, old),
             "signature of another body": sign_zendesk(SIGNING_SECRET, body + b" ")}
    async with httpx.AsyncClient(base_url=pipeline.url("ticket-triage"), timeout=10) as c:
        for name, headers in cases.items():
            r = await c.post("/v1/tickets/zendesk", content=body, headers=headers)
            assert r.status_code == 401, (name, r.status_code, r.text)


# ------------------------------------------------------------------------------------------ SSRF

SSRF_URLS = ["http://127.0.0.1/hook", "http://localhost/hook", "http://[::1]/hook", "http://10.0.0.5/hook",
             "http://192.168.1.1/hook", "http://172.16.0.1/hook", "http://169.254.169.254/latest/meta-data/",
             "http://metadata.google.internal/computeMetadata/v1/", "http://[fd00:ec2::254]/",
             "http://100.100.100.200/", "http://0.0.0.0/", "http://[::ffff:127.0.0.1]/", "http://2130706433/",
             "http://0x7f.0.0.1/", "http://127.1/", "file:///etc/passwd", "gopher://127.0.0.1/",
             "http://user:pw@example.com/", "http://[fe80::1]/", "http://100.64.0.1/"]


@pytest.mark.parametrize("url", SSRF_URLS)
def test_ssrf_guard_refuses(url: str) -> None:
    from services.notifier.domain.ssrf import UnsafeURL, check, parse_target

    with pytest.raises(UnsafeURL):
        _scheme, host, port = parse_target(url)
        try:
            infos = socket.getaddrinfo(host, port, proto=socket.IPPROTO_TCP)
            addrs = list({i[4][0] for i in infos})
        except socket.gaierror:
            addrs = []
        check(host, addrs, allowed=[])


def test_ssrf_guard_allows_public_and_explicitly_allowed() -> None:
    from services.notifier.domain.ssrf import check, parse_target

    _s, host, _p = parse_target("https://hooks.example.com/x")
    check(host, ["93.184.216.34"], allowed=[])
    check("127.0.0.1", ["127.0.0.1"], allowed=["127.0.0.1"])


REDIRECT_TARGETS = ["http://127.0.0.1:{port}/private", "http://169.254.169.254/latest/meta-data/",
                    "http://10.1.2.3/", "http://[::1]:{port}/", "http://metadata.google.internal/",
                    "http://vm:{port}/private", "file:///etc/passwd"]


@pytest.mark.parametrize("target", REDIRECT_TARGETS)
async def test_ssrf_redirects_to_private_addresses_are_refused(target: str) -> None:
    """An allowed webhook host (here `localhost`, by name) answering 307 to a private or metadata address, or
    to a name resolving to loopback: the notifier's client must refuse the hop, never connect there."""
    from fastapi import FastAPI
    from fastapi.responses import RedirectResponse

    from services.notifier.webhooks import WebhookClient
    from tools._serving import serving

    hits: list[str] = []
    app = FastAPI()

    @app.post("/hook")
    async def hook() -> RedirectResponse:
        hits.append("hook")
        return RedirectResponse(target.format(port=port), status_code=307)

    @app.post("/private")
    async def private() -> dict[str, str]:
        hits.append("private")
        return {"reached": "private"}

    from tools._serving import free_port

    port = free_port()
    async with serving(app, port=port):
        client = WebhookClient(allowed_hosts=["localhost"], timeout_s=5, max_redirects=3)
        try:
            out = await client.post(f"http://localhost:{port}/hook", "whsec_" + "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
                                    "msg_1", b"{}")
        finally:
            await client.close()
    assert hits == ["hook"], hits
    assert not out.ok and "refused" in out.error, out
    record({"scenario": f"security: SSRF redirect to {target.split('/')[2]}", "inputs": 1, "refused": 1,
            "lost": 0, "duplicated": 0}, kind="security")


# ------------------------------------------------------------------------------------------ logs

EMAIL = re.compile(rb"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}")


async def test_no_secrets_tokens_or_customer_emails_in_logs(pipeline: ChaosPipeline, world: World) -> None:
    """The run so far (tickets with e-mail addresses, tokens used right and wrong, signed webhooks) must not
    have put any secret, token or customer e-mail address in any service's log."""
    # also a ticket carrying e-mails through the HTTP receivers, and a wrong token to make auth log something
    t = {"ticket_id": "sec-1", "subject": "Chat down, write to jane.doe@customer-example.org",
         "description": "Call me: jane.doe@customer-example.org", "requester": "jane.doe@customer-example.org",
         "created_at": "2026-12-03T09:00:00Z", "product": "Chat"}
    async with pipeline.client("ticket-triage") as c:
        assert (await c.post("/v1/tickets", content=orjson.dumps(t))).status_code == 202
    async with pipeline.client("ticket-triage", "ipt_" + "leak" * 10) as c:
        assert (await c.get("/v1/tickets/sec-1")).status_code == 401
    logs = pipeline.logs().encode()
    secrets = {"receiver token": RECEIVER_TOKEN, "zendesk signing secret": SIGNING_SECRET,
               "zendesk api token": CHAOS_ENV["NOTIFIER_ZENDESK_API_TOKEN"], "operator token": pipeline.token,
               "team token": world.talk_token, "wrong token": "ipt_" + "leak" * 10}
    found = {name: logs.count(v.encode()) for name, v in secrets.items() if v and v.encode() in logs}
    emails = sorted({m.decode() for m in EMAIL.findall(logs)} - {"notifier@example.com"})
    record({"scenario": "security: secrets / tokens / customer e-mails in the logs of a run",
            "inputs": len(logs.splitlines()), "secrets_found": found, "emails_found": len(emails),
            "lost": 0, "duplicated": 0}, kind="security")
    assert not found, found
    assert not emails, emails[:10]
