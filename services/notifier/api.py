"""Delivery log API (token-authenticated, team-scoped; '*' tokens see everything)."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Query, Request

from shared.auth import ADMIN_SCOPE, Principal, ensure_team, require_principal

from . import store

Status = Literal["pending", "sending", "sent", "dead", "cancelled"]


def _team_filter(p: Principal) -> str | None:
    return None if p.team == ADMIN_SCOPE else p.team


def router() -> APIRouter:
    r = APIRouter(prefix="/v1", tags=["deliveries"])

    @r.get("/incidents/{incident_id}/deliveries", summary="Every delivery about an incident")
    async def incident_deliveries(incident_id: str, request: Request,
                                  p: Principal = Depends(require_principal)) -> dict[str, Any]:
        pool = request.app.state.pool
        known, team = await store.incident_team(pool, incident_id)
        if not known:
            raise HTTPException(404, f"unknown incident {incident_id!r}")
        ensure_team(p, team)
        return {"incident_id": incident_id, "deliveries": await store.delivery_log(pool, incident_id=incident_id)}

    @r.get("/tickets/{ticket_id}/deliveries", summary="Every comment sent (or to be sent) to a ticket")
    async def ticket_deliveries(ticket_id: str, request: Request,
                                p: Principal = Depends(require_principal)) -> dict[str, Any]:
        pool = request.app.state.pool
        teams = await store.ticket_teams(pool, ticket_id)
        if not teams:
            raise HTTPException(404, f"no incident links for ticket {ticket_id!r}")
        if p.team != ADMIN_SCOPE and p.team not in teams:
            ensure_team(p, next(iter(teams)))
        rows = await store.delivery_log(pool, ticket_id=ticket_id, team=_team_filter(p))
        return {"ticket_id": ticket_id, "deliveries": rows}

    @r.get("/deliveries", summary="Deliveries by status (e.g. ?status=dead), of the token's team")
    async def deliveries(request: Request, status: Status = Query(..., description="Delivery status."),
                         limit: int = Query(500, ge=1, le=5000),
                         p: Principal = Depends(require_principal)) -> dict[str, Any]:
        rows = await store.delivery_log(request.app.state.pool, status=status, team=_team_filter(p), limit=limit)
        return {"status": status, "deliveries": rows}

    return r
