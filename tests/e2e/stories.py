"""Building blocks of the seed's stories: payloads as the real tools send them, and readers of outcomes."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import time
from collections import Counter
from typing import Any

from tests.support.waiting import eventually
from tools.demo import am_payload, zendesk_ticket

__all__ = ["am_payload", "zendesk_ticket", "comment_kinds", "of_type", "settle", "sign_zendesk", "wait_comments"]


def of_type(events: list[dict[str, Any]], suffix: str, **data: Any) -> list[dict[str, Any]]:
    """Events whose CloudEvents type ends with `suffix` and whose data has the given values."""
    return [e for e in events if e.get("type", "").endswith(suffix)
            and all(e["data"].get(k) == v for k, v in data.items())]


KINDS = {"Hello, we are aware": "link", "Hola, sabemos": "link", "We are still working": "periodic",
         "Seguimos trabajando": "periodic", "Good news": "resolved", "Buenas noticias": "resolved",
         "The status of": "status", "El estado de": "status", "Update on": "update", "Novedades sobre": "update"}


def comment_kind(body: str) -> str:
    for prefix, kind in KINDS.items():
        if body.startswith(prefix):
            return kind
    return "other"


def comment_kinds(standin: Any, ticket_id: str) -> Counter[str]:
    return Counter(comment_kind(b) for b in standin.bodies(ticket_id))


async def wait_comments(standin: Any, ticket_ids: list[str], kind: str, *, at_least: int = 1,
                        timeout: float = 45.0) -> None:
    async def probe() -> dict[str, int]:
        return {t: comment_kinds(standin, t)[kind] for t in ticket_ids}

    await eventually(probe, until=lambda c: all(v >= at_least for v in c.values()), timeout=timeout,
                     what=f"{kind} comments on {ticket_ids}")


async def settle(kafka: Any, topic: str, until, *, quiet_s: float = 1.5, timeout: float = 45.0) -> list[dict[str, Any]]:
    """Read `topic` until `until(events)` holds, then until nothing new arrived for `quiet_s` (to see extras)."""
    events = await kafka.read_json(topic, until=until, timeout=timeout)
    seen = len(events)
    deadline = time.monotonic() + quiet_s
    while time.monotonic() < deadline:
        events = await kafka.read_json(topic, until=lambda es: len(es) >= seen, timeout=timeout)
        if len(events) > seen:
            seen, deadline = len(events), time.monotonic() + quiet_s
        await asyncio.sleep(0.3)
    return events


def sign_zendesk(secret: str, body: bytes, timestamp: str | None = None) -> dict[str, str]:
    """Headers Zendesk sends with a signed webhook."""
    ts = timestamp or time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())  # Zendesk sends ISO 8601
    sig = base64.b64encode(hmac.new(secret.encode(), ts.encode() + body, hashlib.sha256).digest()).decode()
    return {"X-Zendesk-Webhook-Signature": sig, "X-Zendesk-Webhook-Signature-Timestamp": ts,
            "Content-Type": "application/json"}
