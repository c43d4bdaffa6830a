"""Thin Kafka subscribers: a batch of records in, one call to the service layer."""

from __future__ import annotations

from collections.abc import Callable

from faststream.kafka.annotations import KafkaMessage

from shared.kafka import SUBSCRIBER_DEFAULTS
from shared.service import ServiceRuntime

from .service import NAME, TriageService
from .settings import Settings


def register(runtime: ServiceRuntime, settings: Settings, service: Callable[[], TriageService]) -> None:
    """Subscribe to tickets.new and incidents.updates (group ticket-triage); built inside create_app."""
    group = runtime.topics.group(NAME)
    kw = {"group_id": group, "max_records": settings.consumer_max_records, **SUBSCRIBER_DEFAULTS}

    @runtime.broker.subscriber(runtime.topics.tickets_new, **kw)
    @runtime.retrying("on_new_tickets", group_id=group)
    async def on_new_tickets(msg: KafkaMessage) -> None:
        await service().handle_tickets(msg.raw_message)

    @runtime.broker.subscriber(runtime.topics.incidents_updates, **kw)
    @runtime.retrying("on_incident_updates", group_id=group)
    async def on_incident_updates(msg: KafkaMessage) -> None:
        await service().handle_incident_updates(msg.raw_message)
