"""Zendesk webhook signature verification (time passed in)."""

from __future__ import annotations

import base64
import hashlib
import hmac
from datetime import UTC, datetime, timedelta

import pytest

from services.ticket_triage.domain.signature import SignatureError, sign, verify

NOW = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
TS = "2026-03-02T10:00:00Z"
BODY = b'{"type":"zen:event-type:ticket.created"}'


def test_signature_is_base64_hmac_sha256_of_timestamp_and_body():
    expected = base64.b64encode(hmac.new(b"s3cret", TS.encode() + BODY, hashlib.sha256).digest()).decode()
    assert sign("s3cret", TS, BODY) == expected
    verify("s3cret", expected, TS, BODY, now=NOW, max_skew_s=300)


@pytest.mark.parametrize(("secret", "sig", "ts", "body", "now", "why"), [
    ("s3cret", None, TS, BODY, NOW, "missing"),
    ("s3cret", sign("s3cret", TS, BODY), None, BODY, NOW, "missing"),
    (None, sign("s3cret", TS, BODY), TS, BODY, NOW, "no signing secret"),
    ("s3cret", sign("other", TS, BODY), TS, BODY, NOW, "bad signature"),
    ("s3cret", sign("s3cret", TS, BODY), TS, BODY + b" ", NOW, "bad signature"),
    ("s3cret", sign("s3cret", TS, BODY), TS, BODY, NOW + timedelta(minutes=6), "stale"),
    ("s3cret", sign("s3cret", TS, BODY), TS, BODY, NOW - timedelta(minutes=6), "stale"),
    ("s3cret", sign("s3cret", "garbage", BODY), "garbage", BODY, NOW, "unreadable"),
])
def test_rejections(secret, sig, ts, body, now, why):
    with pytest.raises(SignatureError, match=why):
        verify(secret, sig, ts, body, now=now, max_skew_s=300)
