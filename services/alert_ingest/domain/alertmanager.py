"""Prometheus Alertmanager webhook payload, version 4: one observation per entry of alerts[]."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Literal

from pydantic import Field

from shared.contracts import AlertStatus, CanonicalAlert, SourceTool

from .normalise import label_fingerprint, product_of, severity_of, signal_of, text
from .observation import Loose, Observation, Template, canonical, new_template, num, when


class AMAlert(Loose):
    status: AlertStatus
    labels: dict[str, str]
    annotations: dict[str, str] = Field(default_factory=dict)
    startsAt: datetime
    endsAt: datetime | None = None
    generatorURL: str = ""
    fingerprint: str | None = Field(None, min_length=1, max_length=256)


class AMPayload(Loose):
    version: Literal["4"]
    alerts: list[AMAlert]
    groupKey: str = ""
    status: AlertStatus | None = None
    commonLabels: dict[str, str] = Field(default_factory=dict)
    externalURL: str = ""



def from_alertmanager(p: AMPayload, received_at: datetime, product_map: Mapping[str, str]) -> list[Observation]:
    """One observation per entry of alerts[]."""
    return [t.observe(received_at, product_map) for t in am_templates(p)]


def am_templates(p: AMPayload) -> list[Template]:
    """One template per entry of alerts[] (see Template)."""
    return [new_template(a.fingerprint or label_fingerprint(a.labels), a.status, severity_of(a.labels.get("severity")),
                         _am_alert, a)
            for a in p.alerts]


def _am_alert(t: Template, received_at: datetime, product_map: Mapping[str, str]) -> CanonicalAlert:
    a: AMAlert = t.source
    fp, labels, ann = t.fingerprint, a.labels, a.annotations
    summary = ann.get("summary") or ann.get("message") or ann.get("description") or labels.get("alertname", "")
    return canonical(
        id="", fingerprint=fp,
        product=product_of([labels.get("product"), labels.get("service"), labels.get("app")], product_map),
        signal=signal_of(labels, summary, ann.get("description")), status=a.status,
        severity=severity_of(labels.get("severity")), summary=text(summary or "(no summary)", 1024),
        description=text(ann.get("description"), 16384), labels=labels, annotations=ann,
        starts_at=when(a.startsAt) or received_at, ends_at=when(a.endsAt) if a.status == "resolved" else None,
        source=SourceTool.ALERTMANAGER, source_url=a.generatorURL or None,
        value=num(ann.get("value")), threshold=num(ann.get("threshold")),
    )
