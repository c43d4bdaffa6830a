"""HTTP API for engineers (port 8082): validations, incidents, silences. Thin: bodies in, one command call."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

import orjson
from fastapi import APIRouter, Depends, FastAPI, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, model_validator

from shared.auth import ADMIN_SCOPE, Principal, ensure_team, require_principal
from shared.contracts import IncidentStatus, Severity, Signal, utcnow

from . import incident_store as inc
from . import store
from .commands import Commands
from .errors import Conflict, Forbidden, NotFound


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ConfirmBody(_Body):
    severity: Severity | None = Field(None, description="Override the proposed severity.")
    title: str | None = Field(None, min_length=1, max_length=512)
    reason: str = Field("confirmed by an engineer", min_length=1, max_length=2000)


class DismissBody(_Body):
    reason: str = Field(min_length=1, max_length=2000, examples=["known noisy check"])


class PatchBody(_Body):
    severity: Severity | None = None
    status: IncidentStatus | None = None
    title: str | None = Field(None, min_length=1, max_length=512)

    @model_validator(mode="after")
    def _something(self) -> PatchBody:
        if self.severity is None and self.status is None and self.title is None:
            raise ValueError("give at least one of severity, status, title")
        return self


class UpdateBody(_Body):
    message: str = Field(min_length=1, max_length=8192, description="Public text sent to every linked customer.")
    status: IncidentStatus | None = Field(None, description="Optionally move the incident to this status first.")


class ResolveBody(_Body):
    message: str = Field("", max_length=8192, description="Public resolution text.")


class MergeBody(_Body):
    into_incident_id: str = Field(pattern=r"^INC-[0-9a-z]+$", examples=["INC-0123456789ab"])


class OpenBody(_Body):
    product: str = Field(min_length=1, examples=["Chat"])
    title: str = Field(min_length=1, max_length=512)
    severity: Severity
    signal: Signal | None = None
    summary: str = Field("", max_length=4096)


class SilenceBody(_Body):
    product: str = Field(min_length=1, examples=["Chat"])
    signal: Signal | None = Field(None, description="Only this signal; all signals when absent.")
    mode: Literal["hold", "dismiss"] = Field("hold", description="hold: no automatic decision until the end; "
                                                                 "dismiss: dismiss matching candidates.")
    starts_at: datetime | None = Field(None, description="Default: now.")
    ends_at: datetime
    reason: str = Field("", max_length=2000)

    @model_validator(mode="after")
    def _order(self) -> SilenceBody:
        if self.starts_at is not None and self.ends_at <= self.starts_at:
            raise ValueError("ends_at must be after starts_at")
        return self


def install_error_handlers(app: FastAPI) -> None:
    """Map use-case errors to 404/403/409."""
    for exc_type, code in ((NotFound, 404), (Forbidden, 403), (Conflict, 409)):
        async def handler(_: Request, exc: Exception, code: int = code) -> JSONResponse:
            return JSONResponse({"detail": str(exc)}, status_code=code)
        app.add_exception_handler(exc_type, handler)


def _commands(request: Request) -> Commands:
    return request.app.state.commands


def router() -> APIRouter:
    r = APIRouter(prefix="/v1", tags=["engineers"])
    auth = Depends(require_principal)

    @r.get("/validations", summary="Candidates, by status and team")
    async def list_validations(request: Request, principal: Principal = auth,
                               status: Literal["pending", "confirmed", "dismissed"] | None = Query(None),
                               team: str | None = Query(None)) -> list[dict[str, Any]]:
        if team is not None:
            ensure_team(principal, team)
        elif principal.team != ADMIN_SCOPE:
            team = principal.team
        return await store.list_candidates(request.app.state.pool, status=status, team=team)

    @r.get("/validations/{candidate_id}", summary="One candidate with its alerts")
    async def get_validation(candidate_id: str, request: Request, principal: Principal = auth) -> dict[str, Any]:
        pool = request.app.state.pool
        row = await store.get_candidate(pool, candidate_id)
        if row is None:
            raise NotFound(f"no candidate {candidate_id}")
        ensure_team(principal, row["team"])
        alerts = await pool.fetch("SELECT * FROM alerts WHERE candidate_id=$1 ORDER BY fired_at", candidate_id)
        return {**dict(row), "alerts": [dict(a) for a in alerts]}

    @r.post("/validations/{candidate_id}/confirm", summary="Confirm a pending candidate (opens or joins an incident)")
    async def confirm(candidate_id: str, request: Request, body: ConfirmBody | None = None,
                      principal: Principal = auth) -> dict[str, Any]:
        body = body or ConfirmBody()
        return await _commands(request).decide(candidate_id, principal, "confirmed", body.reason,
                                               severity=body.severity, title=body.title)

    @r.post("/validations/{candidate_id}/dismiss", summary="Dismiss a pending candidate")
    async def dismiss(candidate_id: str, body: DismissBody, request: Request,
                      principal: Principal = auth) -> dict[str, Any]:
        return await _commands(request).decide(candidate_id, principal, "dismissed", body.reason)

    @r.get("/incidents", summary="Incidents (status=open: investigating, identified or monitoring)")
    async def list_incidents(request: Request, principal: Principal = auth,
                             status: Literal["open", "all", "investigating", "identified", "monitoring",
                                             "resolved"] = Query("open"),
                             product: str | None = Query(None), team: str | None = Query(None)
                             ) -> list[dict[str, Any]]:
        if team is not None:
            ensure_team(principal, team)
        elif principal.team != ADMIN_SCOPE:
            team = principal.team  # a team token sees its own team's incidents (tickets carry customer data)
        return await inc.listing(request.app.state.pool, open_only=status == "open",
                                 status=None if status in ("open", "all") else status, product=product, team=team)

    @r.post("/incidents", status_code=201, summary="Declare an incident directly (opened_from=engineer)")
    async def open_incident(body: OpenBody, request: Request, principal: Principal = auth) -> dict[str, str]:
        incident_id = await _commands(request).open(principal, product=body.product, title=body.title,
                                                    severity=body.severity, signal=body.signal, summary=body.summary)
        return {"incident_id": incident_id}

    @r.get("/incidents/{incident_id}", summary="One incident with its alerts, linked tickets and timeline")
    async def get_incident(incident_id: str, request: Request, principal: Principal = auth) -> dict[str, Any]:
        pool = request.app.state.pool
        row = await inc.get(pool, incident_id)
        if row is None:
            raise NotFound(f"no incident {incident_id}")
        ensure_team(principal, row["team"])
        return {**dict(row), "alerts": [dict(a) for a in await inc.alerts(pool, incident_id)],
                "tickets": [{**dict(t), "ticket": orjson.loads(t["ticket"])}
                            for t in await inc.tickets(pool, incident_id)],
                "timeline": [{**dict(t), "detail": orjson.loads(t["detail"])}
                             for t in await inc.timeline(pool, incident_id)]}

    @r.patch("/incidents/{incident_id}", summary="Change severity, status or title")
    async def patch_incident(incident_id: str, body: PatchBody, request: Request,
                             principal: Principal = auth) -> dict[str, str]:
        await _commands(request).patch(incident_id, principal, severity=body.severity, status=body.status,
                                       title=body.title)
        return {"incident_id": incident_id}

    @r.post("/incidents/{incident_id}/updates", status_code=201, summary="Post a public status update")
    async def post_update(incident_id: str, body: UpdateBody, request: Request,
                          principal: Principal = auth) -> dict[str, str]:
        update_id = await _commands(request).post_update(incident_id, principal, body.message, body.status)
        return {"incident_id": incident_id, "update_id": update_id}

    @r.post("/incidents/{incident_id}/resolve", summary="Resolve the incident")
    async def resolve(incident_id: str, body: ResolveBody, request: Request,
                      principal: Principal = auth) -> dict[str, str]:
        await _commands(request).resolve(incident_id, principal, body.message)
        return {"incident_id": incident_id, "status": "resolved"}

    @r.post("/incidents/{incident_id}/merge", summary="Merge this incident into another")
    async def merge(incident_id: str, body: MergeBody, request: Request,
                    principal: Principal = auth) -> dict[str, Any]:
        return await _commands(request).merge(incident_id, body.into_incident_id, principal)

    @r.post("/silences", status_code=201, summary="Declare a maintenance window or silence for a product")
    async def silence(body: SilenceBody, request: Request, principal: Principal = auth) -> dict[str, Any]:
        s = await _commands(request).silence(principal, product=body.product, signal=body.signal, mode=body.mode,
                                             starts_at=body.starts_at, ends_at=body.ends_at, reason=body.reason)
        return {"id": s.id, "product": s.product, "signal": s.signal, "mode": s.mode,
                "starts_at": s.starts_at, "ends_at": s.ends_at, "reason": s.reason}

    @r.get("/silences", summary="Silences not yet ended")
    async def silences(request: Request, principal: Principal = auth,
                       product: str | None = Query(None)) -> list[dict[str, Any]]:
        return [s.__dict__ for s in await store.active_silences(request.app.state.pool, product, utcnow())]

    return r
