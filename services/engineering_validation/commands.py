"""Engineer commands from the API, each one transaction under the product lock, with team checks."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any

import asyncpg

from shared.auth import Principal
from shared.service import ServiceRuntime
from shared.contracts import Decider, IncidentStatus, Severity, Signal, utcnow

from . import incident_ops as ops
from . import incident_store as inc
from . import store
from .domain.incidents import TransitionError, check_merge, check_status_change
from .domain.model import Decision, Silence
from .errors import Conflict, Forbidden, NotFound
from .service import Validation


def _may(principal: Principal, team: str) -> None:
    if not principal.may_act_for(team):
        raise Forbidden(f"token of team {principal.team!r} may not act for {team!r}")


class Commands:
    def __init__(self, runtime: ServiceRuntime, validation: Validation) -> None:
        self.runtime = runtime
        self.v = validation

    @property
    def pool(self) -> asyncpg.Pool:
        return self.runtime.pool

    @contextlib.asynccontextmanager
    async def _tx(self, products: list[str]) -> AsyncIterator[tuple[asyncpg.Connection, datetime]]:
        async with self.pool.acquire() as conn, conn.transaction():
            await store.lock_products(conn, products)
            yield conn, utcnow()

    async def _candidate(self, candidate_id: str, principal: Principal) -> asyncpg.Record:
        row = await store.get_candidate(self.pool, candidate_id)
        if row is None:
            raise NotFound(f"no candidate {candidate_id}")
        _may(principal, row["team"])
        return row

    async def decide(self, candidate_id: str, principal: Principal, outcome: str, reason: str, *,
                     severity: Severity | None = None, title: str | None = None) -> dict[str, Any]:
        """An engineer confirms or dismisses a pending candidate."""
        row = await self._candidate(candidate_id, principal)
        async with self._tx([row["product"]]) as (conn, now):
            row = await store.get_candidate(conn, candidate_id)
            if row["status"] != "pending":
                raise Conflict(f"candidate {candidate_id} is already {row['status']}")
            cand = await store.candidate_view(conn, row)
            data = await self.v.decide(conn, cand, Decision(outcome, "engineer", reason),  # type: ignore[arg-type]
                                       Decider(kind="engineer", name=principal.name), now, severity=severity,
                                       title=title)
        return data.model_dump(mode="json")

    async def _incident(self, incident_id: str, principal: Principal) -> asyncpg.Record:
        row = await inc.get(self.pool, incident_id)
        if row is None:
            raise NotFound(f"no incident {incident_id}")
        _may(principal, row["team"])
        return row

    @contextlib.asynccontextmanager
    async def _open_incident(self, incident_id: str, principal: Principal
                             ) -> AsyncIterator[tuple[asyncpg.Connection, asyncpg.Record, datetime]]:
        first = await self._incident(incident_id, principal)
        async with self._tx([first["product"]]) as (conn, now):
            row = await inc.get(conn, incident_id, for_update=True)
            if row["status"] == IncidentStatus.RESOLVED or row["merged_into"]:
                raise Conflict(f"incident {incident_id} is closed")
            yield conn, row, now

    async def patch(self, incident_id: str, principal: Principal, *, severity: Severity | None,
                    status: IncidentStatus | None, title: str | None) -> None:
        async with self._open_incident(incident_id, principal) as (conn, row, now):
            if title and title != row["title"]:
                await inc.update(conn, incident_id, now, title=title)
                await inc.add_timeline(conn, incident_id, now, "title_changed", principal.name, title=title)
            if severity is not None:
                await ops.change_severity(conn, self.v.pub, row, severity, principal.name, now)
            if status is not None and status != row["status"]:
                try:
                    check_status_change(IncidentStatus(row["status"]), status)
                except TransitionError as exc:
                    raise Conflict(str(exc)) from exc
                await ops.change_status(conn, self.v.pub, row, status, principal.name, now)

    async def post_update(self, incident_id: str, principal: Principal, message: str,
                          status: IncidentStatus | None) -> str:
        async with self._open_incident(incident_id, principal) as (conn, row, now):
            update_id = ops.new_update_id()
            if status is not None and status != row["status"]:
                try:
                    check_status_change(IncidentStatus(row["status"]), status)
                except TransitionError as exc:
                    raise Conflict(str(exc)) from exc
                await ops.change_status(conn, self.v.pub, row, status, principal.name, now, update_id=update_id)
                row = await inc.get(conn, incident_id)
            return await ops.post_update(conn, self.v.pub, row, message, principal.name, now, update_id=update_id)

    async def resolve(self, incident_id: str, principal: Principal, message: str) -> None:
        async with self._open_incident(incident_id, principal) as (conn, row, now):
            await ops.resolve(conn, self.v.pub, row, message, principal.name, now)

    async def merge(self, incident_id: str, into: str, principal: Principal) -> dict[str, Any]:
        source = await self._incident(incident_id, principal)
        target = await self._incident(into, principal)
        async with self._tx([source["product"], target["product"]]) as (conn, now):
            source = await inc.get(conn, incident_id, for_update=True)
            target = await inc.get(conn, into, for_update=True)
            try:
                check_merge(inc.view(source), inc.view(target))
            except TransitionError as exc:
                raise Conflict(str(exc)) from exc
            data = await ops.merge(conn, self.v.pub, source, target, principal.name, now)
        return data.model_dump(mode="json")

    async def open(self, principal: Principal, *, product: str, title: str, severity: Severity,
                   signal: Signal | None, summary: str) -> str:
        """An engineer declares an incident directly (opened_from='engineer')."""
        team = self.v.team_for(product)
        _may(principal, team)
        incident_id = "INC-" + uuid.uuid4().hex[:12]
        async with self._tx([product]) as (conn, now):
            await ops.open_incident(conn, self.v.pub, id=incident_id, title=title, product=product, signal=signal,
                                    severity=severity, opened_from="engineer", team=team, summary=summary,
                                    actor=principal.name, now=now)
        return incident_id

    async def silence(self, principal: Principal, *, product: str, signal: Signal | None, mode: str,
                      starts_at: datetime | None, ends_at: datetime, reason: str) -> Silence:
        """Declare a maintenance window or silence, and apply it to the product's pending candidates at once."""
        _may(principal, self.v.team_for(product))
        s = Silence("SIL-" + uuid.uuid4().hex[:12], product, signal, mode,  # type: ignore[arg-type]
                    starts_at or utcnow(), ends_at, reason)
        async with self._tx([product]) as (conn, now):
            await store.add_silence(conn, s, principal.name)
            await self.v.evaluate_product(conn, product, now)
            if s.starts_at > now:  # a future window: look again when it starts
                for row in await store.pending_candidates(conn, product):
                    await store.schedule(conn, "evaluate", row["id"], product, s.starts_at)
        return s
