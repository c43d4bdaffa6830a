"""Wiring for notifier: the runtime, its Kafka subscribers, its senders and scheduler, and its HTTP API."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path

from fastapi import FastAPI

from shared.service import ServiceRuntime, build_app

from . import api, handlers
from .sender import Sender
from .service import Notifier
from .settings import Settings
from .webhooks import WebhookClient
from .zendesk import ZendeskClient

NAME = "notifier"
SCHEMA = "notifier"
MIGRATIONS = Path(__file__).parent / "migrations"


class _Parts:
    """What needs the pool, created once it is open (no I/O at import or build time)."""

    notifier: Notifier | None = None
    sender: Sender | None = None


def create_app(settings: Settings) -> FastAPI:
    runtime = ServiceRuntime(name=NAME, schema=SCHEMA, settings=settings, migrations=MIGRATIONS)
    parts = _Parts()

    def notifier() -> Notifier:
        assert parts.notifier is not None, "notifier used before start"
        return parts.notifier

    @runtime.on_start
    async def _open(rt: ServiceRuntime) -> None:
        parts.notifier = Notifier(rt.pool, settings, group=rt.topics.group(NAME),
                                  incidents_topic=rt.topics.incidents_updates)
        zendesk = ZendeskClient(settings.zendesk_base_url, settings.zendesk_email,
                                settings.zendesk_api_token.get_secret_value(),
                                per_minute=settings.zendesk_rate_limit_per_minute,
                                timeout_s=settings.http_timeout_s, job_poll_s=settings.zendesk_job_poll_interval_s,
                                job_timeout_s=settings.zendesk_job_timeout_s)
        hooks = WebhookClient(allowed_hosts=settings.allowed_hosts(), timeout_s=settings.http_timeout_s,
                              max_redirects=settings.webhook_max_redirects)
        # claims are owned per process: a configured instance id, else a random one
        instance = settings.instance_id or f"{NAME}-{uuid.uuid4().hex[:8]}"
        parts.sender = Sender(rt.pool, settings, instance=instance, zendesk=zendesk, webhooks=hooks)

    handlers.register(runtime, settings, notifier)

    async def scheduler(rt: ServiceRuntime) -> None:
        while True:
            while await notifier().run_due_schedules():
                pass
            await asyncio.sleep(settings.scheduler_poll_interval_s)

    runtime.background("notifier-scheduler")(scheduler)
    for target in _targets(settings):
        runtime.background(f"notifier-sender-{target}")(_sender_task(parts, target))

    app = build_app(runtime, title="notifier", routers=[api.router()],
                    description="Keeps every linked customer informed and delivers incident updates to subscribers.")
    app.state.parts = parts
    return app


def _targets(settings: Settings) -> list[str]:
    return (["zendesk"] + [f"webhook:{s.name}" for s in settings.webhooks]
            + [f"team:{t}" for t in settings.team_webhooks])


def _sender_task(parts: _Parts, target: str):  # noqa: ANN202 - a runtime background task
    async def run(rt: ServiceRuntime) -> None:
        assert parts.sender is not None
        await parts.sender.run(target)
    return run
