"""Outgoing webhooks, signed per Standard Webhooks, behind the SSRF guard (also applied to redirects)."""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from datetime import UTC, datetime
from urllib.parse import urljoin, urlsplit, urlunsplit

import httpx
from standardwebhooks.webhooks import Webhook

from .domain.retry import Outcome, classify_status
from .domain.ssrf import UnsafeURL, check, parse_target


async def resolve(host: str, port: int) -> list[str]:
    """Every address `host` resolves to (an IP literal resolves to itself)."""
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror:
        return []
    return sorted({str(info[4][0]) for info in infos})


def sign_headers(secret: str, msg_id: str, body: bytes, now: datetime | None = None) -> dict[str, str]:
    """The three Standard Webhooks headers for `body`."""
    ts = now or datetime.now(UTC)
    return {"webhook-id": msg_id, "webhook-timestamp": str(int(ts.timestamp())),
            "webhook-signature": Webhook(secret).sign(msg_id, ts, body.decode()),
            "content-type": "application/json"}


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
        return True
    except ValueError:
        return False


class WebhookClient:
    def __init__(self, *, allowed_hosts: list[str], timeout_s: float, max_redirects: int) -> None:
        self._http = httpx.AsyncClient(timeout=timeout_s, follow_redirects=False)
        self._allowed = allowed_hosts
        self._max_redirects = max_redirects

    async def close(self) -> None:
        await self._http.aclose()

    async def check_url(self, url: str) -> tuple[str, dict[str, str], dict[str, str]]:
        """Raise UnsafeURL unless the URL may be called now (checked before every request and redirect).

        Returns the URL pinned to the checked address, with the Host header and TLS server name of the
        original, so a second DNS answer (rebinding) cannot send the request elsewhere.
        """
        scheme, host, port = parse_target(url)
        addresses = await resolve(host, port)
        check(host, addresses, self._allowed)
        parts = urlsplit(url)
        if not addresses or parts.hostname is None or _is_ip(parts.hostname):
            return url, {}, {}
        ip = addresses[0]
        netloc = f"[{ip}]" if ":" in ip else ip
        pinned = urlunsplit(parts._replace(netloc=f"{netloc}:{port}"))
        host_header = host if parts.port is None else f"{host}:{parts.port}"
        return pinned, {"host": host_header}, ({"sni_hostname": host} if scheme == "https" else {})

    async def post(self, url: str, secret: str, msg_id: str, body: bytes) -> Outcome:
        """POST a signed delivery; redirects are followed only to URLs that pass the guard."""
        for _ in range(self._max_redirects + 1):
            try:
                target, host, ext = await self.check_url(url)
            except UnsafeURL as exc:
                return Outcome(False, f"refused: {exc}", retryable=False)
            try:
                resp = await self._http.post(target, content=body, extensions=ext,
                                             headers={**sign_headers(secret, msg_id, body), **host})
            except httpx.TimeoutException as exc:
                return Outcome(False, f"timeout: {type(exc).__name__}")
            except httpx.HTTPError as exc:
                return Outcome(False, f"transport: {type(exc).__name__}: {exc}")
            if resp.is_redirect and "location" in resp.headers:
                url = urljoin(url, resp.headers["location"])
                continue
            ok, retryable = classify_status(resp.status_code)
            after = resp.headers.get("Retry-After")
            return Outcome(ok, "" if ok else f"HTTP {resp.status_code}", retryable=retryable,
                           retry_after=float(after) if after and after.isdigit() else None,
                           ref=str(resp.status_code))
        return Outcome(False, "too many redirects", retryable=False)
