"""The native alert format (defined in docs/alert-ingest.md): strict, unknown fields are errors."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from shared.contracts import AlertStatus, CanonicalAlert, Signal, SourceTool

from .normalise import label_fingerprint, product_of, severity_of, signal_of
from .observation import Observation, Template, canonical, new_template, when


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



def from_native(n: NativeAlert, received_at: datetime, product_map: Mapping[str, str]) -> Observation:
    """The native alert: explicit fields win over labels."""
    return native_template(n).observe(received_at, product_map)


def native_template(n: NativeAlert) -> Template:
    """The native alert's template (see Template)."""
    fp = n.fingerprint or n.dedup_key or label_fingerprint(
        "native", n.product, n.service, n.signal, n.labels.get("alertname") or n.summary, n.labels)
    return new_template(fp, n.status, severity_of(n.severity or n.labels.get("severity")), _native_alert, n)


def _native_alert(t: Template, received_at: datetime, product_map: Mapping[str, str]) -> CanonicalAlert:
    n: NativeAlert = t.source
    fp, labels = t.fingerprint, n.labels
    return canonical(
        id="", fingerprint=fp,
        product=product_of([n.product, n.service, labels.get("product"), labels.get("service"), labels.get("app")],
                           product_map),
        signal=n.signal or signal_of(labels, n.summary, n.description), status=n.status,
        severity=severity_of(n.severity or labels.get("severity")), summary=n.summary, description=n.description,
        labels=labels, annotations=n.annotations, starts_at=when(n.time) or received_at,
        ends_at=when(n.ends_at) or (received_at if n.status == AlertStatus.RESOLVED else None),
        source=SourceTool.NATIVE, source_url=n.source_url, value=n.value, threshold=n.threshold,
    )
