"""Thin Kafka subscriber: a batch of records in, one call to the service layer."""

from __future__ import annotations

from collections.abc import Callable

from faststream.kafka.annotations import KafkaMessage

from shared.kafka import SUBSCRIBER_DEFAULTS
from shared.service import ServiceRuntime

from .service import Notifier
from .settings import Settings


def register(runtime: ServiceRuntime, settings: Settings, notifier: Callable[[], Notifier]) -> None:
    """Subscribe to incidents.updates and alerts.validated (consumer group `notifier`).

    One consumer for both topics: one group join at start-up instead of two members rebalancing each other.
    """
    topics = runtime.topics

    @runtime.broker.subscriber(topics.incidents_updates, topics.alerts_validated, group_id=topics.group("notifier"),
                               max_records=settings.consumer_max_records, **SUBSCRIBER_DEFAULTS)
    @runtime.retrying("on_notifier_inputs", group_id=topics.group("notifier"))
    async def on_notifier_inputs(msg: KafkaMessage) -> None:
        await notifier().on_records(msg.raw_message)
