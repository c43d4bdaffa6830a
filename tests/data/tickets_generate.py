"""Generate tests/data/tickets_labelled.jsonl deterministically: python tests/data/tickets_generate.py

Line 1..n with kind "incident": the open incidents to match against. Then kind "ticket": the raw payload as it
arrives on tickets.new (Zendesk ticket.created event or native ticket) and the expected outcome.
"""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime, timedelta
from pathlib import Path

from ticket_themes import FEATURE_NAMES, INCIDENTS, PROBLEMS, STANDARD

SEED = 20260302
OUT = Path(__file__).with_name("tickets_labelled.jsonl")
OPENED_AT = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
BRANDS = {"Chat": "1001", "Talk": "1002", "Guide": "1003", "Support": "1004"}
OPEN = {"en": ["", "Hi team, ", "Hello, ", "Good morning. ", "Hi support, "],
        "es": ["", "Hola, ", "Buenos días. ", "Hola equipo, "]}
CLOSE = {"en": ["", " Thanks.", " Please help asap.", " Regards, Ana", " Can you check?"],
         "es": ["", " Gracias.", " Saludos.", " Por favor revisen.", " Quedo atento."]}


def _payload(rng: random.Random, n: int, product: str, lang: str, subject: str, body: str, prio: str) -> dict:
    created = OPENED_AT + timedelta(minutes=rng.randint(-20, 180), seconds=rng.randint(0, 59))
    org, requester = str(rng.randint(100, 400)), str(rng.randint(10_000, 99_999))
    tags: list[str] = []
    brand = None
    how = rng.random()
    if how < 0.4:
        tags = [product.lower(), rng.choice(["web", "vip", "api", "mobile"])]
    elif how < 0.6:
        brand = BRANDS[product]
    else:
        tags = [rng.choice(["web", "", "mobile"])] if rng.random() < 0.5 else []
    tags = [t for t in tags if t]
    tid = str(50_000 + n)
    if rng.random() < 0.6:
        casing = str.upper if rng.random() < 0.5 else str.lower
        return {"type": "zen:event-type:ticket.created", "account_id": 9_000_001, "id": f"evt-{tid}",
                "time": created.isoformat(), "zendesk_event_version": "2022-11-06", "subject": f"zen:ticket:{tid}",
                "detail": {"id": tid, "subject": subject, "description": body, "status": casing("new"),
                           "priority": casing(prio) if prio else None, "type": casing("question"),
                           "tags": tags, "requester_id": requester, "organization_id": org, "brand_id": brand,
                           "group_id": "20001", "form_id": "30001", "created_at": created.isoformat(),
                           "via": {"channel": casing("web")}}}
    return {"ticket_id": tid, "subject": subject, "description": body, "requester": requester, "organization": org,
            "product": product if brand else None, "priority": prio or None, "tags": tags,
            "locale": lang if rng.random() < 0.5 else None, "created_at": created.isoformat(), "source": "native"}


def _problem_tickets(rng: random.Random, counter: list[int]) -> list[dict]:
    rows = []
    for theme, (product, incident, en_s, en_d, es_s, es_d) in PROBLEMS.items():
        for _ in range(20 if incident else 18):
            lang = "es" if rng.random() < 0.35 else "en"
            subj, det = (rng.choice(es_s), rng.choice(es_d)) if lang == "es" else (rng.choice(en_s), rng.choice(en_d))
            body = rng.choice(OPEN[lang]) + det + rng.choice(CLOSE[lang])
            prio = "urgent" if "urgent" in subj.lower() else rng.choice(["", "normal", "high", "high", "urgent"])
            counter[0] += 1
            rows.append({"kind": "ticket", "theme": theme, "lang": lang,
                         "expected": {"outcome": "linked" if incident else "new_incident", "incident_id": incident},
                         "payload": _payload(rng, counter[0], product, lang, subj, body, prio)})
    return rows


def _standard_tickets(rng: random.Random, counter: list[int]) -> list[dict]:
    rows = []
    for kind, (en_s, en_d, es_s, es_d) in STANDARD.items():
        for product in FEATURE_NAMES:
            for _ in range(8):
                lang = "es" if rng.random() < 0.35 else "en"
                f = rng.choice(FEATURE_NAMES[product])
                subj, det = (rng.choice(es_s), rng.choice(es_d)) if lang == "es" else (rng.choice(en_s), rng.choice(en_d))
                body = rng.choice(OPEN[lang]) + det.format(p=product, f=f) + rng.choice(CLOSE[lang])
                counter[0] += 1
                rows.append({"kind": "ticket", "theme": kind, "lang": lang,
                             "expected": {"outcome": "standard_support", "incident_id": None},
                             "payload": _payload(rng, counter[0], product, lang, subj.format(p=product, f=f), body,
                                                 rng.choice(["", "low", "normal", "normal", "high"]))})
    return rows


def main() -> None:
    rng = random.Random(SEED)
    counter = [0]
    incidents = [{"kind": "incident", "incident_id": i, "product": p, "title": t, "text": x,
                  "opened_at": OPENED_AT.isoformat()} for i, (p, t, x) in INCIDENTS.items()]
    tickets = _problem_tickets(rng, counter) + _standard_tickets(rng, counter)
    rng.shuffle(tickets)
    with OUT.open("w") as f:
        for row in incidents + tickets:
            f.write(json.dumps(row, ensure_ascii=False) + "\n")
    print(f"wrote {len(tickets)} tickets and {len(incidents)} incidents to {OUT}")


if __name__ == "__main__":
    main()
