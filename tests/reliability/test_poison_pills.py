"""Single records that fail their consumer's batch on every redelivery (poison pills), found by the bad-input
fuzz and sent here one at a time on their own stack slice, so they cannot block the other tests.

Each pill is produced, then the test waits until every consuming group has committed past it (processed or
dead-lettered). A pill the group never gets past blocks its partition for good: the bug is described in the
xfail reason and in docs/reliability.md.
"""

from __future__ import annotations

import asyncio
import signal
import uuid
from typing import Any

import orjson
import pytest
from aiokafka import AIOKafkaProducer

from shared.contracts import make_event
from shared.topics import dlt
from tests.reliability.conftest import ChaosPipeline
from tests.reliability.test_bad_input import group_lag
from tests.support.chaos import read_all, record
from tests.support.waiting import eventually
from tools.demo import zendesk_ticket

NUL = "\u0000"


def _event(topic: str, index: int, **changes: Any) -> bytes:
    from tools.events_doc import TOPICS

    example = next(ex for t, *_rest, ex in TOPICS if t == topic)[index]
    data = example.model_copy(update=changes)
    return orjson.dumps(make_event(data, source="/pill").model_dump(mode="json"))


def _deep(depth: int) -> Any:
    d: Any = 1
    for _ in range(depth):
        d = {"a": d}
    return d


def pills() -> dict[str, tuple[str, bytes, list[tuple[str, bytes]], list[str], str | None]]:
    """name -> (topic, value, headers, consuming groups, bug when it is a known pill)."""
    from tools.events_doc import _TICKET

    nul_ticket = _TICKET.model_copy(update={"subject": f"Chat {NUL} down", "ticket_id": uuid.uuid4().hex[:8]})
    deep_pd = (b'{"routing_key":"k","event_action":"trigger","dedup_key":"pill-deep-' + uuid.uuid4().hex.encode()
               + b'","payload":{"summary":"s","source":"s","severity":"error","custom_details":{"x":'
               + b'{"a":' * 300 + b"1" + b"}" * 300 + b"}}}")
    zt = zendesk_ticket(int(uuid.uuid4().int % 10**9), f"Chat {NUL} widget", "errors", 7)
    return {
        "alerts.raw: PagerDuty custom_details nested 300 deep": (
            "alerts.raw", deep_pd, [], ["alert-ingest"],
            "services/alert_ingest/domain/normalise.py str_map: orjson.dumps of a value nested deeper than "
            "orjson's limit (254) raises TypeError while the canonical alert is built lazily inside "
            "IngestService.handle; only BadInput is dead-lettered, so the batch is NACKed forever"),
        "alerts.raw: native alert with U+0000 in a label": (
            "alerts.raw", orjson.dumps({"status": "firing", "summary": "Talk down", "product": "Talk",
                                        "fingerprint": f"pill-{uuid.uuid4().hex[:8]}", "labels": {"x": f"a{NUL}b"}}),
            [], ["alert-ingest"],
            "services/alert_ingest/store.py save: the alert (labels) is written to the jsonb column "
            "alert_state.alert; PostgreSQL refuses \\u0000 in jsonb (UntranslatableCharacterError), the parser "
            "accepted the record, so the batch fails on every redelivery"),
        "alerts.raw: native alert with an unknown field named with U+0000": (
            "alerts.raw", orjson.dumps({"status": "firing", "summary": "Talk down", f"x{NUL}y": 1}), [],
            ["alert-ingest"],
            "services/alert_ingest/domain/formats.py describe(): the error location (here the unknown key itself) "
            "goes raw into the BadInput message, then into the dlt-error-message header, stored as jsonb by "
            "shared/outbox.py raw_row; jsonb refuses \\u0000, so the dead letter cannot be written and the batch "
            "fails forever (found by the full fuzz run)"),
        "alerts.raw: native alert whose status is an array nested 1000 deep": (
            "alerts.raw", b'{"summary": "Talk down", "status": ' + b"[" * 1000 + b"]" * 1000 + b"}", [],
            ["alert-ingest"],
            "services/alert_ingest/domain/formats.py parse (careful path): pydantic builds the enum error for "
            "`status` with repr() of a 1000-deep list, which raises RecursionError out of model_validate; only "
            "ValidationError/BadInput are caught, so IngestService.handle fails the batch forever (and "
            "POST /v1/alerts answers 500). Fix: catch RecursionError in parse (BadInput 'too_deep') or refuse "
            "depth > 64 before validating (found by the full fuzz run)"),
        "tickets.new: Zendesk ticket whose description is nested 1000 deep": (
            "tickets.new", b'{"type": "zen:event-type:ticket.created", "detail": {"id": "77", "subject": "s", '
            b'"created_at": "2026-12-03T09:00:00Z", "description": ' + b"[" * 1000 + b"]" * 1000 + b"}}", [],
            ["ticket-triage"],
            "services/ticket_triage/domain/tickets.py _zendesk: str(d.get('description')) of a 1000-deep list "
            "raises RecursionError; handle_tickets dead-letters only JSONDecodeError/TicketFormatError/TypeError, "
            "so the batch fails forever, and POST /v1/tickets/zendesk answers 500. Fix: require str fields "
            "(TicketFormatError otherwise) (found by the full fuzz run)"),
        "alerts.raw: junk with a NUL byte in a record header": (
            "alerts.raw", b"not json", [("trace", b"a\x00b")], ["alert-ingest"],
            "shared/outbox.py raw_row: the original headers are stored as jsonb; a header value with a NUL "
            "byte becomes \\u0000, which jsonb refuses, so writing the dead letter fails the batch forever"),
        "tickets.new: Zendesk ticket with U+0000 in the subject": (
            "tickets.new", orjson.dumps(zt), [], ["ticket-triage"],
            "services/ticket_triage/store.py insert_ticket: a subject with U+0000 goes to a text column; "
            "PostgreSQL refuses NUL in text (CharacterNotInRepertoireError); parse_ticket accepted it, so "
            "TriageService.handle_tickets fails the batch forever"),
        "tickets.triaged: TicketTriaged with U+0000 in the subject": (
            "tickets.triaged", _event("tickets.triaged", 0, ticket=nul_ticket), [], ["engineering-validation"],
            None),
        "incidents.updates: TicketLinked with U+0000 in the subject": (
            "incidents.updates", _event("incidents.updates", 7, ticket=nul_ticket,
                                        incident_id=f"INC-{uuid.uuid4().hex[:12]}"),
            [], ["engineering-validation", "ticket-triage", "notifier"],
            "engineering-validation (intake.py handle -> incident_ops.mirror): the ticket of a TicketLinked is "
            "stored as jsonb (incident_tickets.ticket); U+0000 is refused (UntranslatableCharacterError) and "
            "the whole batch (all partitions) is redelivered forever"),
        "alerts.validated: ValidationEscalated with U+0000 in the summary": (
            "alerts.validated", _event("alerts.validated", 1, summary=f"Talk {NUL} slow",
                                       candidate_id=f"cand-{uuid.uuid4().hex[:6]}"), [], ["notifier"], None),
    }


