"""What every parser produces: observations of alerts, or BadInput saying why a record cannot be used.
Also the small helpers the format modules share."""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict

from shared.contracts import AlertSeverity, AlertStatus, CanonicalAlert


class BadInput(Exception):
    """A record that can never be processed: it goes to the dead-letter topic."""

    def __init__(self, error_class: str, message: str) -> None:
        super().__init__(message)
        self.error_class = error_class
        self.message = message


@dataclass(frozen=True)
class Observation:
    """One alert as received. `partial`: a PagerDuty acknowledge/resolve that names only the dedup key.

    The canonical alert is built only when a rule needs it (`alert`): most of a storm are repeats, which
    need just the fingerprint, status and severity.
    """

    fingerprint: str
    status: AlertStatus
    severity: AlertSeverity
    build: Callable[[], CanonicalAlert] = field(repr=False, compare=False)
    partial: bool = False
    acknowledge: bool = False

    @functools.cached_property
    def alert(self) -> CanonicalAlert:
        return self.build()

    @classmethod
    def of(cls, alert: CanonicalAlert, *, partial: bool = False, acknowledge: bool = False) -> Observation:
        """An observation of an alert that is already built."""
        return cls(alert.fingerprint, alert.status, alert.severity, lambda: alert, partial, acknowledge)


class Loose(BaseModel):
    """Base of the tools' own formats: they add fields over time; we read the ones we need."""

    model_config = ConfigDict(extra="ignore", populate_by_name=True)


def when(value: datetime | None) -> datetime | None:
    # Alertmanager sends 0001-01-01T00:00:00Z for "no end time"; a time without a zone is taken as UTC.
    if value is None or value.year <= 1:
        return None
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def canonical(**fields: Any) -> CanonicalAlert:
    """Build the canonical alert without validating it again: the format's input model validated every
    field and the builders truncate texts to the contract's limits (this is the hot path)."""
    return CanonicalAlert.model_construct(**fields)


def num(value: str | None) -> float | None:
    """A number from a string field (annotation, custom detail), or None."""
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None
