"""Zendesk Tickets API adapter: one public comment per request, or update_many jobs for large fan-outs.

API-token basic auth ("{email}/token:{api_token}"), a client-side rate limit, and 429 Retry-After honoured
for the whole client (Zendesk's limits are per account, not per ticket).
"""

from __future__ import annotations

import asyncio
import time

import httpx
from prometheus_client import Counter

from .domain.retry import Outcome, classify_status

REQUESTS = Counter("notifier_zendesk_requests_total", "Requests to the Zendesk API", ["endpoint", "status"])


class RateLimiter:
    """Spaces requests evenly: at most `per_minute`, and none before a server-imposed pause ends."""

    def __init__(self, per_minute: int) -> None:
        self._interval = 60.0 / per_minute if per_minute > 0 else 0.0
        self._next = 0.0
        self._lock = asyncio.Lock()

    def pause_for(self, seconds: float) -> None:
        self._next = max(self._next, time.monotonic() + seconds)

    async def wait(self) -> None:
        async with self._lock:
            delay = self._next - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            self._next = max(self._next, time.monotonic()) + self._interval


def _retry_after(resp: httpx.Response) -> float | None:
    try:
        return float(resp.headers["Retry-After"])
    except (KeyError, ValueError):
        return None


class ZendeskClient:
    def __init__(self, base_url: str, email: str, api_token: str, *, per_minute: int, timeout_s: float,
                 job_poll_s: float, job_timeout_s: float) -> None:
        self._http = httpx.AsyncClient(base_url=base_url.rstrip("/"), auth=(f"{email}/token", api_token),
                                       timeout=timeout_s, follow_redirects=False)
        self.limiter = RateLimiter(per_minute)
        self._job_poll = job_poll_s
        self._job_timeout = job_timeout_s

    async def close(self) -> None:
        await self._http.aclose()

    async def _request(self, endpoint: str, method: str, url: str, **kw: object) -> httpx.Response | Outcome:
        await self.limiter.wait()
        try:
            resp = await self._http.request(method, url, **kw)  # type: ignore[arg-type]
        except (httpx.ConnectTimeout, httpx.ConnectError, httpx.PoolTimeout) as exc:
            REQUESTS.labels(endpoint, "error").inc()  # nothing reached Zendesk: safe to resend
            return Outcome(False, f"connect: {type(exc).__name__}")
        except httpx.HTTPError as exc:
            # sent but no answer: Zendesk may have applied it, so the retry checks the ticket first
            REQUESTS.labels(endpoint, "timeout" if isinstance(exc, httpx.TimeoutException) else "error").inc()
            return Outcome(False, f"no answer: {type(exc).__name__}", uncertain=method != "GET")
        REQUESTS.labels(endpoint, str(resp.status_code)).inc()
        if resp.status_code == 429:
            after = _retry_after(resp) or 60.0
            self.limiter.pause_for(after)
            return Outcome(False, "429 rate limited", retry_after=after)
        ok, retryable = classify_status(resp.status_code)
        if not ok:
            return Outcome(False, f"HTTP {resp.status_code}: {resp.text[:200]}", retryable=retryable,
                           retry_after=_retry_after(resp))
        return resp

    @staticmethod
    def _comment(body: str) -> dict[str, object]:
        return {"ticket": {"comment": {"body": body, "public": True}}}

    async def comment(self, ticket_id: str, body: str) -> Outcome:
        """Add a public comment to one ticket."""
        res = await self._request("ticket", "PUT", f"/api/v2/tickets/{ticket_id}.json", json=self._comment(body))
        return res if isinstance(res, Outcome) else Outcome(True, ref=str(res.status_code))

    async def has_comment(self, ticket_id: str, body: str) -> bool | Outcome:
        """Whether the ticket's most recent comments include `body` (to verify an uncertain earlier attempt)."""
        res = await self._request("comments", "GET", f"/api/v2/tickets/{ticket_id}/comments.json",
                                  params={"sort_order": "desc", "per_page": "100"})
        if isinstance(res, Outcome):
            return res
        want = body.strip()
        return any(want in ((c.get("body") or "").strip(), (c.get("plain_body") or "").strip())
                   for c in res.json().get("comments", []))

    async def verified_comment(self, ticket_id: str, body: str) -> Outcome:
        """Comment unless an earlier, uncertain attempt already did (checked on the ticket first)."""
        found = await self.has_comment(ticket_id, body)
        if isinstance(found, Outcome):
            return found
        if found:
            return Outcome(True, ref="verified")
        return await self.comment(ticket_id, body)

    async def bulk_comment(self, ticket_ids: list[str], body: str) -> dict[str, Outcome] | Outcome:
        """One update_many job (<= 100 tickets) followed to completion: an outcome per ticket, or one outcome
        for the whole job when it could not be submitted (nothing was applied then)."""
        res = await self._request("update_many", "PUT", "/api/v2/tickets/update_many.json",
                                  params={"ids": ",".join(ticket_ids)}, json=self._comment(body))
        if isinstance(res, Outcome):
            return res
        job = res.json().get("job_status", {})
        job_id = str(job.get("id", ""))
        deadline = time.monotonic() + self._job_timeout
        while job.get("status") not in ("completed", "failed", "killed"):
            if time.monotonic() > deadline:
                # the job may still apply: the retry checks each ticket before commenting again
                return {t: Outcome(False, f"job {job_id} not finished in time", ref=job_id, uncertain=True)
                        for t in ticket_ids}
            await asyncio.sleep(self._job_poll)
            polled = await self._request("job_status", "GET", f"/api/v2/job_statuses/{job_id}.json")
            if isinstance(polled, httpx.Response):
                job = polled.json().get("job_status", {})
        return self._job_results(job, job_id, ticket_ids)

    @staticmethod
    def _job_results(job: dict, job_id: str, ticket_ids: list[str]) -> dict[str, Outcome]:
        by_id = {str(r.get("id")): r for r in job.get("results") or []}
        out: dict[str, Outcome] = {}
        for t in ticket_ids:
            r = by_id.get(t)
            if job.get("status") == "completed" and r is not None and r.get("success", r.get("status") == "Updated"):
                out[t] = Outcome(True, ref=job_id)
            elif r is not None:
                out[t] = Outcome(False, f"job {job_id}: {r.get('error') or r.get('details') or r}", retryable=True,
                                 ref=job_id)
            else:
                # no per-ticket result: whether it was applied is unknown, so the retry checks the ticket first
                out[t] = Outcome(False, f"job {job_id} {job.get('status')}: {job.get('message', '')}",
                                 ref=job_id, uncertain=True)
        return out
