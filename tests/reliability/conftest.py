"""Fixtures of the reliability suite: the four services as processes we may kill, a Zendesk stand-in behind a
TCP proxy (slow targets), and, for the broker/database faults only, a Kafka and a PostgreSQL of our own.

CHAOS_FULL=1 (make chaos) runs the long version; without it the same tests run a short one inside make test.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest

from shared.auth import issue_token
from tests.e2e.conftest import E2E_ENV, SERVICES, ZENDESK_EMAIL, ZENDESK_TOKEN
from tests.support.chaos import FULL, Oracle, OwnStack
from tests.support.kafka import KafkaTestClient
from tests.support.services import ServiceProcess, free_port
from tests.support.tcp_proxy import TcpProxy
from tests.support.waiting import eventually

SIGNING_SECRET = E2E_ENV["TRIAGE_ZENDESK_SIGNING_SECRET"]
RECEIVER_TOKEN = E2E_ENV["ALERT_INGEST_ALERTMANAGER_TOKEN"]
PD_ROUTING_KEY = "chaos-routing-key-0123456789"

CHAOS_ENV = {
    **E2E_ENV,
    "ALERT_INGEST_PAGERDUTY_ROUTING_KEYS": PD_ROUTING_KEY,
    "NOTIFIER_BACKOFF_BASE_S": "0.2",
    "NOTIFIER_BACKOFF_MAX_S": "2",
    "NOTIFIER_MAX_ATTEMPTS": "30",
    "NOTIFIER_HTTP_TIMEOUT_S": "5",
    "LOG_LEVEL": "INFO",
}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "reliability" in Path(str(item.fspath)).parts:
            item.add_marker(pytest.mark.e2e)
            if FULL:
                item.add_marker(pytest.mark.timeout(1800))


@dataclass
class ChaosPipeline:
    """The four services (each restartable, each possibly doubled) on one stack slice."""

    stack: Any
    env: dict[str, str]
    log_dir: Path
    zendesk: Any
    zendesk_proxy: TcpProxy
    procs: dict[str, ServiceProcess] = field(default_factory=dict)
    extra: list[ServiceProcess] = field(default_factory=list)
    token: str = ""
    restarts: int = 0

    @property
    def oracle(self) -> Oracle:
        return Oracle(self.stack.bootstrap, self.stack.database_url, self.stack.topics)

    def url(self, name: str) -> str:
        return self.procs[name].url

    def client(self, name: str, token: str | None = None) -> httpx.AsyncClient:
        return httpx.AsyncClient(base_url=self.url(name), timeout=15,
                                 headers={"Authorization": f"Bearer {token or self.token}"})

    def _proc(self, name: str, suffix: str = "") -> ServiceProcess:
        module, port_var = SERVICES[name]
        port = free_port()
        prefix = port_var.removesuffix("HTTP_PORT")
        env = {**self.env, port_var: str(port), f"{prefix}INSTANCE_ID": f"{name}{suffix}"}
        return ServiceProcess(module, port, env, self.log_dir / f"{name}{suffix}.log")  # restarts append

    async def start(self, name: str) -> None:
        self.procs[name] = self._proc(name)
        self.procs[name].start()
        await self.procs[name].wait_ready(timeout=120)

    async def start_all(self) -> None:
        for name in SERVICES:
            self.procs[name] = self._proc(name)
            self.procs[name].start()
        for p in self.procs.values():
            await p.wait_ready(timeout=120)

    async def crash(self, name: str, sig: int = signal.SIGKILL, *, wait: bool = True) -> int | None:
        """Stop a service with `sig` (SIGKILL: no chance to commit), then start it again (and wait until it is
        ready, unless `wait` is false: several restarts can then overlap)."""
        rc = self.procs[name].stop(sig, timeout=40)
        self.restarts += 1
        self.procs[name] = self._proc(name)
        self.procs[name].start()
        if wait:
            await self.procs[name].wait_ready(timeout=120)
        return rc

    async def wait_all_ready(self) -> None:
        for p in self.procs.values():
            await p.wait_ready(timeout=120)

    async def start_extra(self, name: str) -> ServiceProcess:
        p = self._proc(name, f"-extra{len(self.extra)}")
        self.extra.append(p)
        p.start()
        await p.wait_ready(timeout=120)
        return p

    def stop_all(self) -> None:
        for p in [*self.extra, *self.procs.values()]:
            p.stop()

    def logs(self) -> str:
        return "\n".join(f.read_text(errors="replace") for f in sorted(self.log_dir.glob("*.log")))

    async def all_ready(self) -> bool:
        async with httpx.AsyncClient(timeout=3) as c:
            for p in self.procs.values():
                try:
                    if (await c.get(f"{p.url}/ready")).status_code != 200:
                        return False
                except httpx.HTTPError:
                    return False
        return True


async def make_token(database_url: str, *, name: str, team: str) -> str:
    return await issue_token(database_url, name, team)


@contextlib.asynccontextmanager
async def chaos_pipeline_on(stack: Any, log_dir: Path, env: dict[str, str] | None = None
                            ) -> AsyncIterator[ChaosPipeline]:
    from tools._serving import serving
    from tools.zendesk_standin import ZendeskStandIn

    standin = ZendeskStandIn(email=ZENDESK_EMAIL, token=ZENDESK_TOKEN, job_polls=0)
    async with serving(standin.app) as zurl:
        port = int(zurl.rsplit(":", 1)[1])
        proxy = await TcpProxy("127.0.0.1", port).start()
        full_env = {**stack.env(), **CHAOS_ENV, **(env or {}),
                    "NOTIFIER_ZENDESK_BASE_URL": f"http://127.0.0.1:{proxy.port}"}
        p = ChaosPipeline(stack, full_env, log_dir, standin, proxy)
        try:
            await p.start_all()
            p.token = await make_token(stack.database_url, name="chaos-operator", team="*")
            yield p
        finally:
            p.stop_all()
            await proxy.stop()


@pytest.fixture(scope="module")
async def pipeline(stack, tmp_path_factory) -> AsyncIterator[ChaosPipeline]:
    log_dir = tmp_path_factory.mktemp("chaos-logs")
    async with chaos_pipeline_on(stack, log_dir) as p:
        yield p


async def open_incident(p: ChaosPipeline, kafka: KafkaTestClient, record: tuple[bytes, bytes],
                        product: str = "Chat", timeout: float = 60) -> str:
    """Send the run's critical alert and return the open incident of `product` it opened or joined."""
    key, value = record
    await kafka.produce(p.stack.topics.alerts_raw, value, key=key)

    async def probe() -> str | None:
        conn = await asyncpg.connect(p.stack.database_url)
        try:
            return await conn.fetchval(
                "SELECT i.id FROM validation.incidents i JOIN validation.alerts a ON a.incident_id = i.id "
                "WHERE a.fingerprint = $1 AND i.resolved_at IS NULL AND i.merged_into IS NULL", key.decode())
        finally:
            await conn.close()

    return await eventually(probe, timeout=timeout, interval=0.3, what=f"an open {product} incident")


