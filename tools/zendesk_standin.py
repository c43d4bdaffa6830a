"""A stand-in for Zendesk's Tickets API on loopback: answers like Zendesk for the endpoints the notifier uses,
checks API-token basic auth, records every request, and can be told to fail the next N requests.

    python -m tools.zendesk_standin --port 8090 [--email E --token T]

Endpoints (Zendesk): PUT /api/v2/tickets/{id}.json, PUT /api/v2/tickets/update_many.json?ids=1,2,
GET /api/v2/job_statuses/{id}.json, GET /api/v2/tickets/{id}/comments.json. Control (stand-in only): GET /_requests, GET /_tickets/{id}/comments,
GET /_comments, POST /_fail {"status": 429|500|..., "count": N, "retry_after": s}, POST /_delay {"seconds": s, "count": N}
(apply, then answer late), POST /_reset.
In tests: `async with ZendeskStandIn(...).serve() as url:` and read `.comments` / `.requests` directly.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import itertools
import time
from collections import defaultdict
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from ._serving import serving


class ZendeskStandIn:
    """State and behaviour of the stand-in; `.app` is the ASGI app."""

    def __init__(self, *, email: str = "notifier@example.com", token: str = "test-token",
                 job_polls: int = 1) -> None:
        self.email, self.token = email, token
        self.job_polls = job_polls  # job status GETs answered 'working' before 'completed'
        self.requests: list[dict[str, Any]] = []
        self.comments: dict[str, list[dict[str, Any]]] = defaultdict(list)
        self.jobs: dict[str, dict[str, Any]] = {}
        self._failures: list[tuple[int, float | None]] = []
        self._delays: list[float] = []
        self._ids = itertools.count(1)
        self.app = self._build()

    # --- control ------------------------------------------------------------------------------------------

    def fail_next(self, status: int, count: int = 1, retry_after: float | None = None) -> None:
        """Answer the next `count` API requests with `status` (429 carries Retry-After)."""
        self._failures += [(status, retry_after)] * count

    def delay_next(self, seconds: float, count: int = 1) -> None:
        """Apply the next `count` updates, then answer only after `seconds` (the client times out: a lost answer)."""
        self._delays += [seconds] * count

    async def _maybe_delay(self) -> None:
        if self._delays:
            await asyncio.sleep(self._delays.pop(0))

    def reset(self) -> None:
        self.requests.clear()
        self.comments.clear()
        self.jobs.clear()
        self._failures.clear()
        self._delays.clear()

    def bodies(self, ticket_id: str) -> list[str]:
        return [c["body"] for c in self.comments.get(str(ticket_id), [])]

    # --- behaviour ----------------------------------------------------------------------------------------

    def _authorised(self, request: Request) -> bool:
        expected = base64.b64encode(f"{self.email}/token:{self.token}".encode()).decode()
        return request.headers.get("authorization", "") == f"Basic {expected}"

    def _add_comment(self, ticket_id: str, comment: dict[str, Any], via: str) -> None:
        self.comments[ticket_id].append({"body": comment.get("body", ""), "public": comment.get("public", True),
                                         "via": via, "at": time.time()})

    async def _gate(self, request: Request) -> JSONResponse | None:
        body = await request.body()
        self.requests.append({"method": request.method, "path": request.url.path,
                              "query": str(request.url.query), "body": body.decode(errors="replace"),
                              "at": time.time()})
        if not self._authorised(request):
            return JSONResponse({"error": "Couldn't authenticate you"}, status_code=401)
        if self._failures:
            status, after = self._failures.pop(0)
            headers = {"Retry-After": str(int(after if after is not None else 1))} if status == 429 else {}
            return JSONResponse({"error": "stand-in failure", "status": status}, status_code=status,
                                headers=headers)
        return None

    def _build(self) -> FastAPI:
        app = FastAPI(title="Zendesk stand-in")

        @app.put("/api/v2/tickets/update_many.json")
        async def update_many(request: Request, ids: str = "") -> JSONResponse:
            if (fail := await self._gate(request)) is not None:
                return fail
            ticket_ids = [t for t in ids.split(",") if t]
            if not ticket_ids or len(ticket_ids) > 100:
                return JSONResponse({"error": "InvalidValue", "description": "1 to 100 ids"}, status_code=400)
            comment = (await request.json()).get("ticket", {}).get("comment", {})
            job_id = f"job{next(self._ids)}"
            for t in ticket_ids:  # Zendesk applies asynchronously; the effect is visible by completion
                self._add_comment(t, comment, via=job_id)
            self.jobs[job_id] = {"id": job_id, "status": "queued", "polls": 0, "total": len(ticket_ids),
                                 "results": [{"id": int(t) if t.isdigit() else t, "action": "update",
                                              "status": "Updated", "success": True} for t in ticket_ids]}
            await self._maybe_delay()
            return JSONResponse({"job_status": self._job_view(job_id)})

        @app.get("/api/v2/job_statuses/{job_id}.json")
        async def job_status(job_id: str, request: Request) -> JSONResponse:
            if (fail := await self._gate(request)) is not None:
                return fail
            job = self.jobs.get(job_id)
            if job is None:
                return JSONResponse({"error": "RecordNotFound"}, status_code=404)
            job["polls"] += 1
            job["status"] = "completed" if job["polls"] > self.job_polls else "working"
            return JSONResponse({"job_status": self._job_view(job_id)})

        @app.put("/api/v2/tickets/{ticket_id}.json")
        async def update_ticket(ticket_id: str, request: Request) -> JSONResponse:
            if (fail := await self._gate(request)) is not None:
                return fail
            comment = (await request.json()).get("ticket", {}).get("comment", {})
            self._add_comment(ticket_id, comment, via="api")
            await self._maybe_delay()
            return JSONResponse({"ticket": {"id": int(ticket_id) if ticket_id.isdigit() else ticket_id,
                                            "status": "open"}, "audit": {"events": [{"type": "Comment"}]}})

        @app.get("/api/v2/tickets/{ticket_id}/comments.json")
        async def list_comments(ticket_id: str, request: Request, sort_order: str = "asc") -> JSONResponse:
            if (fail := await self._gate(request)) is not None:
                return fail
            items = [{"id": i + 1, "type": "Comment", "body": c["body"], "plain_body": c["body"],
                      "public": c["public"], "created_at": c["at"]} for i, c in enumerate(self.comments[ticket_id])]
            if sort_order == "desc":
                items.reverse()
            return JSONResponse({"comments": items[:100], "count": len(items), "next_page": None})

        @app.get("/_requests")
        async def requests() -> list[dict[str, Any]]:
            return self.requests

        @app.get("/_comments")
        async def comments() -> dict[str, list[dict[str, Any]]]:
            return self.comments

        @app.get("/_tickets/{ticket_id}/comments")
        async def ticket_comments(ticket_id: str) -> list[dict[str, Any]]:
            return self.comments.get(ticket_id, [])

        @app.post("/_fail")
        async def fail(spec: dict[str, Any]) -> dict[str, int]:
            self.fail_next(int(spec.get("status", 500)), int(spec.get("count", 1)), spec.get("retry_after"))
            return {"queued_failures": len(self._failures)}

        @app.post("/_delay")
        async def delay(spec: dict[str, Any]) -> dict[str, int]:
            self.delay_next(float(spec.get("seconds", 5)), int(spec.get("count", 1)))
            return {"queued_delays": len(self._delays)}

        @app.post("/_reset")
        async def reset() -> dict[str, str]:
            self.reset()
            return {"status": "reset"}

        return app

    def _job_view(self, job_id: str) -> dict[str, Any]:
        job = self.jobs[job_id]
        view = {"id": job_id, "status": job["status"], "total": job["total"],
                "url": f"/api/v2/job_statuses/{job_id}.json", "progress": 0, "results": None}
        if job["status"] == "completed":
            view.update(progress=job["total"], results=job["results"])
        return view

    @asynccontextmanager
    async def serve(self, port: int | None = None) -> AsyncIterator[str]:
        """Serve on loopback in this event loop; yields the base URL."""
        async with serving(self.app, port) as url:
            yield url


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--port", type=int, default=8090)
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--email", default="notifier@example.com")
    p.add_argument("--token", default="test-token")
    p.add_argument("--job-polls", type=int, default=1)
    a = p.parse_args()
    import uvicorn

    uvicorn.run(ZendeskStandIn(email=a.email, token=a.token, job_polls=a.job_polls).app, host=a.host,
                port=a.port, log_level="warning")


if __name__ == "__main__":
    main()
