"""Webhook requests: Standard Webhooks signatures, and URLs pinned to the address the guard checked."""

from __future__ import annotations

import base64

import pytest
from standardwebhooks.webhooks import Webhook

from services.notifier import webhooks
from services.notifier.domain.ssrf import UnsafeURL
from services.notifier.webhooks import WebhookClient, sign_headers

SECRET = "whsec_" + base64.b64encode(b"unit-test-secret-0123456789abcdef").decode()


def test_signature_verifies_with_the_standard_library():
    body = b'{"id": "e1", "type": "io.incident-pipeline.incident.opened.v1"}'
    headers = sign_headers(SECRET, "webhook:sub:e1", body)
    assert Webhook(SECRET).verify(body, headers)["id"] == "e1"
    with pytest.raises(Exception):
        Webhook(SECRET).verify(body + b" ", headers)


async def test_names_are_pinned_to_the_checked_address(monkeypatch):
    answers = {"hooks.example.com": ["93.184.216.34"], "rebind.example.com": ["10.0.0.1"]}

    async def fake_resolve(host, port):
        return answers.get(host, [])

    monkeypatch.setattr(webhooks, "resolve", fake_resolve)
    client = WebhookClient(allowed_hosts=[], timeout_s=1, max_redirects=0)
    try:
        url, headers, ext = await client.check_url("https://hooks.example.com/in?x=1")
        assert url == "https://93.184.216.34:443/in?x=1"
        assert headers == {"host": "hooks.example.com"} and ext == {"sni_hostname": "hooks.example.com"}
        with pytest.raises(UnsafeURL):
            await client.check_url("http://rebind.example.com/in")
    finally:
        await client.close()
