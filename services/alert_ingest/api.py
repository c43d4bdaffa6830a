"""HTTP receivers for tools that cannot write to Kafka: validate, then append the raw payload to alerts.raw.

There is one path through the system: the consumer does the real work. A request is answered only after
the broker acknowledged the record.
"""

from __future__ import annotations

import hmac
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import orjson
import structlog
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import ValidationError

from shared.auth import lookup
from shared.contracts import SourceTool
from shared.service import ServiceRuntime

from .domain.fast import AMPayloadS
from .domain.formats import AMPayload, BadInput, PDEvent, decode, describe, pagerduty_dedup_key, parse, validate
from .settings import Settings

log = structlog.get_logger(__name__)


def _error(status: int, error_class: str, message: str, **extra: Any) -> JSONResponse:
    return JSONResponse({"status": "rejected", "error": error_class, "message": message, **extra},
                        status_code=status)


def _unauthorized() -> JSONResponse:
    return JSONResponse({"status": "rejected", "error": "unauthorized", "message": "missing or invalid bearer token"},
                        status_code=401, headers={"WWW-Authenticate": "Bearer"})


def _bad_status(err: BadInput) -> int:
    return {"oversize": 413, "schema_violation": 422}.get(err.error_class, 400)


def router(runtime: ServiceRuntime, settings: Settings, now: Callable[[], datetime] = lambda: datetime.now(UTC)
           ) -> APIRouter:
    r = APIRouter(tags=["receivers"])
    token = settings.alertmanager_token.get_secret_value() if settings.alertmanager_token else None
    routing_keys = set(settings.pagerduty_routing_keys)
    product_map = settings.product_map()

    async def authorised(request: Request) -> bool:
        scheme, _, cred = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not cred:
            return False
        if token and hmac.compare_digest(cred.encode(), token.encode()):
            return True
        return await lookup(runtime.pool, cred) is not None  # API tokens (shared.auth) work too

    async def append(body: bytes, key: str | None) -> JSONResponse | None:
        try:
            assert runtime.producer is not None
            await runtime.producer.send_and_wait(runtime.topics.alerts_raw, body,
                                                 key=key.encode() if key else None)
        except Exception as exc:
            log.error("could not append to alerts.raw", error=repr(exc))
            return _error(503, "unavailable", "the broker did not accept the alert; retry later")
        return None

    @r.post("/v1/alerts/alertmanager", status_code=202, summary="Alertmanager webhook receiver (webhook_configs)")
    async def alertmanager(request: Request) -> JSONResponse:
        if not await authorised(request):
            return _unauthorized()
        body = await request.body()
        try:  # the consumer's own validation (formats.validate), so what is accepted here is taken in there
            payload = validate(body, max_bytes=settings.max_payload_bytes)
            if not isinstance(payload, (AMPayload, AMPayloadS)):
                raise BadInput("unknown_format", "expected an Alertmanager webhook payload (version 4)")
        except BadInput as err:
            return _error(_bad_status(err), err.error_class, err.message)
        if (failed := await append(body, payload.groupKey or None)) is not None:
            return failed
        return JSONResponse({"status": "accepted", "alerts": len(payload.alerts)}, status_code=202)

    @r.post("/v1/alerts", status_code=202, summary="Any supported format (native, Alertmanager, PagerDuty)")
    async def any_format(request: Request) -> JSONResponse:
        """For tools and people sending native alerts over HTTP (incidentctl); the format is detected."""
        if not await authorised(request):
            return _unauthorized()
        body = await request.body()
        try:
            tool, observations = parse(body, received_at=now(), product_map=product_map,
                                       max_bytes=settings.max_payload_bytes)
        except BadInput as err:
            return _error(_bad_status(err), err.error_class, err.message)
        fingerprints = list(dict.fromkeys(o.fingerprint for o in observations))
        # keyed so that one alert's (or one Alertmanager group's) notifications stay in order
        key = _group_key(body) if tool is SourceTool.ALERTMANAGER else fingerprints[0]
        if (failed := await append(body, key or None)) is not None:
            return failed
        return JSONResponse({"status": "accepted", "format": tool.value, "alerts": len(observations),
                             "fingerprints": fingerprints}, status_code=202)

    @r.post("/v2/enqueue", status_code=202, summary="PagerDuty Events API v2 compatible receiver")
    async def enqueue(request: Request) -> JSONResponse:
        body = await request.body()

        def invalid(status: int, message: str, errors: list[str]) -> JSONResponse:
            return JSONResponse({"status": "invalid event", "message": message, "errors": errors},
                                status_code=status)
        try:
            doc = decode(body, max_bytes=settings.max_payload_bytes)
        except BadInput as err:
            return invalid(_bad_status(err), "Event object is invalid", [err.message])
        if not isinstance(doc, dict):
            return invalid(400, "Event object is invalid", ["the body must be a JSON object"])
        key = doc.get("routing_key")
        if key is not None and not isinstance(key, str):
            return invalid(400, "Event object is invalid", ["routing_key must be a string"])
        if key not in routing_keys:
            return invalid(401, "Invalid routing key", ["routing_key is missing or not accepted here"])
        try:
            event = PDEvent.model_validate(doc)
            if event.event_action == "trigger" and event.payload is None:
                raise BadInput("schema_violation", "payload is required for trigger")
            key = pagerduty_dedup_key(event)
        except ValidationError as exc:
            return invalid(400, "Event object is invalid", [describe(exc)])
        except BadInput as err:
            return invalid(400, "Event object is invalid", [err.message])
        if (failed := await append(body, key)) is not None:
            return failed
        return JSONResponse({"status": "success", "message": "Event processed", "dedup_key": key}, status_code=202)

    return r


def _group_key(body: bytes) -> str | None:
    """An Alertmanager payload's groupKey. The validator that accepted the body skips fields it does not use,
    and orjson is stricter about some of them (a number like 1e999): no key then, rather than a 500."""
    try:
        key = orjson.loads(body).get("groupKey")
    except orjson.JSONDecodeError:
        return None
    return key if isinstance(key, str) else None
