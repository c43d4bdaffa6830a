"""Thin Kafka subscribers: a batch of records in, one call to the service layer."""

from __future__ import annotations

from collections.abc import Callable

from faststream.kafka.annotations import KafkaMessage

from shared.kafka import SUBSCRIBER_DEFAULTS
from shared.service import ServiceRuntime

from .service import Notifier
from .settings import Settings


def register(runtime: ServiceRuntime, settings: Settings, notifier: Callable[[], Notifier]) -> None:
    """Subscribe to incidents.updates and alerts.validated (consumer group `notifier`)."""
    group = runtime.topics.group("notifier")

    @runtime.broker.subscriber(runtime.topics.incidents_updates, group_id=group,
                               max_records=settings.consumer_max_records, **SUBSCRIBER_DEFAULTS)
    @runtime.retrying("on_incident_updates")
    async def on_incident_updates(msg: KafkaMessage) -> None:
        await notifier().on_incident_records(msg.raw_message)

    @runtime.broker.subscriber(runtime.topics.alerts_validated, group_id=group,
                               max_records=settings.consumer_max_records, **SUBSCRIBER_DEFAULTS)
    @runtime.retrying("on_validation_events")
    async def on_validation_events(msg: KafkaMessage) -> None:
        await notifier().on_validation_records(msg.raw_message)
