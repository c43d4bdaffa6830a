"""Zendesk webhook signatures: base64(HMAC-SHA256(secret, timestamp + raw body)), with a freshness window."""

from __future__ import annotations

import base64
import hashlib
import hmac
from datetime import datetime


class SignatureError(ValueError):
    """The request is unsigned, badly signed or stale."""


def sign(secret: str, timestamp: str, body: bytes) -> str:
    """The signature Zendesk sends in X-Zendesk-Webhook-Signature."""
    digest = hmac.new(secret.encode(), timestamp.encode() + body, hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


def _parse_time(timestamp: str) -> datetime:
    try:
        t = datetime.fromisoformat(timestamp.strip().replace("Z", "+00:00"))
    except ValueError as exc:
        raise SignatureError("unreadable signature timestamp") from exc
    if t.tzinfo is None:
        raise SignatureError("signature timestamp without time zone")
    return t


def verify(secret: str | None, signature: str | None, timestamp: str | None, body: bytes, *, now: datetime,
           max_skew_s: int) -> None:
    """Raise SignatureError unless the signature is valid and the timestamp is within max_skew_s of now."""
    if not secret:
        raise SignatureError("no signing secret configured")
    if not signature or not timestamp:
        raise SignatureError("missing X-Zendesk-Webhook-Signature or X-Zendesk-Webhook-Signature-Timestamp")
    if abs((now - _parse_time(timestamp)).total_seconds()) > max_skew_s:
        raise SignatureError("stale signature timestamp")
    if not hmac.compare_digest(sign(secret, timestamp, body), signature.strip()):
        raise SignatureError("bad signature")
