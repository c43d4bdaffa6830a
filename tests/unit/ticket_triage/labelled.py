"""Measure the classifier on tests/data/tickets_labelled.jsonl: python -m tests.unit.ticket_triage.labelled"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from services.ticket_triage.domain.classify import IncidentView
from services.ticket_triage.domain.decide import assess
from services.ticket_triage.domain.policy import TriagePolicy
from services.ticket_triage.domain.tickets import parse_ticket

DATA = Path(__file__).resolve().parents[2] / "data" / "tickets_labelled.jsonl"
HOLDOUT = DATA.with_name("tickets_holdout.jsonl")
#: the brand mapping a deployment would configure (TRIAGE_POLICY__BRAND_PRODUCTS)
POLICY = TriagePolicy(brand_products={"1001": "Chat", "1002": "Talk", "1003": "Guide", "1004": "Support"})
OUTCOMES = ("linked", "new_incident", "standard_support")


@dataclass
class Result:
    rows: list[dict]
    predictions: list[tuple[str, str | None]]

    def precision_recall(self) -> dict[str, tuple[float, float]]:
        """Per outcome; a 'linked' prediction counts as correct only with the right incident."""
        tp, pred, gold = Counter(), Counter(), Counter()
        for row, (outcome, incident) in zip(self.rows, self.predictions, strict=True):
            exp = row["expected"]
            pred[outcome] += 1
            gold[exp["outcome"]] += 1
            if outcome == exp["outcome"] and (outcome != "linked" or incident == exp["incident_id"]):
                tp[outcome] += 1
        return {o: (tp[o] / pred[o] if pred[o] else 0.0, tp[o] / gold[o] if gold[o] else 0.0) for o in OUTCOMES}

    def errors(self) -> list[str]:
        out = []
        for row, (outcome, incident) in zip(self.rows, self.predictions, strict=True):
            exp = row["expected"]
            if outcome != exp["outcome"] or (outcome == "linked" and incident != exp["incident_id"]):
                p = row["payload"]
                d = p.get("detail", p)
                out.append(f"{exp['outcome']}/{exp['incident_id']} -> {outcome}/{incident}: {d['subject']!r} "
                           f"{d['description']!r}")
        return out


def _rows(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def load(path: Path = DATA) -> tuple[list[IncidentView], list[dict]]:
    """The incidents (always from the labelled set) and the tickets of `path`."""
    incidents = [IncidentView(r["incident_id"], r["product"], r["title"], datetime.fromisoformat(r["opened_at"]),
                              r["text"]) for r in _rows(DATA) if r["kind"] == "incident"]
    return incidents, [r for r in _rows(path) if r["kind"] == "ticket"]


def evaluate(path: Path = DATA, policy: TriagePolicy = POLICY) -> Result:
    incidents, tickets = load(path)
    preds = []
    for row in tickets:
        a = assess(parse_ticket(row["payload"], policy), incidents, policy)
        preds.append((a.outcome.value, a.match.incident_id if a.match and a.outcome.value == "linked" else None))
    return Result(tickets, preds)


if __name__ == "__main__":
    for path in (DATA, HOLDOUT):
        res = evaluate(path)
        print(f"== {path.name} ({len(res.rows)} tickets)")
        for o, (p, r) in res.precision_recall().items():
            print(f"{o:17s} precision {p:.3f} recall {r:.3f}")
        print("\n".join(res.errors()))
