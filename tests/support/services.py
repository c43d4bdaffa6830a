"""Run a service for a test: in-process (its FastAPI app with lifespan, an httpx client on it) or as a
separate process (python -m services.<pkg>, as in production)."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import subprocess
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from fastapi import FastAPI

ROOT = Path(__file__).resolve().parents[2]


@dataclass
class RunningApp:
    app: FastAPI
    client: httpx.AsyncClient

    @property
    def runtime(self) -> Any:
        return self.app.state.runtime

    @property
    def pool(self) -> Any:
        return self.app.state.pool


@contextlib.asynccontextmanager
async def run_in_process(app: FastAPI, *, ready_timeout: float = 60.0) -> AsyncIterator[RunningApp]:
    """Start the app's lifespan in this event loop and give an httpx client bound to it."""
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            loop = asyncio.get_running_loop()
            deadline = loop.time() + ready_timeout
            while (await client.get("/ready")).status_code != 200:
                if loop.time() > deadline:
                    raise AssertionError(f"service not ready: {(await client.get('/ready')).text}")
                await asyncio.sleep(0.1)
            # consumers have joined their groups once partitions are assigned
            yield RunningApp(app, client)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class ServiceProcess:
    module: str
    port: int
    env: dict[str, str]
    log_path: Path
    proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        log = open(self.log_path, "ab")
        self.proc = subprocess.Popen([sys.executable, "-m", self.module], cwd=ROOT, stdout=log,
                                     stderr=subprocess.STDOUT, env={**os.environ, **self.env})

    async def wait_ready(self, timeout: float = 60.0) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        async with httpx.AsyncClient() as c:
            while True:
                assert self.proc is not None
                if self.proc.poll() is not None:
                    raise AssertionError(f"{self.module} exited with {self.proc.returncode}:\n"
                                         f"{self.log_path.read_text()[-3000:]}")
                with contextlib.suppress(httpx.HTTPError):
                    if (await c.get(f"{self.url}/ready", timeout=2)).status_code == 200:
                        return
                if loop.time() > deadline:
                    raise AssertionError(f"{self.module} not ready in {timeout}s:\n{self.log_path.read_text()[-3000:]}")
                await asyncio.sleep(0.2)

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 30.0) -> int | None:
        if self.proc is None or self.proc.poll() is not None:
            return self.proc.returncode if self.proc else None
        self.proc.send_signal(sig)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            return self.proc.wait(5)

    def kill(self) -> None:
        self.stop(signal.SIGKILL, timeout=10)
