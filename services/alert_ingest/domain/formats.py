"""The three input formats (Alertmanager webhook v4, PagerDuty Events v2, native), validated and normalised.

Pure: bytes and the receive time in, observations out, or `BadInput` saying why not.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

import orjson
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from shared.contracts import AlertSeverity, AlertStatus, CanonicalAlert, Signal, SourceTool

from .normalise import UNKNOWN_PRODUCT, label_fingerprint, product_of, severity_of, signal_of, str_map, text


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


class _Loose(BaseModel):
    model_config = ConfigDict(extra="ignore", populate_by_name=True)  # tools add fields; we need these


class AMAlert(_Loose):
    status: AlertStatus
    labels: dict[str, str]
    annotations: dict[str, str] = Field(default_factory=dict)
    startsAt: datetime
    endsAt: datetime | None = None
    generatorURL: str = ""
    fingerprint: str | None = Field(None, min_length=1, max_length=256)


class AMPayload(_Loose):
    version: Literal["4"]
    alerts: list[AMAlert]
    groupKey: str = ""
    status: AlertStatus | None = None
    commonLabels: dict[str, str] = Field(default_factory=dict)
    externalURL: str = ""


class PDPayload(_Loose):
    summary: str = Field(min_length=1, max_length=1024)
    source: str = Field(min_length=1, max_length=255)
    severity: Literal["critical", "error", "warning", "info"]
    timestamp: datetime | None = None
    component: str | None = None
    group: str | None = None
    class_: str | None = Field(None, alias="class")
    custom_details: Any = None


class PDEvent(_Loose):
    routing_key: str = Field(min_length=1, max_length=255)
    event_action: Literal["trigger", "acknowledge", "resolve"]
    dedup_key: str | None = Field(None, min_length=1, max_length=255)
    payload: PDPayload | None = None
    client_url: str | None = None
    links: list[dict[str, Any]] = Field(default_factory=list)


class NativeAlert(BaseModel):
    """The native format (docs/alert-ingest.md): strict, unknown fields are errors."""

    model_config = ConfigDict(extra="forbid")
    status: AlertStatus
    summary: str = Field(min_length=1, max_length=1024)
    product: str | None = None
    service: str | None = None
    signal: Signal | None = None
    severity: str | None = None
    description: str = Field("", max_length=16384)
    fingerprint: str | None = Field(None, min_length=1, max_length=256)
    dedup_key: str | None = Field(None, min_length=1, max_length=256)
    labels: dict[str, str] = Field(default_factory=dict)
    annotations: dict[str, str] = Field(default_factory=dict)
    value: float | None = None
    threshold: float | None = None
    time: datetime | None = None
    ends_at: datetime | None = None
    source_url: str | None = None


_MODELS: dict[SourceTool, type[BaseModel]] = {
    SourceTool.ALERTMANAGER: AMPayload, SourceTool.PAGERDUTY: PDEvent, SourceTool.NATIVE: NativeAlert}


def detect(doc: object) -> SourceTool:
    """Which tool's format a decoded payload is in; BadInput when none."""
    if isinstance(doc, dict):
        if "alerts" in doc and ("version" in doc or "groupKey" in doc):
            return SourceTool.ALERTMANAGER
        if "event_action" in doc or "routing_key" in doc:
            return SourceTool.PAGERDUTY
        if "summary" in doc and "status" in doc:
            return SourceTool.NATIVE
    raise BadInput("unknown_format", "payload is not an Alertmanager webhook, a PagerDuty event or a native alert")


def decode(raw: bytes | None, *, max_bytes: int) -> Any:
    """Bytes -> JSON document, or BadInput (oversize, not UTF-8, not JSON)."""
    if raw is None:
        raise BadInput("not_json", "empty record (no value)")
    if len(raw) > max_bytes:
        raise BadInput("oversize", f"payload of {len(raw)} bytes is over the limit of {max_bytes}")
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise BadInput("not_utf8", f"payload is not UTF-8: {exc}") from None
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise BadInput("not_json", f"payload is not JSON: {exc}") from None