async def resolve_open(p: ChaosPipeline, product: str = "Chat") -> list[str]:
    conn = await asyncpg.connect(p.stack.database_url)
    try:
        ids = [r["id"] for r in await conn.fetch(
            "SELECT id FROM validation.incidents WHERE product = $1 AND resolved_at IS NULL AND merged_into IS NULL",
            product)]
    finally:
        await conn.close()
    async with p.client("engineering-validation") as api:
        for inc in ids:
            for _ in range(30):
                r = await api.post(f"/v1/incidents/{inc}/resolve", json={"message": "Everything works again."})
                if r.status_code in (200, 409):
                    break
                await asyncio.sleep(1)  # the service may be restarting; retry the request
            else:
                raise AssertionError(f"could not resolve {inc}: {r.status_code} {r.text}")
    return ids


@pytest.fixture(scope="session")
def own() -> OwnStack:
    """The suite's own Kafka + PostgreSQL (broker and database faults; CHAOS_FULL=1 only), shared by the modules
    that need it and stopped at the end of the session."""
    s = OwnStack()
    s.up()
    yield s
    s.down()


@pytest.fixture(scope="module")
async def kafka(stack) -> AsyncIterator[KafkaTestClient]:
    client = KafkaTestClient(stack.bootstrap)
    await client.start()
    yield client
    await client.stop()


def full_or_short(full: Any, short: Any) -> Any:
    return full if FULL else short


os.environ.setdefault("HYPOTHESIS_STORAGE_DIRECTORY", str(Path(__file__).parent / ".hypothesis"))


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Render the results table of this mode (tests/reliability/results/<mode>.md) for docs/reliability.md."""
    from tests.reliability.report import render

    with contextlib.suppress(FileNotFoundError):
        render("full" if FULL else "short")
