"""Ticket-side inputs: the open incidents triage matches against, and Zendesk ticket.created streams."""

from __future__ import annotations

import itertools
import random
from datetime import UTC, datetime
from typing import Any

import orjson

from shared.contracts import IncidentOpened, Severity
from shared.contracts.envelope import encode, make_event

from .payloads import Record, load_corpus, zendesk_created

AREAS = {"Support": ["ticket views", "macros", "triggers", "email notifications", "attachments", "SLA timers"],
         "Guide": ["help center search", "article editor", "community posts", "theme uploads"],
         "Chat": ["visitor queue", "chat widget", "message delivery", "chat transcripts"],
         "Talk": ["call routing", "voicemail", "IVR menus", "call recordings"]}
SYMPTOMS = ["failing with 500 errors", "very slow to load", "not updating", "timing out for all agents"]


def open_incidents(n: int = 50) -> list[dict[str, Any]]:
    """`n` open incidents: the labelled corpus's own, then distinct synthetic ones."""
    corpus, _ = load_corpus()
    out = [{"incident_id": r["incident_id"], "product": r["product"], "title": r["title"], "summary": r["text"]}
           for r in corpus][:n]
    combos = itertools.product(SYMPTOMS, [(p, a) for p, areas in AREAS.items() for a in areas])
    for i, (symptom, (product, area)) in enumerate(combos):
        if len(out) >= n:
            break
        out.append({"incident_id": f"INC-bench{i:06d}", "product": product,
                    "title": f"{product}: {area} {symptom}", "summary": f"{area} {symptom} across accounts"})
    return out


def incident_opened_records(incidents: list[dict[str, Any]]) -> list[Record]:
    """IncidentOpened envelopes on incidents.updates (key = incident id), as engineering-validation writes them."""
    out = []
    for inc in incidents:
        ev = make_event(IncidentOpened(incident_id=inc["incident_id"], title=inc["title"], product=inc["product"],
                                       severity=Severity.SEV2, opened_from="engineer", team="support-eng",
                                       summary=inc["summary"]),
                        source="/bench", subject=inc["incident_id"])
        out.append((inc["incident_id"].encode(), encode(ev)))
    return out


def ticket_stream(n: int, run: str, *, linked_only: bool = False, seed: int = 5) -> list[tuple[str, bool, Record]]:
    """`n` Zendesk ticket.created records with fresh ids: (ticket id, expected to link, record)."""
    _, corpus = load_corpus()
    rows = [r for r in corpus if not linked_only or r["expected"]["outcome"] == "linked"]
    if not rows:
        rows = [{"expected": {"outcome": "standard_support"},
                 "payload": {"subject": "How do I change my password?", "description": "Where is the setting?"}}]
    rng = random.Random(seed)
    now = datetime.now(UTC)
    out = []
    for i in range(n):
        row = rng.choice(rows)
        p = row["payload"]
        d = p.get("detail", p)
        tid = f"{run}{i:07d}"
        prio = (d.get("priority") or "normal").lower()
        doc = zendesk_created(tid, d["subject"], d["description"], priority=prio, tags=d.get("tags") or [],
                              org=str(d.get("organization_id") or d.get("organization") or rng.randint(100, 400)),
                              requester=str(d.get("requester_id") or d.get("requester") or 20001),
                              brand=d.get("brand_id"), when=now)
        out.append((tid, row["expected"]["outcome"] == "linked", (tid.encode(), orjson.dumps(doc))))
    return out
