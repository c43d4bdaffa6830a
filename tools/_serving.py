"""Run a small ASGI app under uvicorn on loopback, in the caller's event loop (tests) or as a process."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator
from typing import Any

import uvicorn


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class _QuietServer(uvicorn.Server):
    """Leaves signal handling to the host process (pytest, the service under test)."""

    @contextlib.contextmanager
    def capture_signals(self):  # type: ignore[override]
        yield


@contextlib.asynccontextmanager
async def serving(app: Any, port: int | None = None, host: str = "127.0.0.1") -> AsyncIterator[str]:
    """Serve `app` in this loop until the block ends; yields its base URL."""
    port = port or free_port()
    server = _QuietServer(uvicorn.Config(app, host=host, port=port, log_level="warning", lifespan="off"))
    task = asyncio.create_task(server.serve())
    try:
        while not server.started:
            if task.done():
                task.result()
            await asyncio.sleep(0.02)
        yield f"http://{host}:{port}"
    finally:
        server.should_exit = True
        await asyncio.gather(task, return_exceptions=True)
