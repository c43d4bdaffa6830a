"""The whole pipeline for end-to-end tests: the four services as separate processes (python -m ...), a
Zendesk stand-in recording the comments customers receive, on an isolated slice of the real stack."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import asyncpg
import httpx
import pytest

from shared.auth import issue_token
from tests.support.services import ServiceProcess, free_port

ZENDESK_EMAIL = "notifier@example.com"
ZENDESK_TOKEN = "e2e-zendesk-token"

#: Short windows and cadences so the seed's stories play out in seconds; names are the services' settings.
E2E_ENV = {
    "ALERT_INGEST_ALERTMANAGER_TOKEN": "e2e-receiver-token",
    "VALIDATION_ESCALATE_AFTER_S": "300",
    "VALIDATION_TRANSIENT_WINDOW_S": "60",
    "NOTIFIER_WEBHOOK_ALLOWED_HOSTS": "127.0.0.1",
    "NOTIFIER_ZENDESK_EMAIL": ZENDESK_EMAIL,
    "NOTIFIER_ZENDESK_API_TOKEN": ZENDESK_TOKEN,
    "NOTIFIER_ZENDESK_JOB_POLL_INTERVAL_S": "0.2",
    "NOTIFIER_SENDER_POLL_INTERVAL_S": "0.1",
    "NOTIFIER_SCHEDULER_POLL_INTERVAL_S": "0.5",
    "TRIAGE_ZENDESK_SIGNING_SECRET": "e2e-signing-secret",
}

SERVICES = {
    "alert-ingest": ("services.alert_ingest", "ALERT_INGEST_HTTP_PORT"),
    "engineering-validation": ("services.engineering_validation", "VALIDATION_HTTP_PORT"),
    "ticket-triage": ("services.ticket_triage", "TRIAGE_HTTP_PORT"),
    "notifier": ("services.notifier", "NOTIFIER_HTTP_PORT"),
}


@dataclass
class Pipeline:
    stack: object
    procs: dict[str, ServiceProcess]
    token: str
    zendesk_url: str
    log_dir: Path
    zendesk: object = None
    extra: dict = field(default_factory=dict)

    def url(self, service: str) -> str:
        return self.procs[service].url

    def client(self, service: str) -> httpx.AsyncClient:
        return httpx.AsyncClient(base_url=self.url(service), timeout=10,
                                 headers={"Authorization": f"Bearer {self.token}"})

    def logs(self) -> str:
        return "\n".join(p.log_path.read_text(errors="replace") for p in self.procs.values() if p.log_path.exists())


async def start_pipeline(stack, log_dir: Path, env: dict[str, str], zendesk_url: str) -> Pipeline:
    procs: dict[str, ServiceProcess] = {}
    for name, (module, port_var) in SERVICES.items():
        port = free_port()
        procs[name] = ServiceProcess(module, port, {**stack.env(), **E2E_ENV, **env, port_var: str(port),
                                                    "NOTIFIER_ZENDESK_BASE_URL": zendesk_url},
                                     log_dir / f"{name}.log")
        procs[name].start()
    try:
        for p in procs.values():
            await p.wait_ready(timeout=90)
    except BaseException:
        for p in procs.values():
            p.stop()
        raise
    token = await issue_token(stack.database_url, "e2e-operator", "*")
    return Pipeline(stack, procs, token, zendesk_url, log_dir)


@pytest.fixture(scope="module")
async def pipeline(stack, tmp_path_factory, request) -> AsyncIterator[Pipeline]:
    env = getattr(request.module, "PIPELINE_ENV", {})
    log_dir = tmp_path_factory.mktemp("e2e-logs")
    from tools.zendesk_standin import ZendeskStandIn

    standin = ZendeskStandIn(email=ZENDESK_EMAIL, token=ZENDESK_TOKEN)
    async with standin.serve() as zurl:
        p = await start_pipeline(stack, log_dir, env, zurl)
        p.zendesk = standin
        try:
            yield p
        finally:
            for proc in p.procs.values():
                proc.stop()


async def query(stack, sql: str, *args):
    conn = await asyncpg.connect(stack.database_url)
    try:
        return await conn.fetch(sql, *args)
    finally:
        await conn.close()
