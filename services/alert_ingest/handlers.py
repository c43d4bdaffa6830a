"""Thin Kafka subscribers: a batch of raw records in, one call to the service layer."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from faststream.kafka.annotations import KafkaMessage

from shared.kafka import SUBSCRIBER_DEFAULTS
from shared.service import ServiceRuntime

from .service import IngestService
from .settings import Settings


async def keep_raw(msg: Any) -> None:
    """Skip FastStream's body decoding: by default it tries json.loads on every record of the batch, work
    the service does once itself, with its own rules for bad input (measured: ~40% of the hot path)."""
    return None


def register(runtime: ServiceRuntime, settings: Settings, service: Callable[[], IngestService]) -> None:
    """Subscribe to alerts.raw (batch, commit after effect, redelivered on failure) with
    `settings.consumers` consumers of the same group: while one waits for PostgreSQL, another parses."""
    group = runtime.topics.group("alert-ingest")

    @runtime.retrying("on_raw_alerts", group_id=group)
    async def on_raw_alerts(msg: KafkaMessage) -> None:
        await service().handle(msg.raw_message)

    for _ in range(settings.consumers):
        runtime.broker.subscriber(runtime.topics.alerts_raw, group_id=group,
                                  max_records=settings.consumer_max_records, decoder=keep_raw,
                                  **SUBSCRIBER_DEFAULTS)(on_raw_alerts)
