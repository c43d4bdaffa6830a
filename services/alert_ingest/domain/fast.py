"""The hot path's validators: the three input models again as msgspec Structs, decoded and validated from the
JSON bytes in one pass in C (measured on the bench mix: PagerDuty 8.5 -> 1.9 µs, native 6.3 -> 1.5 µs per
record against pydantic's validate_json).

They accept a subset of what the pydantic models accept (msgspec is stricter: no numeric strings for numbers,
RFC 3339 times only), with the same field names, so the format builders read either. A record they reject is
not bad input yet: it takes the careful path (formats.validate), which uses the pydantic models and says
exactly what is wrong. tests/unit/alert_ingest check that the two never disagree on what they both accept.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated, Any, Literal

import msgspec

from shared.contracts import AlertStatus, Signal

Fingerprint = Annotated[str, msgspec.Meta(min_length=1, max_length=256)]
PDText = Annotated[str, msgspec.Meta(min_length=1, max_length=255)]


class AMAlertS(msgspec.Struct, frozen=True, gc=False):
    status: AlertStatus
    labels: dict[str, str]
    startsAt: datetime
    annotations: dict[str, str] = {}
    endsAt: datetime | None = None
    generatorURL: str = ""
    fingerprint: Fingerprint | None = None


class AMPayloadS(msgspec.Struct, frozen=True, gc=False):
    version: Literal["4"]
    alerts: list[AMAlertS]
    groupKey: str = ""
    status: AlertStatus | None = None
    commonLabels: dict[str, str] = {}
    externalURL: str = ""


class PDPayloadS(msgspec.Struct, frozen=True, gc=False):
    summary: Annotated[str, msgspec.Meta(min_length=1, max_length=1024)]
    source: PDText
    severity: Literal["critical", "error", "warning", "info"]
    timestamp: datetime | None = None
    component: str | None = None
    group: str | None = None
    class_: str | None = msgspec.field(default=None, name="class")
    custom_details: Any = None


class PDEventS(msgspec.Struct, frozen=True, gc=False):
    routing_key: PDText
    event_action: Literal["trigger", "acknowledge", "resolve"]
    dedup_key: PDText | None = None
    payload: PDPayloadS | None = None
    client_url: str | None = None
    links: list[dict[str, Any]] = []


class NativeAlertS(msgspec.Struct, frozen=True, gc=False, forbid_unknown_fields=True):
    status: AlertStatus
    summary: Annotated[str, msgspec.Meta(min_length=1, max_length=1024)]
    product: str | None = None
    service: str | None = None
    signal: Signal | None = None
    severity: str | None = None
    description: Annotated[str, msgspec.Meta(max_length=16384)] = ""
    fingerprint: Fingerprint | None = None
    dedup_key: Fingerprint | None = None
    labels: dict[str, str] = {}
    annotations: dict[str, str] = {}
    value: float | None = None
    threshold: float | None = None
    time: datetime | None = None
    ends_at: datetime | None = None
    source_url: str | None = None


# gc=False: the collector neither tracks nor scans them (their dicts and lists it still does); they hold only
# decoded JSON, never a reference back, so they cannot be part of a cycle.
Fast = AMPayloadS | PDEventS | NativeAlertS

class _AMPayloadRaw(msgspec.Struct, frozen=True, gc=False):
    """AMPayloadS with each alert left as its JSON text (see _decode_am)."""

    version: Literal["4"]
    alerts: list[msgspec.Raw]
    groupKey: str = ""
    status: AlertStatus | None = None
    commonLabels: dict[str, str] = {}
    externalURL: str = ""


_AM = msgspec.json.Decoder(AMPayloadS)
_ESCAPE = re.compile(rb"\\u")
_AM_RAW = msgspec.json.Decoder(_AMPayloadRaw)
_AM_ALERT = msgspec.json.Decoder(AMAlertS)

# Alertmanager re-sends every alert of a group in each webhook, byte for byte the same while it fires, in
# webhooks whose bytes as a whole differ (another alert joined, another group key): each alert's validated
# Struct is kept by its bytes (decoded, frozen, never modified). Measured on the bench mix, where 10% of the
# webhooks' alerts are new: 11.6 -> 4.2 µs per webhook. Bounded like formats._SEEN: cleared when full.
_ALERTS: dict[bytes, AMAlertS] = {}
_ALERTS_MAX_ENTRIES = 2048
_ALERT_MAX_BYTES = 4096


def _decode_am(raw: bytes) -> AMPayloadS:
    """What `_AM.decode(raw)` returns (the same validation, alert by alert), reusing alerts seen before."""
    p = _AM_RAW.decode(raw)
    alerts = []
    for text in p.alerts:
        key = bytes(text)
        alert = _ALERTS.get(key)
        if alert is None:
            alert = _AM_ALERT.decode(key)
            if len(key) <= _ALERT_MAX_BYTES:
                if len(_ALERTS) >= _ALERTS_MAX_ENTRIES:
                    _ALERTS.clear()
                _ALERTS[key] = alert
        alerts.append(alert)
    return AMPayloadS(version=p.version, alerts=alerts, groupKey=p.groupKey, status=p.status,
                      commonLabels=p.commonLabels, externalURL=p.externalURL)


_PD = msgspec.json.Decoder(PDEventS)
_NATIVE = msgspec.json.Decoder(NativeAlertS)


def fast_validate(raw: bytes | None, max_bytes: int) -> Fast | None:
    """Validate straight from the JSON bytes when a cheap look at them names the format; None sends the
    record down the careful path. What validates here is what `formats.detect` would pick: native forbids the
    other formats' keys, and PagerDuty is tried only without "alerts" anywhere. Escaped text (\\u...) always
    takes the careful path, which rejects NUL characters and unescapes keys. So does text that is not UTF-8:
    msgspec skips the fields the Structs do not name without decoding them."""
    # `b"\\u" in raw`, faster: a backslash first (one memchr), then the regex engine's literal search (1.5 µs on
    # a 4 kB webhook, where bytes' two-byte search takes 3 µs; webhooks carry escaped quotes)
    if (raw is None or len(raw) > max_bytes or (b"\\" in raw and _ESCAPE.search(raw) is not None)
            or not (raw.isascii() or _utf8(raw))):
        return None
    try:
        if b'"alerts"' in raw:
            return _decode_am(raw)
        if b'"event_action"' in raw or b'"routing_key"' in raw:
            return _PD.decode(raw)
        return _NATIVE.decode(raw)
    except (msgspec.ValidationError, msgspec.DecodeError, RecursionError):
        return None


def _utf8(raw: bytes) -> bool:
    try:
        raw.decode()
    except UnicodeDecodeError:
        return False
    return True


_PAIRS = {"AMPayloadS": "AMPayload", "AMAlertS": "AMAlert", "PDEventS": "PDEvent", "PDPayloadS": "PDPayload",
          "NativeAlertS": "NativeAlert"}


def same_as(fast: object, model: object) -> bool:
    """Whether a Struct says what the pydantic model validated from the same document says: same format,
    same value in every field (for the tests that keep the two paths in agreement)."""
    if isinstance(fast, msgspec.Struct):
        if _PAIRS.get(type(fast).__name__) != type(model).__name__:
            return False
        return all(same_as(getattr(fast, f), getattr(model, f)) for f in fast.__struct_fields__)
    if isinstance(fast, list):
        return isinstance(model, list) and len(fast) == len(model) and all(map(same_as, fast, model))
    return type(fast) is type(model) and fast == model
