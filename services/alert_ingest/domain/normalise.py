"""Normalisation rules shared by every input format: product, signal, severity, fingerprint (pure)."""

from __future__ import annotations

import functools
import hashlib
import re
from collections.abc import Mapping

import orjson

from shared.contracts import AlertSeverity, Signal

PRODUCTS = ("Support", "Guide", "Chat", "Talk")
UNKNOWN_PRODUCT = "unknown"

_SEVERITY_WORDS: dict[str, AlertSeverity] = {}
for _sev, _words in {
    AlertSeverity.CRITICAL: ("critical", "crit", "fatal", "emergency", "page", "p1", "sev1", "sev-1", "disaster"),
    AlertSeverity.ERROR: ("error", "err", "major", "high", "p2", "sev2", "sev-2"),
    AlertSeverity.WARNING: ("warning", "warn", "minor", "medium", "average", "p3", "sev3", "sev-3"),
    AlertSeverity.INFO: ("info", "informational", "information", "low", "none", "notice", "ok", "p4", "p5",
                         "sev4", "sev-4"),
}.items():
    for _w in _words:
        _SEVERITY_WORDS[_w] = _sev

# Checked in this order: the first signal whose pattern matches wins (availability before error: "probe failed").
_SIGNAL_PATTERNS: list[tuple[Signal, re.Pattern[str]]] = [
    (Signal.LATENCY, re.compile(r"latenc|slow|p9[059]|response.?time|duration|timeout|delay")),
    (Signal.AVAILABILITY, re.compile(r"\bdown\b|unavailab|availability|uptime|unreachable|outage|"
                                     r"probe|health.?check|absent|instance.?down|not.?responding")),
    (Signal.ERROR_RATE, re.compile(r"error|5xx|\b50[0-4]\b|fail|exception|crash")),
    (Signal.TRAFFIC_VOLUME, re.compile(r"traffic|volume|throughput|\bqps\b|\brps\b|request.?rate|spike|surge|"
                                       r"drop|anomal|rate.?of.?change|faster than expected")),
    (Signal.SATURATION, re.compile(r"cpu|memory|\bmem\b|disk|saturat|queue|full|exhaust|oom|pool|capacity|"
                                   r"throttl|load")),
]
_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")


def severity_of(value: str | None, default: AlertSeverity = AlertSeverity.WARNING) -> AlertSeverity:
    """Map a tool's severity word to ours; unknown or missing words get `default`."""
    if not value:
        return default
    found = _SEVERITY_WORDS.get(value)  # the usual case: already one of our words, lower case
    return found if found is not None else _SEVERITY_WORDS.get(value.strip().lower(), default)


def signal_of(labels: Mapping[str, str], *texts: str | None) -> Signal:
    """Classify from an explicit `signal` label, else from alertname and the given texts (summary...)."""
    return _classify(labels.get("signal"), labels.get("alertname"), texts)


@functools.lru_cache(maxsize=4096)  # a storm repeats the same few rules: classify each once
def _classify(explicit: str | None, alertname: str | None, texts: tuple[str | None, ...]) -> Signal:
    explicit = (explicit or "").strip().lower()
    if explicit in Signal._value2member_map_:
        return Signal(explicit)
    for text in (alertname, *texts):
        if not text:
            continue
        words = _CAMEL.sub(" ", text).lower()
        for signal, pattern in _SIGNAL_PATTERNS:
            if pattern.search(words):
                return signal
    return Signal.OTHER


def product_of(candidates: list[str | None], product_map: Mapping[str, str]) -> str:
    """The product named by the first usable candidate (label values in priority order)."""
    key = (tuple(candidates), id(product_map))
    found = _PRODUCT_CACHE.get(key)
    if found is None:
        if len(_PRODUCT_CACHE) > 4096:
            _PRODUCT_CACHE.clear()
        found = _PRODUCT_CACHE[key] = _product_of(candidates, product_map)
    return found


_PRODUCT_CACHE: dict[tuple[tuple[str | None, ...], int], str] = {}


def _product_of(candidates: list[str | None], product_map: Mapping[str, str]) -> str:
    for value in candidates:
        if not value:
            continue
        low = value.strip().lower()
        if low in product_map:
            return product_map[low]
        for product in PRODUCTS:
            if low == product.lower():
                return product
        first = re.split(r"[-_./:\s]", low, maxsplit=1)[0]
        if first in product_map:
            return product_map[first]
        for product in PRODUCTS:
            if first == product.lower():
                return product
    for value in candidates:  # an unmapped product keeps its own name rather than being lost
        if value and value.strip():
            return value.strip()
    return UNKNOWN_PRODUCT


def label_fingerprint(*parts: object) -> str:
    """A stable 16-hex fingerprint from identifying values (dicts are hashed with sorted keys)."""
    raw = orjson.dumps(parts, option=orjson.OPT_SORT_KEYS)
    return hashlib.sha256(raw).hexdigest()[:16]


def text(value: object, limit: int) -> str:
    """A string field, truncated to the contract's limit."""
    s = "" if value is None else str(value)
    return s[:limit]


def str_map(value: object) -> dict[str, str]:
    """A dict of strings (values stringified), or {} when absent."""
    if not isinstance(value, dict):
        return {}
    return {str(k): v if isinstance(v, str) else _json_text(v) for k, v in value.items()}


def _json_text(value: object) -> str:
    try:
        return orjson.dumps(value).decode()
    except (TypeError, orjson.JSONEncodeError):  # nested deeper than orjson writes (254): keep the alert
        return "[value nested too deeply to show]"
