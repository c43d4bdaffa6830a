"""Fixtures for the notifier: the Zendesk stand-in and a webhook receiver, real HTTP servers on loopback."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.integration.notifier.support import SECRET, TOKEN
from tools.webhook_receiver import WebhookReceiver
from tools.zendesk_standin import ZendeskStandIn


@pytest.fixture
async def zendesk() -> AsyncIterator[ZendeskStandIn]:
    z = ZendeskStandIn(token=TOKEN, job_polls=1)
    async with z.serve() as url:
        z.url = url  # type: ignore[attr-defined]
        yield z


@pytest.fixture
async def receiver() -> AsyncIterator[WebhookReceiver]:
    r = WebhookReceiver(SECRET)
    async with r.serve() as url:
        r.url = url  # type: ignore[attr-defined]
        yield r
