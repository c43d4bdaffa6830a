"""Thin Kafka subscribers: a batch of raw records in, one call to the service layer."""

from __future__ import annotations

from collections.abc import Callable

from faststream.kafka.annotations import KafkaMessage

from shared.kafka import SUBSCRIBER_DEFAULTS
from shared.service import ServiceRuntime

from .service import IngestService
from .settings import Settings


def register(runtime: ServiceRuntime, settings: Settings, service: Callable[[], IngestService]) -> None:
    """Subscribe to alerts.raw (batch, commit after effect, redelivered on failure)."""

    @runtime.broker.subscriber(runtime.topics.alerts_raw, group_id=runtime.topics.group("alert-ingest"),
                               max_records=settings.consumer_max_records, **SUBSCRIBER_DEFAULTS)
    @runtime.retrying("on_raw_alerts")
    async def on_raw_alerts(msg: KafkaMessage) -> None:
        await service().handle(msg.raw_message)
