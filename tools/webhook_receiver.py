"""A webhook receiver on loopback: records every delivery and verifies its Standard Webhooks signature.

    python -m tools.webhook_receiver --port 8091 --secret whsec_...

POST /{any path} records the delivery (verified or not: a bad signature is answered 401 and recorded).
GET /_deliveries lists them; POST /_redirect?to=URL answers 307 to URL;
POST /_fail {"status": 503, "count": N} fails the next N; POST /_reset.
In tests: `async with WebhookReceiver(secret).serve() as url:` and read `.deliveries`.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import orjson
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from ._serving import serving


class WebhookReceiver:
    def __init__(self, secret: str) -> None:
        self._verifier = Webhook(secret)
        self.deliveries: list[dict[str, Any]] = []
        self._failures: list[int] = []
        self.app = self._build()

    def fail_next(self, status: int, count: int = 1) -> None:
        self._failures += [status] * count

    def accepted(self, path: str | None = None) -> list[dict[str, Any]]:
        """Deliveries with a valid signature that were answered 2xx (optionally to one path), in order."""
        return [d for d in self.deliveries
                if d["verified"] and d["status"] < 400 and (path is None or d["path"] == path)]

    def _build(self) -> FastAPI:
        app = FastAPI(title="Webhook receiver")

        @app.get("/_deliveries")
        async def deliveries() -> list[dict[str, Any]]:
            return self.deliveries

        @app.post("/_fail")
        async def fail(spec: dict[str, Any]) -> dict[str, int]:
            self.fail_next(int(spec.get("status", 500)), int(spec.get("count", 1)))
            return {"queued_failures": len(self._failures)}

        @app.post("/_reset")
        async def reset() -> dict[str, str]:
            self.deliveries.clear()
            self._failures.clear()
            return {"status": "reset"}

        @app.post("/_redirect")
        async def redirect(to: str) -> Response:
            """Answer 307 to `to` (tests that redirects are only followed to allowed addresses)."""
            self.deliveries.append({"path": "/_redirect", "to": to, "verified": False, "status": 307,
                                    "at": time.time(), "webhook_id": None})
            return Response(status_code=307, headers={"Location": to})

        @app.post("/{path:path}")
        async def receive(path: str, request: Request) -> Response:
            body = await request.body()
            headers = dict(request.headers)
            record: dict[str, Any] = {"path": "/" + path, "webhook_id": headers.get("webhook-id"),
                                      "host": headers.get("host"),
                                      "at": time.time(), "verified": False, "error": None, "status": 204}
            try:
                record["body"] = self._verifier.verify(body, headers)
                record["verified"] = True
            except WebhookVerificationError as exc:
                record["error"] = str(exc)
                record["body"] = orjson.loads(body) if body.startswith(b"{") else body.decode(errors="replace")
                record["status"] = 401
            if record["verified"] and self._failures:
                record["status"] = self._failures.pop(0)
            self.deliveries.append(record)
            if record["status"] >= 400:
                return JSONResponse({"error": record["error"] or "receiver told to fail"},
                                    status_code=record["status"])
            return Response(status_code=204)

        return app

    @asynccontextmanager
    async def serve(self, port: int | None = None) -> AsyncIterator[str]:
        async with serving(self.app, port) as url:
            yield url


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--port", type=int, default=8091)
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--secret", required=True, help="Standard Webhooks secret (whsec_...)")
    a = p.parse_args()
    import uvicorn

    uvicorn.run(WebhookReceiver(a.secret).app, host=a.host, port=a.port, log_level="warning")


if __name__ == "__main__":
    main()