PILLS = pills()


async def _skip_past(pipeline: ChaosPipeline, group: str, topic: str, partition: int, offset: int) -> None:
    """Move a stuck group past a pill: stop its service, commit offset+1 for the pill's partition, restart."""
    from aiokafka import AIOKafkaConsumer, TopicPartition

    pipeline.procs[group].stop(signal.SIGTERM)
    c = AIOKafkaConsumer(bootstrap_servers=pipeline.stack.bootstrap, group_id=pipeline.stack.topics.group(group),
                         enable_auto_commit=False)
    await c.start()
    try:
        tp = TopicPartition(topic, partition)
        c.assign([tp])
        await c.commit({tp: offset + 1})
    finally:
        await c.stop()
    await pipeline.start(group)


@pytest.fixture(scope="module")
async def outcomes(pipeline: ChaosPipeline) -> dict[str, dict[str, Any]]:
    """Send the pills one at a time: a group that does not get past one within a few seconds (a healthy one
    takes about one batch timeout) is blocked; it is then moved past the pill, so the next pill is judged
    on its own."""
    topics = pipeline.stack.topics
    p = AIOKafkaProducer(bootstrap_servers=pipeline.stack.bootstrap, acks="all", enable_idempotence=True)
    await p.start()
    result: dict[str, dict[str, Any]] = {}
    try:
        for name, (topic, value, headers, groups, _bug) in PILLS.items():
            key = f"pill-{uuid.uuid4().hex[:10]}".encode()
            full_topic = topics.name(topic)
            md = await p.send_and_wait(full_topic, value, key=key, headers=headers or None)

            async def past(md=md, groups=groups, full_topic=full_topic) -> dict[str, bool]:
                out = {}
                for g in groups:
                    lag = await group_lag(pipeline.stack.bootstrap, topics.group(g), full_topic)
                    out[g] = md.partition not in lag or lag[md.partition][0] > md.offset
                return out

            try:
                state = await eventually(past, until=lambda s: all(s.values()), timeout=5, interval=0.5,
                                         what=f"every group past {name}")
            except AssertionError:
                state = await past()
            ready = await pipeline.all_ready()
            for g, ok in state.items():
                if not ok:
                    await _skip_past(pipeline, g, full_topic, md.partition, md.offset)
            letters = [r for r in await read_all(pipeline.stack.bootstrap, dlt(full_topic)) if r.key == key]
            result[name] = {"past": state, "dead_letters": len(letters), "partition": md.partition,
                            "offset": md.offset}
            record({"scenario": f"poison pill: {name}", "inputs": 1,
                    "blocked_groups": [g for g, ok in state.items() if not ok], "dead_letters": len(letters),
                    "services_ready": ready, "lost": 0, "duplicated": 0}, kind="poison_pill")
    finally:
        await p.stop()
    return result


def _case(name: str):
    return pytest.param(name, id=name.split(":")[0] + ":" + name.split(":")[1][:40])


@pytest.mark.parametrize("name", [_case(n) for n in PILLS])
async def test_no_record_blocks_its_partition(outcomes, name: str) -> None:
    o = outcomes[name]
    blocked = [g for g, ok in o["past"].items() if not ok]
    assert not blocked, f"{name}: {blocked} never got past partition {o['partition']} offset {o['offset']}"


async def test_services_stay_ready_after_pills(outcomes, pipeline: ChaosPipeline) -> None:
    await asyncio.sleep(0)  # outcomes already waited
    assert await pipeline.all_ready()