def parse(raw: bytes | None, *, received_at: datetime, product_map: Mapping[str, str],
          max_bytes: int = 1024 * 1024) -> tuple[SourceTool, list[Observation]]:
    """Decode, detect and normalise one raw record."""
    model = _fast_validate(raw, max_bytes)
    if model is None:  # the careful path: says exactly what is wrong, or validates what the fast one could not
        doc = decode(raw, max_bytes=max_bytes)
        tool = detect(doc)
        cls = _MODELS[tool]
        try:
            model = cls.model_validate(doc)
        except ValidationError as exc:
            raise BadInput("schema_violation", f"{tool.value}: {describe(exc)}") from None
    if isinstance(model, AMPayload):
        return SourceTool.ALERTMANAGER, from_alertmanager(model, received_at, product_map)
    if isinstance(model, PDEvent):
        return SourceTool.PAGERDUTY, [from_pagerduty(model, received_at, product_map)]
    return SourceTool.NATIVE, [from_native(model, received_at, product_map)]


def _fast_validate(raw: bytes | None, max_bytes: int) -> BaseModel | None:
    """Validate straight from the JSON bytes (one pass in pydantic-core) when a cheap look at the bytes
    names the format; None sends the record down the careful path. A model that validates here is the one
    `detect` would pick: native forbids the other formats' keys, and PagerDuty is tried only without
    "alerts" anywhere. Escaped keys (\\u...) always take the careful path."""
    if raw is None or len(raw) > max_bytes or b"\\u" in raw:
        return None
    if b'"alerts"' in raw:
        cls: type[BaseModel] = AMPayload
    elif b'"event_action"' in raw or b'"routing_key"' in raw:
        cls = PDEvent
    else:
        cls = NativeAlert
    try:
        return cls.model_validate_json(raw)
    except ValidationError:
        return None


def describe(exc: ValidationError) -> str:
    """A short, readable list of what is wrong, field by field."""
    parts = [f"{'.'.join(str(p) for p in e['loc']) or '(root)'}: {e['msg']}" for e in exc.errors()[:5]]
    return "; ".join(parts)


def _when(value: datetime | None) -> datetime | None:
    # Alertmanager sends 0001-01-01T00:00:00Z for "no end time"; a time without a zone is taken as UTC.
    if value is None or value.year <= 1:
        return None
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def _canonical(**fields: Any) -> CanonicalAlert:
    """Build the canonical alert without validating it again: the input models above validated every
    field and the builders truncate texts to the contract's limits (this is the hot path)."""
    return CanonicalAlert.model_construct(**fields)


def _num(value: str | None) -> float | None:
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None


def from_alertmanager(p: AMPayload, received_at: datetime, product_map: Mapping[str, str]) -> list[Observation]:
    """One observation per entry of alerts[]."""
    out = []
    for a in p.alerts:
        fp = a.fingerprint or label_fingerprint(a.labels)
        build = functools.partial(_am_alert, a, fp, received_at, product_map)
        out.append(Observation(fp, a.status, severity_of(a.labels.get("severity")), build))
    return out


def _am_alert(a: AMAlert, fp: str, received_at: datetime, product_map: Mapping[str, str]) -> CanonicalAlert:
    labels, ann = a.labels, a.annotations
    summary = ann.get("summary") or ann.get("message") or ann.get("description") or labels.get("alertname", "")
    return _canonical(
        id="", fingerprint=fp,
        product=product_of([labels.get("product"), labels.get("service"), labels.get("app")], product_map),
        signal=signal_of(labels, summary, ann.get("description")), status=a.status,
        severity=severity_of(labels.get("severity")), summary=text(summary or "(no summary)", 1024),
        description=text(ann.get("description"), 16384), labels=labels, annotations=ann,
        starts_at=_when(a.startsAt) or received_at, ends_at=_when(a.endsAt) if a.status == "resolved" else None,
        source=SourceTool.ALERTMANAGER, source_url=a.generatorURL or None,
        value=_num(ann.get("value")), threshold=_num(ann.get("threshold")),
    )


