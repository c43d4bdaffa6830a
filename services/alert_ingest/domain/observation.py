"""What every parser produces: observations of alerts, or BadInput saying why a record cannot be used.
Also the small helpers the format modules share."""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any, NamedTuple

from pydantic import BaseModel, ConfigDict

from shared.contracts import AlertSeverity, AlertStatus, CanonicalAlert


class BadInput(Exception):
    """A record that can never be processed: it goes to the dead-letter topic."""

    def __init__(self, error_class: str, message: str) -> None:
        super().__init__(message)
        self.error_class = error_class
        self.message = message


class Observation:
    """One alert as received. `partial`: a PagerDuty acknowledge/resolve that names only the dedup key.

    The canonical alert is built only when a rule needs it (`alert`): most of a storm are repeats, which
    need just the fingerprint, status and severity. A plain slotted class, not a dataclass: one is made per
    alert on the hot path. Treat it as immutable.
    """

    __slots__ = ("fingerprint", "status", "severity", "partial", "acknowledge", "_build", "_alert")

    def __init__(self, fingerprint: str, status: AlertStatus, severity: AlertSeverity,
                 build: Callable[[], CanonicalAlert], partial: bool = False, acknowledge: bool = False) -> None:
        self.fingerprint = fingerprint
        self.status = status
        self.severity = severity
        self.partial = partial
        self.acknowledge = acknowledge
        self._build = build
        self._alert: CanonicalAlert | None = None

    @property
    def alert(self) -> CanonicalAlert:
        a = self._alert
        if a is None:
            a = self._alert = self._build()
        return a

    def _key(self) -> tuple[Any, ...]:
        return (self.fingerprint, self.status, self.severity, self.partial, self.acknowledge)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Observation) and self._key() == other._key()

    def __hash__(self) -> int:
        return hash(self._key())

    def __repr__(self) -> str:
        return (f"Observation(fingerprint={self.fingerprint!r}, status={self.status!r}, "
                f"severity={self.severity!r}, partial={self.partial!r}, acknowledge={self.acknowledge!r})")

    @classmethod
    def of(cls, alert: CanonicalAlert, *, partial: bool = False, acknowledge: bool = False) -> Observation:
        """An observation of an alert that is already built."""
        return cls(alert.fingerprint, alert.status, alert.severity, lambda: alert, partial, acknowledge)


class Template(NamedTuple):
    """One alert of a validated record before its receive time is known: what the state machine needs, and
    `alert(received_at, product_map)` for the canonical alert, which `build` makes from `source` (the
    validated model). Kept with the record's bytes, so a repeat only stamps its receive time. The hot path
    makes one per alert: `new_template` skips the generated __new__, and `build` is a plain function rather
    than a functools.partial per alert."""

    fingerprint: str
    status: AlertStatus
    severity: AlertSeverity
    partial: bool
    acknowledge: bool
    build: Callable[[Template, datetime, Mapping[str, str]], CanonicalAlert]
    source: Any

    def alert(self, received_at: datetime, product_map: Mapping[str, str]) -> CanonicalAlert:
        return self.build(self, received_at, product_map)

    def observe(self, received_at: datetime, product_map: Mapping[str, str]) -> Observation:
        return Observation(self.fingerprint, self.status, self.severity,
                           functools.partial(self.build, self, received_at, product_map), self.partial,
                           self.acknowledge)


def new_template(fingerprint: str, status: AlertStatus, severity: AlertSeverity, build: Callable[..., CanonicalAlert],
                 source: Any, partial: bool = False, acknowledge: bool = False) -> Template:
    """A Template (keyword arguments as its fields)."""
    return _tuple_new(Template, (fingerprint, status, severity, partial, acknowledge, build, source))


_tuple_new = tuple.__new__


class Loose(BaseModel):
    """Base of the tools' own formats: they add fields over time; we read the ones we need."""

    model_config = ConfigDict(extra="ignore", populate_by_name=True)


def when(value: datetime | None) -> datetime | None:
    # Alertmanager sends 0001-01-01T00:00:00Z for "no end time"; a time without a zone is taken as UTC.
    if value is None or value.year <= 1:
        return None
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


_CANONICAL_FIELDS = tuple(CanonicalAlert.model_fields)
_CANONICAL_FIELD_SET = frozenset(_CANONICAL_FIELDS)
_set = object.__setattr__


def canonical(**fields: Any) -> CanonicalAlert:
    """Build the canonical alert without validating it again: the format's input model validated every
    field and the builders truncate texts to the contract's limits (this is the hot path). What
    `model_construct` makes, without its per-field alias and default handling when every field is given."""
    if fields.keys() != _CANONICAL_FIELD_SET:
        return CanonicalAlert.model_construct(**fields)
    m = CanonicalAlert.__new__(CanonicalAlert)
    _set(m, "__dict__", {name: fields[name] for name in _CANONICAL_FIELDS})  # field order: the JSON's order
    _set(m, "__pydantic_fields_set__", set(_CANONICAL_FIELDS))
    _set(m, "__pydantic_extra__", None)
    _set(m, "__pydantic_private__", None)
    return m


def with_id(alert: CanonicalAlert, alert_id: str) -> CanonicalAlert:
    """`alert.model_copy(update={"id": alert_id})`, without pydantic's generic copy for an alert `canonical`
    made (every field set, no extra or private values): one is made per state change."""
    if (alert.__pydantic_extra__ is not None or alert.__pydantic_private__ is not None
            or alert.__pydantic_fields_set__ != _CANONICAL_FIELD_SET):
        return alert.model_copy(update={"id": alert_id})
    fields = alert.__dict__.copy()
    fields["id"] = alert_id  # in place: the field order stays
    m = CanonicalAlert.__new__(CanonicalAlert)
    _set(m, "__dict__", fields)
    _set(m, "__pydantic_fields_set__", set(_CANONICAL_FIELDS))
    _set(m, "__pydantic_extra__", None)
    _set(m, "__pydantic_private__", None)
    return m


def num(value: str | None) -> float | None:
    """A number from a string field (annotation, custom detail), or None."""
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None
