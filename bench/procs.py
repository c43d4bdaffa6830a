"""Processes under test (services, the baseline relay, Alertmanager): start, wait ready, sample RSS, stop."""

from __future__ import annotations

import asyncio
import contextlib
import importlib.util
import os
import signal
import socket
import subprocess
import sys
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import psutil

from .stats import poll

ROOT = Path(__file__).resolve().parents[1]
STATE = ROOT / ".state" / "bench"

#: service -> (module, port variable, extra environment the benchmark needs)
SERVICES = {
    "alert-ingest": ("services.alert_ingest", "ALERT_INGEST_HTTP_PORT", {}),
    "engineering-validation": ("services.engineering_validation", "VALIDATION_HTTP_PORT",
                               {"VALIDATION_CRITICAL_DELAY_S": "0", "VALIDATION_ESCALATE_AFTER_S": "3600"}),
    "ticket-triage": ("services.ticket_triage", "TRIAGE_HTTP_PORT", {}),
    "notifier": ("services.notifier", "NOTIFIER_HTTP_PORT", {}),
}
RECEIVER_TOKEN = "bench-receiver-token"
#: Peak RSS (bytes) of every process this run started, by name, across all its runs (memory under load).
PEAKS: dict[str, int] = {}
#: The same, for the scenario running now (run.py resets it before each scenario).
SCENARIO_PEAKS: dict[str, int] = {}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def missing(*names: str) -> str | None:
    """Why these services cannot run yet (their package has no app or __main__), or None."""
    for name in names:
        module = SERVICES[name][0]
        for part in ("__main__", "app", "handlers"):
            if importlib.util.find_spec(f"{module}.{part}") is None:
                return f"{name} is not built yet ({module}.{part} missing)"
    return None


@dataclass
class Proc:
    """One child process with its log under .state/bench/logs and a peak-RSS sampler."""

    name: str
    argv: list[str]
    env: dict[str, str]
    port: int | None = None
    proc: subprocess.Popen | None = None
    rss_peak: int = 0
    rss_series: list[tuple[float, int]] = field(default_factory=list)
    _sampler: asyncio.Task | None = None

    @property
    def log_path(self) -> Path:
        return STATE / "logs" / f"{self.name}.log"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(self.argv, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT,
                                     env={**os.environ, **self.env})
        self._sampler = asyncio.create_task(self._sample())

    def tail(self, n: int = 2000) -> str:
        return self.log_path.read_text(errors="replace")[-n:] if self.log_path.exists() else ""

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    async def wait(self, check: Callable[[], Awaitable[bool]], timeout: float = 90.0) -> None:
        """Poll `check` until it holds; fail early with the log when the process died."""
        async def probe() -> bool:
            if not self.alive():
                raise RuntimeError(f"{self.name} exited ({self.proc.returncode}): {self.tail()}")
            with contextlib.suppress(Exception):
                return await check()
            return False
        await poll(probe, bool, timeout=timeout, interval=0.2, what=f"{self.name} ready")

    async def wait_http_ready(self, path: str = "/ready", timeout: float = 90.0) -> None:
        async with httpx.AsyncClient(timeout=2) as c:
            async def ok() -> bool:
                return (await c.get(self.url + path)).status_code == 200
            await self.wait(ok, timeout)

    async def _sample(self) -> None:
        loop = asyncio.get_running_loop()
        with contextlib.suppress(psutil.Error, asyncio.CancelledError):
            p = psutil.Process(self.proc.pid)
            while self.alive():
                rss = p.memory_info().rss
                self.rss_peak = max(self.rss_peak, rss)
                self.rss_series.append((loop.time(), rss))
                await asyncio.sleep(0.25)  # sampling cadence, not synchronisation

    def reset_peak(self) -> None:
        self.rss_peak, self.rss_series = 0, []

    async def stop(self, timeout: float = 20.0) -> None:
        if self._sampler:
            self._sampler.cancel()
        for peaks in (PEAKS, SCENARIO_PEAKS):
            peaks[self.name] = max(peaks.get(self.name, 0), self.rss_peak)
        if not self.alive():
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            await asyncio.to_thread(self.proc.wait, timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            await asyncio.to_thread(self.proc.wait, 5)


def service_proc(name: str, env: dict[str, str], extra: dict[str, str] | None = None) -> Proc:
    """A service process (python -m services.<pkg>) on a free port with the slice's environment."""
    module, port_var, needed = SERVICES[name]
    port = free_port()
    full = {**env, **needed, **(extra or {}), port_var: str(port),
            "ALERT_INGEST_ALERTMANAGER_TOKEN": RECEIVER_TOKEN, "ALERT_INGEST_RECEIVER_TOKEN": RECEIVER_TOKEN}
    return Proc(name, [sys.executable, "-m", module], full, port)


def relay_proc(bootstrap: str, source: str, target: str, group: str) -> tuple[Proc, Path]:
    """The baseline relay as a process; ready when its ready file exists."""
    ready = STATE / "tmp" / f"{group}.ready"
    ready.parent.mkdir(parents=True, exist_ok=True)
    ready.unlink(missing_ok=True)
    argv = [sys.executable, "-m", "bench.baseline", "--bootstrap", bootstrap, "--source", source,
            "--target", target, "--group", group, "--ready-file", str(ready)]
    return Proc(f"relay-{group}", argv, {"PYTHONUNBUFFERED": "1"}), ready
