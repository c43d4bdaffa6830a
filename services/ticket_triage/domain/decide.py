"""The decision, exactly one per ticket: link to an open incident, open a new one, or the standard route."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta

from shared.contracts import Severity, TriageOutcome, propose_severity

from .classify import (
    IncidentIndex, IncidentView, Match, ProblemAssessment, problem_features, similarity,
)
from .policy import TriagePolicy
from .tickets import Ticket


@dataclass(frozen=True)
class Assessment:
    """The classifier's view of one ticket, before the cluster policy: what the labelled set measures."""

    outcome: TriageOutcome
    problem: ProblemAssessment
    match: Match | None

    @property
    def features(self) -> dict[str, float]:
        feats = {f"problem.{k}": v for k, v in self.problem.features.items()}
        feats["problem_score"] = self.problem.score
        if self.match:
            feats.update({f"match.{k}": v for k, v in self.match.features.items()})
            feats["match_score"] = self.match.score
        return feats


def assess(ticket: Ticket, incidents: Sequence[IncidentView] | IncidentIndex, policy: TriagePolicy) -> Assessment:
    """Linked if a problem-ish ticket matches an open incident well enough; else problem or standard."""
    problem = problem_features(ticket)
    index = incidents if isinstance(incidents, IncidentIndex) else IncidentIndex(incidents)
    best = index.best_match(ticket, lookback_s=policy.match_lookback_s)
    if best and best.score >= policy.link_threshold and problem.score >= policy.link_min_problem:
        return Assessment(TriageOutcome.LINKED, problem, best)
    if problem.score >= policy.problem_threshold:
        return Assessment(TriageOutcome.NEW_INCIDENT, problem, best)
    return Assessment(TriageOutcome.STANDARD_SUPPORT, problem, best)


@dataclass(frozen=True)
class NewIncident:
    incident_id: str
    product: str
    title: str
    severity: Severity
    tickets: list[Ticket]
    summary: str


@dataclass(frozen=True)
class Decision:
    outcome: TriageOutcome
    reason: str
    score: float
    features: dict[str, float]
    incident_id: str | None = None
    pending_cluster: bool = False  # standard for now, but a problem that may still form a cluster
    new_incident: NewIncident | None = None
    problem_score: float = 0.0


def incident_id_for(seed_ticket: Ticket) -> str:
    """Deterministic id of the incident a cluster opens (a retry opens the same one)."""
    return "INC-" + hashlib.sha256(f"tickets:{seed_ticket.source}:{seed_ticket.ticket_id}".encode()).hexdigest()[:12]


def cluster_for(ticket: Ticket, pending: list[Ticket], policy: TriagePolicy) -> list[Ticket]:
    """Pending problem tickets of the same product, recent and similar enough to `ticket`, oldest first."""
    since = ticket.created_at - timedelta(seconds=policy.cluster_window_s)
    members = [p for p in pending if p.ticket_id != ticket.ticket_id and p.product == ticket.product
               and p.created_at >= since and similarity(ticket, p) >= policy.cluster_similarity]
    return sorted(members, key=lambda t: (t.created_at, t.ticket_id)) + [ticket]


def _open(ticket: Ticket, cluster: list[Ticket], why: str) -> NewIncident:
    orgs = {t.org_key for t in cluster}
    urgent = sum(t.priority == "urgent" for t in cluster)
    sev = propose_severity(organisations=len(orgs), tickets=len(cluster), urgent_tickets=urgent)
    product = ticket.product or "Support"
    title = f"{product}: customers report a service problem ({len(cluster)} tickets, {len(orgs)} organisations)"
    summary = f"Opened by ticket-triage ({why}). Reports: " + "; ".join(t.subject[:120] for t in cluster[:10])
    return NewIncident(incident_id_for(cluster[0]), product, title[:512], sev, cluster, summary[:4096])


def decide(ticket: Ticket, incidents: Sequence[IncidentView] | IncidentIndex, pending: list[Ticket],
           policy: TriagePolicy) -> Decision:
    """The one decision for a new ticket, given open incidents and recent pending problem tickets."""
    a = assess(ticket, incidents, policy)
    feats, ps = a.features, a.problem.score
    if a.outcome is TriageOutcome.LINKED and a.match:
        return Decision(a.outcome, f"matches open incident {a.match.incident_id} (score {a.match.score:.2f})",
                        a.match.score, feats, incident_id=a.match.incident_id, problem_score=ps)
    if a.outcome is TriageOutcome.STANDARD_SUPPORT:
        return Decision(a.outcome, f"not a service problem (problem score {ps:.2f})", ps, feats, problem_score=ps)
    if ticket.product is None:
        return Decision(TriageOutcome.STANDARD_SUPPORT, "service problem but product unknown; pending review", ps,
                        feats, pending_cluster=False, problem_score=ps)
    cluster = cluster_for(ticket, pending, policy)
    orgs = {t.org_key for t in cluster}
    feats["cluster.tickets"], feats["cluster.organisations"] = float(len(cluster)), float(len(orgs))
    if len(orgs) >= policy.cluster_min_orgs:
        why = f"{len(orgs)} organisations reported similar problems"
    elif policy.urgent_opens_incident and ticket.priority == "urgent":
        why = "urgent service problem report"
    else:
        feats["cluster.pending"] = 1.0
        return Decision(TriageOutcome.STANDARD_SUPPORT,
                        f"service problem reported; pending cluster ({len(orgs)} of {policy.cluster_min_orgs} "
                        f"organisations)", ps, feats, pending_cluster=True, problem_score=ps)
    new = _open(ticket, cluster, why)
    return Decision(TriageOutcome.NEW_INCIDENT, f"opened {new.incident_id}: {why}", ps, feats,
                    incident_id=new.incident_id, new_incident=new, problem_score=ps)


def late_links(incident: IncidentView, candidates: list[Ticket], policy: TriagePolicy) -> list[tuple[Ticket, Match]]:
    """Recently triaged problem tickets (not linked anywhere) that match a newly opened incident."""
    since = incident.opened_at - timedelta(seconds=policy.late_link_window_s)
    out = []
    for t in candidates:
        if t.created_at < since or (t.product is not None and t.product != incident.product):
            continue
        a = assess(t, [incident], policy)
        if a.outcome is TriageOutcome.LINKED and a.match:
            out.append((t, a.match))
    return out
