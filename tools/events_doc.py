"""Write docs/events.md from the contracts, so the event reference never drifts: python -m tools.events_doc"""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime
from pathlib import Path

from shared.contracts import (
    AlertAttached, AlertChange, AlertStateChanged, AlertValidated, CanonicalAlert, Contract, Decider,
    IncidentMerged, IncidentOpened, IncidentResolved, IncidentStatus, Severity, SeverityChanged, StatusChanged,
    StatusUpdatePosted, TicketLinked, TicketRef, TicketTriaged, TicketUnlinked, TriageOutcome, ValidationEscalated,
    make_event,
)

NOW = datetime(2026, 12, 3, 9, 30, tzinfo=UTC)
_ALERT = CanonicalAlert(
    id="al-3f2c9d", fingerprint="4c1a7e92d0b35f18", product="Chat", signal="error_rate", status="firing",
    severity="critical", summary="Chat API 5xx rate above 5%", labels={"alertname": "HighErrorRate", "service": "chat-api"},
    starts_at=NOW, source="alertmanager", source_url="http://prometheus:9090/graph?g0.expr=...", value=0.081,
    threshold=0.05)
_TICKET = TicketRef(ticket_id="35436", subject="Chat widget not loading", organization_id="org-81", locale="en",
                    product="Chat", priority="high")
_INC = "INC-7d3f9a2c41b0"

TOPICS: list[tuple[str, str, str, str, list[Contract]]] = [
    ("alerts.state", "alert-ingest", "engineering-validation", "fingerprint",
     [AlertStateChanged(change=AlertChange.FIRST_FIRING, alert=_ALERT, occurrences=1)]),
    ("alerts.validated", "engineering-validation", "notifier (escalations), downstream", "candidate id",
     [AlertValidated(candidate_id="cand-91e2", decision="confirmed", product="Chat", signal="error_rate",
                     team="chat-eng", decided_by=Decider(kind="policy", name="critical_still_firing"),
                     reason="critical alert still firing after 0s", severity=Severity.SEV1, incident_id=_INC,
                     fingerprints=["4c1a7e92d0b35f18"]),
      ValidationEscalated(candidate_id="cand-91e3", product="Talk", signal="latency", team="talk-eng",
                          pending_since=NOW, summary="Talk p95 latency above 2s")]),
    ("tickets.triaged", "ticket-triage", "support platform, engineering-validation", "ticket id",
     [TicketTriaged(ticket=_TICKET, outcome=TriageOutcome.LINKED, incident_id=_INC,
                    reason=f"matches open incident {_INC}", score=0.71,
                    features={"same_product": 1.0, "problem_terms": 0.8, "text_similarity": 0.46})]),
    ("incidents.updates", "engineering-validation, ticket-triage", "engineering-validation, ticket-triage, notifier, downstream",
     "incident id",
     [IncidentOpened(incident_id=_INC, title="Chat: error rate elevated", product="Chat", signal="error_rate",
                     severity=Severity.SEV1, opened_from="alerts", team="chat-eng",
                     public_message="We are investigating errors in Chat."),
      AlertAttached(incident_id=_INC, fingerprint="9a0b1c2d3e4f5a6b", signal="latency", summary="Chat p95 > 2s"),
      SeverityChanged(incident_id=_INC, previous=Severity.SEV2, severity=Severity.SEV1, changed_by="alice"),
      StatusChanged(incident_id=_INC, previous=IncidentStatus.INVESTIGATING, status=IncidentStatus.IDENTIFIED,
                    changed_by="alice"),
      StatusUpdatePosted(incident_id=_INC, update_id="upd-1", message="A fix is being deployed.",
                         status=IncidentStatus.IDENTIFIED, author="alice"),
      IncidentMerged(incident_id="INC-0b9e5a7f2c11", into_incident_id=_INC, ticket_ids=["35440"], merged_by="alice"),
      IncidentResolved(incident_id=_INC, message="Error rates are back to normal.", resolved_by="alice"),
      TicketLinked(incident_id=_INC, ticket=_TICKET, link_reason="triage"),
      TicketUnlinked(incident_id=_INC, ticket_id="35436", reason="agent override")]),
]

INTRO = """# Events

Generated from `shared/contracts/` by `make docs` (python -m tools.events_doc); do not edit by hand.

Every event the pipeline produces is a CloudEvents 1.0 event in **structured content mode**: the Kafka record's
value is the JSON envelope (`specversion`, `id`, `source`, `type`, `time`, `subject`, `datacontenttype`,
`data`), and the headers `content-type: application/cloudevents+json; charset=UTF-8`, `ce_type` and `ce_id`
repeat the type and id so a consumer can route without parsing. `id` is unique per event: consumers drop a
repeated id (an event can be delivered more than once). `data.schema_version` versions each payload; a
breaking change gets a new `type` (`...v2`).

Inputs from outside are the tools' own formats, not wrapped: `alerts.raw` (Alertmanager webhook, PagerDuty
Events v2, native alert; see docs/alert-ingest.md) and `tickets.new` (Zendesk ticket.created event, native
ticket; see docs/ticket-triage.md). Records a consumer rejects go unchanged to `<topic>.DLT` with `dlt-*`
headers (docs/architecture.md).

## Subscribing to incidents.updates

Use your own consumer group, read from the earliest offset, and key your state by the record key (the
incident id): all events of one incident are in one partition, in order. Dispatch on `type` (or the `ce_type`
header), ignore types you do not know (new ones may be added), and drop ids you have already processed.
"""


def main(out: str = "docs/events.md") -> None:
    parts = [INTRO]
    for topic, producer, consumers, key, samples in TOPICS:
        parts.append(f"\n## `{topic}`\n\nProduced by {producer}; consumed by {consumers}. Key: {key}.\n")
        for sample in samples:
            cls = type(sample)
            event = make_event(sample, source=f"/services/{producer.split(',')[0]}", subject=key,
                               event_id="5f0c2a6e-1c1f-4f0e-9b0e-2f1d3f7f9a10", time=NOW)
            fields = cls.model_json_schema()["properties"]
            rows = "\n".join(
                f"| `{name}` | {(spec.get('description') or '').replace('|', '/')} |" for name, spec in fields.items()
            )
            parts.append(f"\n### {cls.__name__} — `{cls.event_type}`\n\n{(cls.__doc__ or '').strip()}\n\n"
                         f"| field | meaning |\n|---|---|\n{rows}\n\n```json\n"
                         f"{json.dumps(event.model_dump(mode='json'), indent=2)}\n```\n")
    Path(out).write_text("".join(parts))
    print(f"wrote {out}")


if __name__ == "__main__":
    main(*sys.argv[1:])
