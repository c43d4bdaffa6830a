"""PagerDuty Events API v2: trigger -> firing, resolve -> resolved, acknowledge -> a repeat."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any, Literal

from pydantic import Field

from shared.contracts import AlertSeverity, AlertStatus, CanonicalAlert, Signal, SourceTool

from .normalise import UNKNOWN_PRODUCT, label_fingerprint, product_of, signal_of, str_map, text
from .observation import BadInput, Loose, Observation, Template, canonical, new_template, num, when


class PDPayload(Loose):
    summary: str = Field(min_length=1, max_length=1024)
    source: str = Field(min_length=1, max_length=255)
    severity: Literal["critical", "error", "warning", "info"]
    timestamp: datetime | None = None
    component: str | None = None
    group: str | None = None
    class_: str | None = Field(None, alias="class")
    custom_details: Any = None


class PDEvent(Loose):
    routing_key: str = Field(min_length=1, max_length=255)
    event_action: Literal["trigger", "acknowledge", "resolve"]
    dedup_key: str | None = Field(None, min_length=1, max_length=255)
    payload: PDPayload | None = None
    client_url: str | None = None
    links: list[dict[str, Any]] = Field(default_factory=list)



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
    return pd_template(e).observe(received_at, product_map)


def pd_template(e: PDEvent) -> Template:
    """The event's template (see Template), or BadInput for what the model cannot say (a trigger without a
    payload, an acknowledge or resolve without a dedup_key)."""
    key = pagerduty_dedup_key(e)
    action = e.event_action
    status = AlertStatus.RESOLVED if action == "resolve" else AlertStatus.FIRING
    if e.payload is None:
        if action == "trigger":
            raise BadInput("schema_violation", "pagerduty: payload is required for trigger")
        return new_template(key, status, AlertSeverity.INFO, _pd_alert, e, True, action == "acknowledge")
    # a dict lookup: calling the enum costs a microsecond per event
    return new_template(key, status, _SEVERITY[e.payload.severity], _pd_alert, e, False, action == "acknowledge")


_SEVERITY = {s.value: s for s in AlertSeverity}


def _pd_alert(t: Template, received_at: datetime, product_map: Mapping[str, str]) -> CanonicalAlert:
    e: PDEvent = t.source
    key, status = t.fingerprint, t.status
    url = e.client_url or next((str(link.get("href")) for link in e.links if link.get("href")), None)
    ends_at = received_at if status == AlertStatus.RESOLVED else None
    pl = e.payload
    if pl is None:  # only the key is known; the state machine keeps the stored details
        return canonical(id="", fingerprint=key, product=UNKNOWN_PRODUCT, signal=Signal.OTHER, status=status,
                          severity=AlertSeverity.INFO, summary="", description="", labels={}, annotations={},
                          starts_at=received_at, ends_at=ends_at, source=SourceTool.PAGERDUTY, source_url=url,
                          value=None, threshold=None)
    details = pl.custom_details if isinstance(pl.custom_details, dict) else {}
    labels = {k: v for k, v in {"source": pl.source, "component": pl.component, "group": pl.group,
                                "class": pl.class_, "severity": pl.severity}.items() if v}
    det = str_map(details)
    return canonical(
        id="", fingerprint=key,
        product=product_of([det.get("product"), det.get("service"), det.get("app"), pl.component, pl.group,
                            pl.source], product_map),
        signal=signal_of(det, pl.class_, pl.summary), status=status, severity=t.severity,
        summary=pl.summary, description=text(details.get("description"), 16384) if details else "",
        labels=labels, annotations=det, starts_at=when(pl.timestamp) or received_at, ends_at=ends_at,
        source=SourceTool.PAGERDUTY, source_url=url, value=num(det.get("value")),
        threshold=num(det.get("threshold")),
    )
