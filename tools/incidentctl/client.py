"""HTTP calls to the services with errors a person can act on (service down, token wrong, unknown id)."""

from __future__ import annotations

from typing import Any

import httpx
import typer

from .config import CtlSettings


class CtlError(Exception):
    """An error shown to the user as one clear line."""


def request(settings: CtlSettings, method: str, url: str, *, json: Any = None, params: dict | None = None,
            auth: bool = True, headers: dict[str, str] | None = None, content: bytes | None = None) -> Any:
    hdrs = dict(headers or {})
    if auth:
        if settings.token is None:
            raise CtlError("no API token: set INCIDENTCTL_TOKEN (create one with `incidentctl tokens create`)")
        hdrs["Authorization"] = f"Bearer {settings.token.get_secret_value()}"
    try:
        resp = httpx.request(method, url, json=json, params=params, headers=hdrs, content=content,
                             timeout=settings.timeout_s)
    except httpx.ConnectError as exc:
        raise CtlError(f"cannot reach {url.split('/v')[0]}: is the service running? (make status)") from exc
    except httpx.TimeoutException as exc:
        raise CtlError(f"{url} did not answer within {settings.timeout_s}s") from exc
    if resp.status_code == 401:
        raise CtlError("the API token was refused (401): check INCIDENTCTL_TOKEN")
    if resp.status_code == 403:
        raise CtlError(f"forbidden (403): {_detail(resp)}")
    if resp.status_code == 404:
        raise CtlError(f"not found (404): {_detail(resp)}")
    if resp.status_code >= 400:
        raise CtlError(f"{resp.status_code}: {_detail(resp)}")
    if not resp.content:
        return None
    try:
        return resp.json()
    except ValueError:
        return resp.text


def _detail(resp: httpx.Response) -> str:
    try:
        body = resp.json()
    except ValueError:
        return resp.text[:500]
    detail = body.get("detail", body) if isinstance(body, dict) else body
    if isinstance(detail, list):  # FastAPI validation errors
        return "; ".join(f"{'.'.join(map(str, d.get('loc', [])))}: {d.get('msg')}" for d in detail)
    return str(detail)


def fail(exc: CtlError) -> None:
    typer.secho(f"error: {exc}", fg=typer.colors.RED, err=True)
    raise typer.Exit(1)
