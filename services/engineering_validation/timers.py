"""Durable timers: a background task fires due timers (validation delay, escalation, auto-resolve).

Each timer is fired in its own transaction: the product lock first (the same order every writer uses), then
the timer row with FOR UPDATE SKIP LOCKED, deleted with its effect. With several instances each timer fires
exactly once; timers live in the database, so they survive restarts.
"""

from __future__ import annotations

import asyncio

import asyncpg
import structlog

from shared.contracts import utcnow
from shared.service import ServiceRuntime

from . import store
from .metrics import TIMERS_FIRED
from .service import Validation

log = structlog.get_logger(__name__)
PRUNE_EVERY_S = 60.0



class TimerRunner:
    def __init__(self, runtime: ServiceRuntime, validation: Validation, interval_s: float) -> None:
        self.runtime = runtime
        self.v = validation
        self.interval = interval_s

    async def run(self) -> None:
        """Fire due timers until cancelled; a failed pass is retried on the next tick. Prunes once a minute."""
        loop = asyncio.get_running_loop()
        next_prune = loop.time()
        while True:
            try:
                fired = await self.fire_due()
                if loop.time() >= next_prune:
                    next_prune = loop.time() + PRUNE_EVERY_S
                    await store.prune(self.runtime.pool, utcnow(), ticket_window_s=self.v.s.ticket_window_s)
            except (OSError, asyncpg.PostgresError) as exc:
                log.warning("timer pass failed; retrying", error=repr(exc))
                fired = 0
            if not fired:
                await asyncio.sleep(self.interval)

    async def fire_due(self) -> int:
        """Fire every timer due now; returns how many fired here."""
        fired = 0
        for t in await store.due_timers(self.runtime.pool, utcnow()):
            async with self.runtime.pool.acquire() as conn, conn.transaction():
                await store.lock_products(conn, [t["product"]])
                now = utcnow()
                if not await store.claim_timer(conn, t["kind"], t["subject"], now):
                    continue  # another instance fired it, or it was cancelled or moved
                await self._dispatch(conn, t["kind"], t["subject"], t["product"], now)
            TIMERS_FIRED.labels(t["kind"]).inc()
            fired += 1
        return fired

    async def _dispatch(self, conn: asyncpg.Connection, kind: str, subject: str, product: str, now) -> None:
        log.info("timer fired", kind=kind, subject=subject)
        if kind == "evaluate":
            await self.v.evaluate_product(conn, product, now)
        elif kind == "escalate":
            await self.v.escalate(conn, subject, now)
        elif kind == "auto_resolve":
            await self.v.auto_resolve(conn, subject, now)
        else:
            log.warning("unknown timer kind", kind=kind)
