"""Background senders: one work queue per target (Zendesk, each webhook subscription, each team webhook).

Each pass claims due deliveries of its target (FOR UPDATE SKIP LOCKED, with a lease, committed before any
request), sends them, and records the outcome. A failing or slow target only delays its own queue. A pass
in progress finishes even when the service stops, so a graceful stop never leaves a delivery half-sent; after
a hard crash the lease runs out and the delivery is retried, a Zendesk comment only after checking the ticket.
"""

from __future__ import annotations

import asyncio
import random
from collections import defaultdict
from collections.abc import Awaitable, Callable

import asyncpg
import structlog
from prometheus_client import Counter, Histogram

from . import store
from .store import Result
from .domain.retry import Outcome, next_step
from .settings import Settings
from .webhooks import WebhookClient
from .zendesk import ZendeskClient

log = structlog.get_logger(__name__)

DELIVERIES = Counter("notifier_deliveries_total", "Delivery attempts by outcome", ["channel", "outcome"])
DEAD = Counter("notifier_dead_deliveries_total", "Deliveries given up on (dead)", ["channel", "target"])
SEND_SECONDS = Histogram("notifier_send_seconds", "Time of one sender pass", ["channel"])



class Sender:
    def __init__(self, pool: asyncpg.Pool, settings: Settings, *, instance: str,
                 zendesk: ZendeskClient, webhooks: WebhookClient) -> None:
        self.pool = pool
        self.s = settings
        self.instance = instance
        self.zendesk = zendesk
        self.webhooks = webhooks
        self._rnd = random.Random()
        self._running = 0

    def targets(self) -> dict[str, Callable[[list[asyncpg.Record]], Awaitable[list[Result]]]]:
        """Every work queue and the function that sends one claimed batch of it."""
        out: dict[str, Callable[[list[asyncpg.Record]], Awaitable[list[Result]]]] = {"zendesk": self._zendesk}
        for sub in self.s.webhooks:
            out[f"webhook:{sub.name}"] = self._webhook_sender(sub.url, sub.secret.get_secret_value())
        for team, hook in self.s.team_webhooks.items():
            out[f"team:{team}"] = self._webhook_sender(hook.url, hook.secret.get_secret_value())
        return out

    async def run(self, target: str) -> None:
        """Serve one target's queue until cancelled."""
        send = self.targets()[target]
        self._running += 1
        try:
            while True:
                busy = await self.pass_once(target, send)
                if not busy:
                    await asyncio.sleep(self.s.sender_poll_interval_s)
        except asyncio.CancelledError:
            self._running -= 1
            if self._running == 0:  # the service stops: the last sender closes the shared HTTP clients
                await self.zendesk.close()
                await self.webhooks.close()
            raise
        except Exception:
            self._running -= 1  # restarted by the runtime, clients stay open
            raise

    async def pass_once(self, target: str, send: Callable[[list[asyncpg.Record]], Awaitable[list[Result]]]) -> bool:
        """Claim, send and record one batch; True if there was work."""
        async with self.pool.acquire() as conn, conn.transaction():
            retried, dead = await store.expire_interrupted(conn, target, self.s.max_attempts)
            if retried or dead:
                log.warning("interrupted deliveries recovered", target=target, retried=retried, dead=dead)
                DEAD.labels(target.split(":")[0], target).inc(dead)
            rows = await store.claim(conn, target, self._claim_size(target), self.s.send_lease_s, self.instance)
        if not rows:
            return False
        # shielded: cancellation (service stop) waits for the batch to be sent and recorded
        work = asyncio.ensure_future(self._send_and_record(target, rows, send))
        try:
            await asyncio.shield(work)
        except asyncio.CancelledError:
            await work
            raise
        return True

    async def _send_and_record(self, target: str, rows: list[asyncpg.Record],
                               send: Callable[[list[asyncpg.Record]], Awaitable[list[Result]]]) -> None:
        channel = "zendesk" if target == "zendesk" else "webhook"
        renew = asyncio.create_task(self._keep_lease([r["id"] for r in rows]))
        try:
            with SEND_SECONDS.labels(channel).time():
                results = await send(rows)
        finally:
            renew.cancel()
            await asyncio.gather(renew, return_exceptions=True)
        async with self.pool.acquire() as conn:
            await store.finish(conn, results)
        for _, status, _, err, _, refund, _ in results:
            if refund:
                continue
            DELIVERIES.labels(channel, status).inc()
            if status == "dead":
                DEAD.labels(channel, target).inc()
                log.warning("delivery dead", target=target, error=err)

    async def _keep_lease(self, ids: list[int]) -> None:
        """Extend the lease while a long pass (slow jobs, rate limit pauses) is still working on its rows."""
        while True:
            await asyncio.sleep(self.s.send_lease_s / 3)
            async with self.pool.acquire() as conn:
                await store.renew_lease(conn, ids, self.s.send_lease_s, self.instance)

    def _claim_size(self, target: str) -> int:
        """No more than the rate limit lets us send in half a lease, so a claim never outlives its lease."""
        if target != "zendesk" or self.s.zendesk_rate_limit_per_minute <= 0:
            return self.s.sender_batch
        per_lease = self.s.zendesk_rate_limit_per_minute * self.s.send_lease_s / 60 / 2
        return max(1, min(self.s.sender_batch, int(per_lease)))

    def _result(self, row: asyncpg.Record, outcome: Outcome) -> Result:
        status, delay = next_step(outcome, row["attempts"], max_attempts=self.s.max_attempts,
                                  base_s=self.s.backoff_base_s, max_s=self.s.backoff_max_s, rnd=self._rnd)
        return (row["id"], status, delay, outcome.error or None, outcome.ref, 0, outcome.uncertain)

    # --- Zendesk ------------------------------------------------------------------------------------------

    async def _zendesk(self, rows: list[asyncpg.Record]) -> list[Result]:
        """Same comment to many tickets: update_many jobs of up to 100; the rest one by one. When Zendesk
        itself fails (5xx, 429, no connection), the rest of the batch waits untouched instead of hammering it."""
        by_body: dict[str, list[asyncpg.Record]] = defaultdict(list)
        units: list[tuple[str, list[asyncpg.Record], str]] = []  # (verify | single | bulk, rows, body)
        for r in rows:
            if r["verify_first"]:  # an earlier attempt may have landed: check the ticket, then comment
                units.append(("verify", [r], r["body"]))
            else:
                by_body[r["body"]].append(r)
        for body, group in by_body.items():
            if len(group) >= self.s.zendesk_bulk_min:
                size = self.s.zendesk_bulk_size
                units += [("bulk", group[i:i + size], body) for i in range(0, len(group), size)]
            else:
                units += [("single", [r], body) for r in group]
        results: list[Result] = []
        n = 0
        while n < len(units):
            wave = self._wave(units, n)
            # bulk jobs of one wave run side by side: a 10,000-ticket fan-out is not 100 jobs one after another
            outcomes = await asyncio.gather(*(self._zendesk_unit(how, unit, body) for how, unit, body in wave))
            n += len(wave)
            delay: float | None = None
            for (_, unit, _), outcome in zip(wave, outcomes, strict=True):
                if isinstance(outcome, Outcome):
                    results += [self._result(r, outcome) for r in unit]
                    if not outcome.ok and outcome.retryable:
                        delay = results[-1][2]
                else:
                    results += [self._result(r, outcome[r["ticket_id"]]) for r in unit]
            if delay is not None:  # Zendesk itself is failing: the rest waits untouched
                results += [_put_back(r, delay) for _, rest, _ in units[n:] for r in rest]
                break
        return results

    def _wave(self, units: list[tuple[str, list[asyncpg.Record], str]], start: int
              ) -> list[tuple[str, list[asyncpg.Record], str]]:
        """The next units to send together: consecutive bulk jobs up to the concurrency, else one unit."""
        if units[start][0] != "bulk":
            return [units[start]]
        wave = []
        for unit in units[start:start + max(1, self.s.zendesk_bulk_concurrency)]:
            if unit[0] != "bulk":
                break
            wave.append(unit)
        return wave

    async def _zendesk_unit(self, how: str, unit: list[asyncpg.Record], body: str) -> Outcome | dict[str, Outcome]:
        if how == "bulk":
            return await self.zendesk.bulk_comment([r["ticket_id"] for r in unit], body)
        if how == "verify":
            return await self.zendesk.verified_comment(unit[0]["ticket_id"], body)
        return await self.zendesk.comment(unit[0]["ticket_id"], body)

    # --- webhooks -----------------------------------------------------------------------------------------

    def _webhook_sender(self, url: str, secret: str) -> Callable[[list[asyncpg.Record]], Awaitable[list[Result]]]:
        async def send(rows: list[asyncpg.Record]) -> list[Result]:
            results: list[Result] = []
            for i, r in enumerate(rows):
                outcome = await self.webhooks.post(url, secret, r["idempotency_key"], bytes(r["payload"] or b"{}"))
                results.append(self._result(r, outcome))
                if not outcome.ok and outcome.retryable:
                    # the target is failing: put the rest back untouched (no attempt spent) after the same pause
                    delay = results[-1][2]
                    results += [_put_back(x, delay) for x in rows[i + 1:]]
                    break
            return results
        return send


def _put_back(row: asyncpg.Record, delay: float) -> Result:
    """Back to pending after `delay`, the attempt refunded: the target failed, not this delivery."""
    return (row["id"], "pending", delay, None, None, 1, False)
