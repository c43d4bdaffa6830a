"""Dead-letter records: the original bytes, unchanged, with headers that say why and where from."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from prometheus_client import Counter

from .topics import dlt

DEAD_LETTERS = Counter(
    "pipeline_dead_letters_total", "Input sent to a dead-letter topic", ["service", "topic", "error_class"]
)


@dataclass(frozen=True)
class DeadLetter:
    """One rejected input, ready to go to `<topic>.DLT` (through the outbox, with the batch's effects)."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    error_class: str
    message: str
    timestamp_ms: int | None = None

    @property
    def dlt_topic(self) -> str:
        return dlt(self.topic)

    def headers(self, *, service: str) -> list[tuple[str, bytes]]:
        h = {
            "dlt-error-class": self.error_class,
            "dlt-error-message": self.message[:2000],
            "dlt-original-topic": self.topic,
            "dlt-original-partition": str(self.partition),
            "dlt-original-offset": str(self.offset),
            "dlt-original-timestamp": str(self.timestamp_ms or ""),
            "dlt-time": datetime.now(UTC).isoformat(),
            "dlt-service": service,
        }
        return [(k, v.encode()) for k, v in h.items()]


def outbox_rows(letters: list[DeadLetter], *, service: str) -> list[tuple[str, bytes | None, bytes, str]]:
    """Outbox rows for dead letters, so they commit with the batch that rejected them, and count them."""
    from .outbox import raw_row

    for d in letters:
        count_dead_letter(service, d.topic, d.error_class)
    return [raw_row(d.dlt_topic, d.key, d.value, d.headers(service=service)) for d in letters]


def count_dead_letter(service: str, topic: str, error_class: str) -> None:
    DEAD_LETTERS.labels(service, topic, error_class).inc()
