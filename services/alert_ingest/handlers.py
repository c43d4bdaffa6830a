"""Thin Kafka subscribers: a batch of raw records in, one call to the service layer."""

from __future__ import annotations

from collections.abc import Callable

from faststream.kafka.annotations import KafkaMessage

from shared.kafka import SUBSCRIBER_DEFAULTS, commit_behind_batch_parser
from shared.service import ServiceRuntime

from .service import IngestService
from .settings import Settings


def register(runtime: ServiceRuntime, settings: Settings, service: Callable[[], IngestService]) -> None:
    """Subscribe to alerts.raw (batch, commit after effect, redelivered on failure) with
    `settings.consumers` consumers of the same group: while one waits for PostgreSQL, another parses."""
    group = runtime.topics.group("alert-ingest")

    @runtime.retrying("on_raw_alerts", group_id=group)
    async def on_raw_alerts(msg: KafkaMessage) -> None:
        await service().handle(msg.raw_message)

    # the batch's positions are claimed in the database with its effect, so its offsets commit behind it
    kw = {**SUBSCRIBER_DEFAULTS, "parser": commit_behind_batch_parser}
    for _ in range(settings.consumers):
        runtime.broker.subscriber(runtime.topics.alerts_raw, group_id=group,
                                  max_records=settings.consumer_max_records, **kw)(on_raw_alerts)
