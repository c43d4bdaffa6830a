"""Validation use cases: alerts in, candidates grouped and decided (policy or engineer), incidents opened or joined.

Every use case runs in one transaction that first takes the product's lock, so concurrent consumers, timers
and API calls of any instance see and change a product's candidates one at a time.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import asyncpg
import structlog

from shared.contracts import (
    AlertChange, AlertStateChanged, AlertStatus, AlertValidated, Decider, Severity, Signal, ValidationEscalated,
    deterministic_id, propose_severity,
)

from . import incident_ops as ops
from . import incident_store as inc
from . import store
from .domain.incidents import IncidentView, auto_resolve_due, incident_id_for, match_incident, propose
from .domain.model import CandidateView, Decision
from .domain.policies import PolicyConfig, evaluate
from .events import Publisher
from .metrics import CANDIDATES_OPENED, DECISIONS, ESCALATIONS, TIME_TO_DECISION
from .settings import Settings

log = structlog.get_logger(__name__)
Conn = asyncpg.Connection


def policy_config(s: Settings) -> PolicyConfig:
    return PolicyConfig(critical_policy=s.critical_policy, critical_delay_s=s.critical_delay_s,
                        multi_signal_min=s.multi_signal_min, ticket_min=s.ticket_min,
                        ticket_linked_confirms=s.ticket_linked_confirms, transient_window_s=s.transient_window_s,
                        mirror_grace_s=s.mirror_grace_s)


@dataclass
class BatchWork:
    """What a batch leaves to its end: products whose policies to run, alerts to announce per incident."""

    touched: set[str] = field(default_factory=set)
    attach: dict[str, list[str]] = field(default_factory=dict)
    #: open incidents per product, read once: none opens before `finish` (incidents.updates is applied first)
    open_incidents: dict[str, list[IncidentView]] = field(default_factory=dict)


class Validation:
    """The candidate lifecycle; callers own the transaction and the product lock."""

    def __init__(self, settings: Settings, pub: Publisher) -> None:
        self.s = settings
        self.pub = pub
        self.cfg = policy_config(settings)

    def team_for(self, product: str) -> str:
        return self.s.owners.get(product, self.s.fallback_team)

    async def apply_alert(self, conn: Conn, event: AlertStateChanged, now: datetime, work: BatchWork) -> None:
        """One alert state change: join/open a candidate, attach to an open incident, or update state.

        The policies and the AlertAttached events are left to `finish`, once per batch.
        """
        a = event.alert
        work.touched.add(a.product)
        row = await store.get_alert(conn, a.fingerprint)
        if row is not None and row["live"]:
            await self._update_episode(conn, event, row, now)
            return
        if a.status != AlertStatus.FIRING:
            return  # a resolution for an alert we never saw firing (or whose episode ended): nothing to decide
        if (incidents := work.open_incidents.get(a.product)) is None:
            incidents = work.open_incidents[a.product] = await inc.open_for_product(conn, a.product)
        open_incident = match_incident(a.product, a.signal, incidents)
        candidate_id = None
        if open_incident is None:
            since = now - timedelta(seconds=self.s.group_window_s)
            candidate_id = await store.find_pending_candidate(conn, a.product, a.signal.value, since)
            if candidate_id is None:
                candidate_id = await self._new_candidate(conn, a.product, a.signal, a.summary, now)
        else:
            work.attach.setdefault(open_incident.id, []).append(a.fingerprint)
        await store.upsert_alert(conn, fingerprint=a.fingerprint, product=a.product, signal=a.signal.value,
                                 severity=a.severity.value, summary=a.summary, candidate_id=candidate_id,
                                 incident_id=open_incident.id if open_incident else None, now=now)

    async def finish(self, conn: Conn, work: BatchWork, now: datetime) -> None:
        """End of a batch: announce alerts attached to open incidents, then run the touched products' policies."""
        for incident_id, fingerprints in work.attach.items():
            alerts = await store.get_alerts(conn, list(dict.fromkeys(fingerprints)))
            await ops.attach(conn, self.pub, incident_id, list(alerts), "policy:open_incident_match", now)
        for product in sorted(work.touched):
            await self.evaluate_product(conn, product, now)

    async def _update_episode(self, conn: Conn, event: AlertStateChanged, row: asyncpg.Record,
                              now: datetime) -> None:
        """A known alert changed state: re-evaluate its candidate, or follow it on its incident."""
        a = event.alert
        firing = a.status == AlertStatus.FIRING
        await store.set_alert_state(conn, a.fingerprint, firing=firing, severity=a.severity.value, now=now)
        if row["incident_id"] and not firing:
            await self._maybe_schedule_auto_resolve(conn, row["incident_id"], a.product, now)
        if row["incident_id"] and firing:
            await store.cancel(conn, "auto_resolve", row["incident_id"])
            if event.change == AlertChange.SEVERITY_RAISED:  # not on a refire: an engineer may have lowered it
                await self._raise_severity(conn, row["incident_id"], a.severity.value, now)

    async def _raise_severity(self, conn: Conn, incident_id: str, alert_severity: str, now: datetime) -> None:
        """An attached alert got worse: raise the incident's severity if the alert alone warrants more."""
        row = await inc.get(conn, incident_id)
        proposed = propose_severity(alert_severity=alert_severity)
        if row is not None and Severity(row["severity"]).rank > proposed.rank:
            await ops.change_severity(conn, self.pub, row, proposed, "policy:alert_severity_raised", now)

    async def _new_candidate(self, conn: Conn, product: str, signal: Signal, summary: str, now: datetime) -> str:
        cid = "CAN-" + uuid.uuid4().hex[:12]
        await store.create_candidate(conn, id=cid, product=product, signal=signal.value,
                                     team=self.team_for(product), summary=summary, now=now)
        await store.schedule(conn, "escalate", cid, product, now + timedelta(seconds=self.s.escalate_after_s))
        CANDIDATES_OPENED.labels(self.team_for(product)).inc()
        log.info("candidate opened", candidate_id=cid, product=product, signal=signal.value)
        return cid

    async def evaluate_product(self, conn: Conn, product: str, now: datetime) -> None:
        """Run the policies on every pending candidate of the product; decide or set a wake-up timer."""
        ev = None
        for row in await store.pending_candidates(conn, product):
            cand = await store.candidate_view(conn, row)
            if ev is None:  # the product's evidence, read again only after a decision changed it
                ev = await store.evidence(conn, product, now, signal_window_s=self.s.multi_signal_window_s,
                                          ticket_window_s=self.s.ticket_window_s)
            verdict = evaluate(cand, ev, now, self.cfg)
            if verdict.decision is not None:
                await self.decide(conn, cand, verdict.decision, Decider(kind="policy", name=verdict.decision.policy),
                                  now)
                ev = None
            elif verdict.wake_at is not None:
                await store.schedule(conn, "evaluate", cand.id, product, verdict.wake_at)

    async def decide(self, conn: Conn, cand: CandidateView, decision: Decision, by: Decider, now: datetime, *,
                     severity: Severity | None = None, title: str | None = None) -> AlertValidated:
        """Record a decision; a confirmation opens or joins an incident. Publishes AlertValidated."""
        incident_id = None
        if decision.outcome == "confirmed":
            ev = await store.evidence(conn, cand.product, now, signal_window_s=self.s.multi_signal_window_s,
                                      ticket_window_s=self.s.ticket_window_s)
            severity = severity or propose(cand, ev)
            incident_id = await self._open_or_join(conn, cand, decision, by, severity, title, now)
        await store.decide_candidate(conn, cand.id, outcome=decision.outcome, kind=by.kind, by=by.name,
                                     reason=decision.reason, severity=severity.value if severity else None,
                                     incident_id=incident_id, now=now)
        await store.cancel(conn, "evaluate", cand.id)
        await store.cancel(conn, "escalate", cand.id)
        data = AlertValidated(candidate_id=cand.id, decision=decision.outcome, product=cand.product,
                              signal=cand.signal, team=cand.team, decided_by=by, reason=decision.reason,
                              severity=severity, incident_id=incident_id,
                              fingerprints=[a.fingerprint for a in cand.alerts])
        await self.pub.validation(conn, data, event_id=deterministic_id("alert-validated", cand.id))
        DECISIONS.labels(decision.outcome, by.kind, by.name if by.kind == "policy" else "engineer").inc()
        TIME_TO_DECISION.labels(by.kind).observe(max(0.0, (now - cand.created_at).total_seconds()))
        log.info("candidate decided", candidate_id=cand.id, decision=decision.outcome, by=by.name,
                 incident_id=incident_id)
        return data

    async def _open_or_join(self, conn: Conn, cand: CandidateView, decision: Decision, by: Decider,
                            severity: Severity, title: str | None, now: datetime) -> str:
        since = now - timedelta(seconds=self.s.multi_signal_window_s) if decision.policy == "multi_signal" else None
        target = match_incident(cand.product, cand.signal, await inc.open_for_product(conn, cand.product),
                                any_signal_since=since)
        actor = f"{by.kind}:{by.name}"
        alerts = await conn.fetch("SELECT * FROM alerts WHERE candidate_id=$1 ORDER BY fired_at", cand.id)
        if target is None:
            incident_id = incident_id_for(cand.id)
            summary = (await store.get_candidate(conn, cand.id))["summary"]
            await ops.open_incident(conn, self.pub, id=incident_id, title=title or f"{cand.product}: {summary}"[:512],
                                    product=cand.product, signal=cand.signal, severity=severity,
                                    opened_from="alerts", team=cand.team, summary=decision.reason, actor=actor,
                                    now=now)
            await ops.attach(conn, self.pub, incident_id, list(alerts), actor, now)
            return incident_id
        await ops.attach(conn, self.pub, target.id, list(alerts), actor, now)
        row = await inc.get(conn, target.id)
        if Severity(row["severity"]).rank > severity.rank:  # stronger evidence raises the severity
            await ops.change_severity(conn, self.pub, row, severity, actor, now)
        return target.id

    async def escalate(self, conn: Conn, candidate_id: str, now: datetime) -> None:
        """Timer: a candidate still pending is escalated once (held candidates wait for the silence to end)."""
        row = await store.get_candidate(conn, candidate_id)
        if row is None or row["status"] != "pending" or row["escalated_at"] is not None:
            return
        held = [s for s in await store.active_silences(conn, row["product"], now)
                if s.covers(row["product"], Signal(row["signal"]), now)]
        if held:
            await store.schedule(conn, "escalate", candidate_id, row["product"], max(s.ends_at for s in held))
            return
        await store.mark_escalated(conn, candidate_id, now)
        data = ValidationEscalated(candidate_id=candidate_id, product=row["product"], signal=Signal(row["signal"]),
                                   team=row["team"], pending_since=row["created_at"], summary=row["summary"])
        await self.pub.validation(conn, data, event_id=deterministic_id("validation-escalated", candidate_id))
        ESCALATIONS.labels(row["team"]).inc()
        log.info("candidate escalated", candidate_id=candidate_id, team=row["team"])

    async def _maybe_schedule_auto_resolve(self, conn: Conn, incident_id: str, product: str, now: datetime) -> None:
        if not self.s.auto_resolve:
            return
        firing = await conn.fetchval("SELECT count(*) FROM alerts WHERE incident_id=$1 AND status='firing'",
                                     incident_id)
        if firing == 0:
            due = now + timedelta(seconds=self.s.auto_resolve_quiet_s)
            await store.schedule(conn, "auto_resolve", incident_id, product, due, replace=True)

    async def auto_resolve(self, conn: Conn, incident_id: str, now: datetime) -> None:
        """Timer: resolve the incident if it is still open and its alerts are all still resolved."""
        row = await inc.get(conn, incident_id)
        if row is None or row["status"] == "resolved" or row["merged_into"] is not None:
            return
        resolved_at = [a["resolved_at"] for a in await inc.alerts(conn, incident_id)]
        due = auto_resolve_due(resolved_at, self.s.auto_resolve_quiet_s)
        if due is None:
            return  # an alert fires again: a later resolution schedules a new timer
        if due > now:
            await store.schedule(conn, "auto_resolve", incident_id, row["product"], due, replace=True)
            return
        await ops.resolve(conn, self.pub, row, "All alerts resolved; resolved automatically after a quiet period.",
                          "policy:auto_resolve", now)
