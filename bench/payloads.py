"""Realistic inputs: an alert mix (Alertmanager v4 webhooks with several alerts, PagerDuty Events v2, native
alerts) with repeats of open fingerprints, Zendesk ticket.created events, and the open incidents they match."""

from __future__ import annotations

import hashlib
import json
import random
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson

PRODUCTS = {"Support": "support-api", "Guide": "guide-frontend", "Chat": "chat-api", "Talk": "talk-gateway"}
#: signal -> (Alertmanager alertname, PagerDuty class, summary template)
SIGNALS = {
    "latency": ("HighRequestLatency", "latency", "{svc} p99 latency above 2s"),
    "error_rate": ("HighErrorRate", "error_rate", "{svc} 5xx error rate above 5%"),
    "availability": ("InstanceDown", "availability", "{svc} instance down"),
    "traffic_volume": ("TrafficDrop", "traffic", "{svc} request traffic dropped 60%"),
    "saturation": ("HighCPUUsage", "saturation", "{svc} CPU saturation above 90%"),
}
SEVERITIES = (("critical", 0.2), ("error", 0.3), ("warning", 0.4), ("info", 0.1))
TOOLS = (("alertmanager", 0.5), ("pagerduty", 0.3), ("native", 0.2))
ROUTING_KEY = "R0123456789ABCDEF0123456789ABCDE"
CORPUS = Path(__file__).resolve().parents[1] / "tests" / "data" / "tickets_labelled.jsonl"
Record = tuple[bytes | None, bytes]


def _pick(rng: random.Random, weighted: tuple[tuple[str, float], ...]) -> str:
    return rng.choices([w for w, _ in weighted], [p for _, p in weighted])[0]


def _iso(t: datetime) -> str:
    return t.isoformat().replace("+00:00", "Z")


@dataclass(frozen=True)
class Source:
    """One alerting rule instance: a stable fingerprint, the tool that sends it, what it is about."""

    fingerprint: str
    tool: str
    product: str
    signal: str
    severity: str
    instance: int
    started: datetime

    @property
    def service(self) -> str:
        return PRODUCTS.get(self.product, self.product)

    def labels(self) -> dict[str, str]:
        alertname = SIGNALS[self.signal][0]
        return {"alertname": alertname, "service": self.service, "severity": self.severity, "env": "prod",
                "instance": f"{self.service}-{self.instance}:9100", "job": self.service, "region": "us-east-1"}

    def summary(self) -> str:
        return SIGNALS[self.signal][2].format(svc=self.service)

    def am_alert(self) -> dict[str, Any]:
        """One entry of an Alertmanager webhook's alerts[] (also the body of /api/v2/alerts, less status)."""
        return {"status": "firing", "labels": self.labels(),
                "annotations": {"summary": self.summary(), "description": f"{self.summary()} for 5 minutes.",
                                "runbook_url": f"https://runbooks.example.com/{self.signal}"},
                "startsAt": _iso(self.started), "endsAt": "0001-01-01T00:00:00Z",
                "generatorURL": f"http://prometheus.example.com/graph?g0.expr=up%7Bjob%3D%22{self.service}%22%7D",
                "fingerprint": self.fingerprint}

    def pagerduty(self, at: datetime | None = None) -> dict[str, Any]:
        """A trigger; `at` is this occurrence's event time (each re-send carries its own, as tools send it)."""
        return {"routing_key": ROUTING_KEY, "event_action": "trigger", "dedup_key": self.fingerprint,
                "payload": {"summary": self.summary(), "source": f"{self.service}-{self.instance}.prod",
                            "severity": self.severity, "timestamp": _iso(at or self.started), "component": self.service,
                            "group": "prod", "class": SIGNALS[self.signal][1],
                            "custom_details": {"value": "2.4", "threshold": "2.0", "region": "us-east-1"}},
                "client": "Datadog", "client_url": f"https://app.datadoghq.example/monitors/{self.instance}"}

    def native(self, at: datetime | None = None) -> dict[str, Any]:
        """A native alert; `at` is this occurrence's time."""
        return {"status": "firing", "summary": self.summary(), "product": self.product, "service": self.service,
                "signal": self.signal, "severity": self.severity, "fingerprint": self.fingerprint,
                "labels": self.labels(), "value": 2.4, "threshold": 2.0, "time": _iso(at or self.started)}

    @property
    def group_key(self) -> str:
        return f'{{}}:{{alertname="{SIGNALS[self.signal][0]}", service="{self.service}"}}'