def pagerduty_dedup_key(e: PDEvent) -> str:
    """The event's dedup_key, or a stable one from its identifying fields (a trigger may omit it)."""
    if e.dedup_key:
        return e.dedup_key
    if e.payload is None:
        raise BadInput("schema_violation", f"pagerduty: dedup_key is required for {e.event_action}")
    pl = e.payload
    return label_fingerprint("pagerduty", e.routing_key, pl.summary, pl.source, pl.component, pl.group, pl.class_)


def from_pagerduty(e: PDEvent, received_at: datetime, product_map: Mapping[str, str]) -> Observation:
    """trigger -> firing, resolve -> resolved, acknowledge -> a repeat; ack/resolve may carry no payload."""
    key = pagerduty_dedup_key(e)
    status = AlertStatus.RESOLVED if e.event_action == "resolve" else AlertStatus.FIRING
    ack = e.event_action == "acknowledge"
    if e.payload is None:
        if e.event_action == "trigger":
            raise BadInput("schema_violation", "pagerduty: payload is required for trigger")
        build = functools.partial(_pd_alert, e, key, status, received_at, product_map)
        return Observation(key, status, AlertSeverity.INFO, build, partial=True, acknowledge=ack)
    build = functools.partial(_pd_alert, e, key, status, received_at, product_map)
    return Observation(key, status, AlertSeverity(e.payload.severity), build, acknowledge=ack)


def _pd_alert(e: PDEvent, key: str, status: AlertStatus, received_at: datetime,
              product_map: Mapping[str, str]) -> CanonicalAlert:
    url = e.client_url or next((str(link.get("href")) for link in e.links if link.get("href")), None)
    ends_at = received_at if status == AlertStatus.RESOLVED else None
    pl = e.payload
    if pl is None:  # only the key is known; the state machine keeps the stored details
        return _canonical(id="", fingerprint=key, product=UNKNOWN_PRODUCT, signal=Signal.OTHER, status=status,
                          severity=AlertSeverity.INFO, summary="", description="", labels={}, annotations={},
                          starts_at=received_at, ends_at=ends_at, source=SourceTool.PAGERDUTY, source_url=url,
                          value=None, threshold=None)
    details = pl.custom_details if isinstance(pl.custom_details, dict) else {}
    labels = {k: v for k, v in {"source": pl.source, "component": pl.component, "group": pl.group,
                                "class": pl.class_, "severity": pl.severity}.items() if v}
    det = str_map(details)
    return _canonical(
        id="", fingerprint=key,
        product=product_of([det.get("product"), det.get("service"), det.get("app"), pl.component, pl.group,
                            pl.source], product_map),
        signal=signal_of(det, pl.class_, pl.summary), status=status, severity=AlertSeverity(pl.severity),
        summary=pl.summary, description=text(details.get("description"), 16384) if details else "",
        labels=labels, annotations=det, starts_at=_when(pl.timestamp) or received_at, ends_at=ends_at,
        source=SourceTool.PAGERDUTY, source_url=url, value=_num(det.get("value")),
        threshold=_num(det.get("threshold")),
    )


def from_native(n: NativeAlert, received_at: datetime, product_map: Mapping[str, str]) -> Observation:
    """The native alert: explicit fields win over labels."""
    fp = n.fingerprint or n.dedup_key or label_fingerprint(
        "native", n.product, n.service, n.signal, n.labels.get("alertname") or n.summary, n.labels)
    build = functools.partial(_native_alert, n, fp, received_at, product_map)
    return Observation(fp, n.status, severity_of(n.severity or n.labels.get("severity")), build)


def _native_alert(n: NativeAlert, fp: str, received_at: datetime, product_map: Mapping[str, str]) -> CanonicalAlert:
    labels = n.labels
    return _canonical(
        id="", fingerprint=fp,
        product=product_of([n.product, n.service, labels.get("product"), labels.get("service"), labels.get("app")],
                           product_map),
        signal=n.signal or signal_of(labels, n.summary, n.description), status=n.status,
        severity=severity_of(n.severity or labels.get("severity")), summary=n.summary, description=n.description,
        labels=labels, annotations=n.annotations, starts_at=_when(n.time) or received_at,
        ends_at=_when(n.ends_at) or (received_at if n.status == AlertStatus.RESOLVED else None),
        source=SourceTool.NATIVE, source_url=n.source_url, value=n.value, threshold=n.threshold,
    )
