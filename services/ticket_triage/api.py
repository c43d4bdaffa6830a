"""HTTP API on 8083: the Zendesk webhook receiver, a native ticket receiver, tickets and their history, overrides."""

from __future__ import annotations

from typing import Annotated, Any

import orjson
from aiokafka.errors import KafkaError
from fastapi import APIRouter, Depends, HTTPException, Request
from pydantic import BaseModel, Field

from shared.auth import ADMIN_SCOPE, Principal, require_principal
from shared.contracts import utcnow

from . import store
from .domain.signature import SignatureError, verify
from .domain.tickets import TicketFormatError, parse_raw
from .overrides import OverrideError, Overrides, OverrideResult
from .settings import Settings


class LinkBody(BaseModel):
    incident_id: str = Field(pattern=r"^INC-[0-9a-f]{12}$", examples=["INC-0123456789ab"])
    reason: str = Field(min_length=1, max_length=1000, examples=["same customer-visible problem"])


class ReasonBody(BaseModel):
    reason: str = Field(min_length=1, max_length=1000, examples=["customer's own configuration"])


def router(settings: Settings, runtime: Any, overrides: Overrides) -> APIRouter:
    api = APIRouter(prefix="/v1", tags=["tickets"])
    policy = settings.policy

    async def append(raw: bytes) -> dict[str, Any]:
        """Validate the payload, append the raw bytes to tickets.new and answer once the broker acked."""
        try:
            ticket = parse_raw(raw, policy)
        except (orjson.JSONDecodeError, TicketFormatError) as exc:
            raise HTTPException(422, f"malformed ticket payload: {exc}") from exc
        try:
            md = await runtime.producer.send_and_wait(runtime.topics.tickets_new, raw, key=ticket.ticket_id.encode())
        except KafkaError as exc:  # not appended: the sender must retry (Zendesk retries on 5xx)
            raise HTTPException(503, f"broker unavailable: {type(exc).__name__}") from exc
        return {"ticket_id": ticket.ticket_id, "topic": md.topic, "partition": md.partition, "offset": md.offset}

    @api.post("/tickets/zendesk", status_code=202, summary="Zendesk webhook (ticket.created), signature-verified")
    async def zendesk(request: Request) -> dict[str, Any]:
        raw = await request.body()
        secret = settings.zendesk_signing_secret
        try:
            verify(secret.get_secret_value() if secret else None,
                   request.headers.get("x-zendesk-webhook-signature"),
                   request.headers.get("x-zendesk-webhook-signature-timestamp"), raw,
                   now=utcnow(), max_skew_s=settings.zendesk_max_skew_s)
        except SignatureError as exc:
            raise HTTPException(401, str(exc)) from exc
        return await append(raw)

    @api.post("/tickets", status_code=202, summary="Native ticket JSON (token-authenticated)")
    async def native(request: Request, _: Annotated[Principal, Depends(require_principal)]) -> dict[str, Any]:
        return await append(await request.body())

    async def authorised(principal: Principal, ticket_id: str) -> None:
        try:
            product = await overrides.ticket_product(ticket_id)
        except OverrideError as exc:
            raise HTTPException(exc.status, str(exc)) from exc
        teams = {ADMIN_SCOPE, *settings.override_teams, settings.product_teams.get(product or "", ADMIN_SCOPE)}
        if principal.team not in teams:
            raise HTTPException(403, f"token of team {principal.team!r} may not act on {product or 'this'} tickets")

    async def run(coro: Any) -> dict[str, Any]:
        try:
            res: OverrideResult = await coro
        except OverrideError as exc:
            raise HTTPException(exc.status, str(exc)) from exc
        return {"changed": res.changed, "outcome": res.outcome, "incident_id": res.incident_id}

    @api.get("/tickets/{ticket_id}", summary="A ticket, its current decision and its decision history")
    async def get(ticket_id: str, principal: Annotated[Principal, Depends(require_principal)]) -> dict[str, Any]:
        await authorised(principal, ticket_id)
        row = await store.get_ticket(runtime.pool, ticket_id)
        assert row is not None
        keep = ("ticket_id", "source", "subject", "product", "product_from", "priority", "locale", "organization_id",
                "created_at", "outcome", "incident_id", "pending_cluster", "overridden", "problem_score")
        return {**{k: row[k] for k in keep}, "history": await store.history(runtime.pool, ticket_id)}

    @api.post("/tickets/{ticket_id}/link", summary="Override: link the ticket to an open incident")
    async def link(ticket_id: str, body: LinkBody,
                   principal: Annotated[Principal, Depends(require_principal)]) -> dict[str, Any]:
        await authorised(principal, ticket_id)
        return await run(overrides.link(ticket_id, body.incident_id, by=principal.name, reason=body.reason))

    @api.post("/tickets/{ticket_id}/unlink", summary="Override: unlink the ticket from its incident")
    async def unlink(ticket_id: str, body: ReasonBody,
                     principal: Annotated[Principal, Depends(require_principal)]) -> dict[str, Any]:
        await authorised(principal, ticket_id)
        return await run(overrides.to_standard(ticket_id, by=principal.name, reason=body.reason, unlink_only=True))

    @api.post("/tickets/{ticket_id}/standard", summary="Override: move the ticket to the standard support route")
    async def standard(ticket_id: str, body: ReasonBody,
                       principal: Annotated[Principal, Depends(require_principal)]) -> dict[str, Any]:
        await authorised(principal, ticket_id)
        return await run(overrides.to_standard(ticket_id, by=principal.name, reason=body.reason))

    return api