def sources(n: int, *, seed: int = 8, products: list[str] | None = None) -> list[Source]:
    """`n` distinct alert sources spread over the products and signals."""
    rng = random.Random(seed)
    t0 = datetime.now(UTC) - timedelta(minutes=5)
    prods = products or list(PRODUCTS)
    out = []
    for i in range(n):
        fp = hashlib.sha256(f"{seed}/{i}".encode()).hexdigest()[:16]
        out.append(Source(fp, _pick(rng, TOOLS), prods[i % len(prods)], list(SIGNALS)[(i // len(prods)) % 5],
                          _pick(rng, SEVERITIES), i, t0))
    return out


def alert_stream(n_alerts: int, n_fingerprints: int, *, seed: int = 8) -> list[Source]:
    """`n_alerts` occurrences over `n_fingerprints` sources: each new once, the rest repeats of open ones."""
    rng = random.Random(seed + 1)
    pool = sources(n_fingerprints, seed=seed)
    opened = 0
    out = []
    for i in range(n_alerts):
        must_open = n_alerts - i <= n_fingerprints - opened
        if opened < n_fingerprints and (opened == 0 or must_open or rng.random() < n_fingerprints / n_alerts):
            out.append(pool[opened])
            opened += 1
        else:
            out.append(pool[rng.randrange(opened)])
    return out


def am_webhook(alerts: list[dict[str, Any]], group_key: str) -> dict[str, Any]:
    """An Alertmanager webhook (version 4) body carrying `alerts`."""
    common = {k: v for k, v in alerts[0]["labels"].items() if all(a["labels"].get(k) == v for a in alerts)}
    return {"receiver": "incident-pipeline", "status": "firing", "alerts": alerts,
            "groupLabels": {"alertname": common.get("alertname", "")}, "commonLabels": common,
            "commonAnnotations": {}, "externalURL": "http://alertmanager.example.com:9093", "version": "4",
            "groupKey": group_key, "truncatedAlerts": 0}


def raw_records(stream: list[Source], *, seed: int = 8) -> list[Record]:
    """alerts.raw records for a stream: Alertmanager alerts grouped 2..6 per webhook, others one per record.

    PagerDuty and native repeats carry their own event time (1 ms apart), so no two records are the same bytes;
    an Alertmanager re-send is the group's alerts as they stand, with their original startsAt."""
    rng = random.Random(seed + 2)
    groups: dict[str, list[Source]] = {}
    want: dict[str, int] = {}
    out: list[Record] = []
    base = datetime.now(UTC) - timedelta(minutes=1)
    for i, s in enumerate(stream):
        at = base + timedelta(milliseconds=i)
        if s.tool == "pagerduty":
            out.append((s.fingerprint.encode(), orjson.dumps(s.pagerduty(at))))
        elif s.tool == "native":
            out.append((s.fingerprint.encode(), orjson.dumps(s.native(at))))
        else:
            buf = groups.setdefault(s.group_key, [])
            buf.append(s)
            if len(buf) >= want.setdefault(s.group_key, rng.randint(2, 6)):
                out.append(_am_record(buf))
                groups[s.group_key], want[s.group_key] = [], rng.randint(2, 6)
    out.extend(_am_record(buf) for buf in groups.values() if buf)
    return out


def _am_record(buf: list[Source]) -> Record:
    key = buf[0].group_key
    return key.encode(), orjson.dumps(am_webhook([s.am_alert() for s in buf], key))


def alerts_in(records: list[Record]) -> int:
    """How many alerts a list of alerts.raw records carries."""
    return sum(len(d["alerts"]) if "alerts" in d else 1 for d in (orjson.loads(v) for _, v in records))


def probe_alert(n: int, run: str) -> Record:
    """A critical native alert of a product of its own: it opens a new incident (latency probe)."""
    product = f"probe-{run}-{n}"
    doc = {"status": "firing", "summary": f"{product} p99 latency above 2s", "product": product,
           "service": product, "signal": "latency", "severity": "critical", "fingerprint": f"{run}{n:08d}"}
    return product.encode(), orjson.dumps(doc)


def load_corpus() -> tuple[list[dict], list[dict]]:
    """The labelled ticket corpus (incidents, tickets) from tests/data, or ([], []) when absent."""
    if not CORPUS.exists():
        return [], []
    rows = [json.loads(line) for line in CORPUS.read_text().splitlines() if line.strip()]
    return [r for r in rows if r["kind"] == "incident"], [r for r in rows if r["kind"] == "ticket"]


def zendesk_created(ticket_id: str, subject: str, description: str, *, priority: str | None = "normal",
                    tags: list[str] = (), org: str = "200", requester: str = "20001",
                    brand: str | None = None, when: datetime | None = None) -> dict[str, Any]:
    """A Zendesk ticket.created event (zen:event-type:ticket.created, 2022-11-06)."""
    t = _iso(when or datetime.now(UTC))
    return {"type": "zen:event-type:ticket.created", "account_id": 9_000_001, "id": f"evt-{ticket_id}",
            "time": t, "zendesk_event_version": "2022-11-06", "subject": f"zen:ticket:{ticket_id}",
            "detail": {"id": ticket_id, "subject": subject, "description": description, "status": "NEW",
                       "priority": priority.upper() if priority else None, "type": "QUESTION", "tags": list(tags),
                       "requester_id": requester, "organization_id": org, "brand_id": brand, "group_id": "20001",
                       "form_id": "30001", "created_at": t, "via": {"channel": "web"}}}
