"""Thin Kafka subscriber: a batch of records from the three input topics in, one call to the intake."""

from __future__ import annotations

from faststream.kafka.annotations import KafkaMessage

from shared.kafka import SUBSCRIBER_DEFAULTS
from shared.service import ServiceRuntime

from .events import SERVICE
from .intake import Intake


def register(runtime: ServiceRuntime, intake: Intake, max_records: int) -> None:
    """One consumer (one group member per instance) on alerts.state, tickets.triaged and incidents.updates."""
    t = runtime.topics

    @runtime.broker.subscriber(t.alerts_state, t.tickets_triaged, t.incidents_updates,
                               group_id=t.group(SERVICE), max_records=max_records, **SUBSCRIBER_DEFAULTS)
    @runtime.retrying("on_inputs", group_id=t.group(SERVICE))
    async def on_inputs(msg: KafkaMessage) -> None:
        await intake.handle(msg.raw_message)
