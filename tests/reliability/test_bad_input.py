"""Bad input on every path, Kafka and HTTP, generated with hypothesis (tests/support/fuzz.py).

Kafka: every input the consuming service's own parser rejects must be in `<topic>.DLT` exactly once per
consuming service, with `dlt-error-class` and `dlt-error-message`; every consumer group must get to the end
of the topic (a record that fails the batch forever is a poison pill); the services stay ready.
HTTP: every response is 2xx (valid) or 4xx with a JSON reason, never 5xx; the services stay ready.

Inputs the services' pure code path itself crashes on (an exception other than the parser's own) are counted
as `crashers` and kept out of the shared run: tests/reliability/test_poison_pills.py sends them on their own.
"""

from __future__ import annotations

import asyncio
import os
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import httpx
import orjson
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from shared.contracts import INCIDENT_EVENTS
from shared.topics import dlt
from tests.e2e.stories import sign_zendesk
from tests.reliability.conftest import PD_ROUTING_KEY, RECEIVER_TOKEN, SIGNING_SECRET, ChaosPipeline, full_or_short
from tests.support import fuzz
from tests.support.chaos import FULL, read_all, record
from tests.support.waiting import eventually

# ~100,000 generated inputs across the paths in full mode, a few thousand in the short one
KAFKA_N = full_or_short(15_000, 400)
HTTP_N = full_or_short(2_500, 120)
LIMIT = 1024 * 1024


def alert_validator() -> Callable[[bytes], Any]:
    from services.alert_ingest.domain.formats import parse

    def check(v: bytes) -> Any:
        _, obs = parse(v, received_at=datetime.now(UTC), product_map={})
        for o in obs:
            o.alert  # noqa: B018  (built lazily by the service: building it is part of the path)
            orjson.dumps(o.alert.model_dump(mode="json"))
        return obs
    return check


def ticket_validator() -> Callable[[bytes], Any]:
    from services.ticket_triage.domain.tickets import parse_ticket
    from services.ticket_triage.settings import Settings

    policy = Settings().policy
    return lambda v: parse_ticket(orjson.loads(v), policy)


def registry_for(topic: str) -> Any:
    from shared import contracts as c

    by = {"alerts.state": "ALERT_STATE_EVENTS", "tickets.triaged": "TRIAGE_EVENTS",
          "incidents.updates": "INCIDENT_EVENTS", "alerts.validated": "VALIDATION_EVENTS"}
    return getattr(c, by[topic], INCIDENT_EVENTS)


def caught_by(topic: str) -> tuple[type[BaseException], ...]:
    """The exceptions the consuming service turns into dead letters (anything else fails the batch)."""
    if topic == "alerts.raw":
        from services.alert_ingest.domain.formats import BadInput

        return (BadInput,)
    if topic == "tickets.new":
        from services.ticket_triage.domain.tickets import TicketFormatError

        return (orjson.JSONDecodeError, TicketFormatError, TypeError)
    return (Exception,)  # the event consumers dead-letter whatever does not decode


def expected_rejection(validator: Callable[[bytes], Any], value: bytes, caught: tuple[type[BaseException], ...]
                       ) -> tuple[bool, str | None]:
    """(rejected, crash): rejected when the parser refuses it; crash names an exception the service does not
    catch (the record would fail its batch on every redelivery). Inputs with U+0000 are included: PostgreSQL
    stores it neither in text nor in jsonb, and the parsers now refuse it (test_poison_pills.py)."""
    try:
        validator(value)
    except caught:
        return True, None
    except Exception as exc:
        return True, type(exc).__name__
    return False, None


PATHS = [
    # (topic, consumers and their groups, seeds, validator)
    ("alerts.raw", {"alert-ingest": "alert-ingest"}, fuzz.seeds_alerts_raw, alert_validator),
    ("tickets.new", {"ticket-triage": "ticket-triage"}, fuzz.seeds_tickets_new, ticket_validator),
    ("alerts.state", {"engineering-validation": "engineering-validation"},
     lambda: fuzz.seeds_events()["alerts.state"], lambda: registry_for("alerts.state").decode),
    ("tickets.triaged", {"engineering-validation": "engineering-validation"},
     lambda: fuzz.seeds_events()["tickets.triaged"], lambda: registry_for("tickets.triaged").decode),
    ("alerts.validated", {"notifier": "notifier"},
     lambda: fuzz.seeds_events()["alerts.validated"], lambda: registry_for("alerts.validated").decode),
    ("incidents.updates", {"engineering-validation": "engineering-validation", "ticket-triage": "ticket-triage",
                           "notifier": "notifier"},
     lambda: fuzz.seeds_events()["incidents.updates"], lambda: registry_for("incidents.updates").decode),
]


def junk_headers(i: int) -> list[tuple[str, bytes]]:
    """Headers on one record in five, some of them not UTF-8 (a binary header once made FastStream's batch
    parser drop a whole batch unprocessed), some empty, one key repeated."""
    if i % 5:
        return []
    return [("fz-binary", bytes([0xFF, 0xFE, i % 256])), ("fz-empty", b""), ("fz-text", b"ok"),
            ("fz-text", "\u00e9".encode())][: 1 + i % 4]


async def produce_keyed(bootstrap: str, topic: str, items: list[tuple[bytes, bytes]]) -> list[int]:
    """Produce every (key, value); returns the indexes the broker refused (over its size limit)."""
    p = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", enable_idempotence=True, linger_ms=5,
                         max_request_size=4 * 1024 * 1024)
    await p.start()
    refused: list[int] = []
    try:
        futures = [await p.send(topic, v, key=k, headers=junk_headers(i)) for i, (k, v) in enumerate(items)]
        for i, res in enumerate(await asyncio.gather(*futures, return_exceptions=True)):
            if isinstance(res, Exception):
                refused.append(i)
    finally:
        await p.stop()
    return refused


async def group_lag(bootstrap: str, group: str, topic: str) -> dict[int, tuple[int, int]]:
    """Partition -> (committed, end) for partitions where the group is behind."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        committed = await admin.list_consumer_group_offsets(group)
    finally:
        await admin.close()
    c = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=None)
    await c.start()
    try:
        tps = [TopicPartition(topic, i) for i in range(6)]
        ends = await c.end_offsets(tps)
    finally:
        await c.stop()
    out = {}
    for tp in tps:
        done = committed[tp].offset if tp in committed else 0
        if done < ends[tp]:
            out[tp.partition] = (done, ends[tp])
    return out


async def stuck_records(bootstrap: str, topic: str, lag: dict[int, tuple[int, int]]) -> list[str]:
    """The first record of each partition a group cannot get past (what a poison pill looks like)."""
    out = []
    c = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=None, enable_auto_commit=False)
    await c.start()
    try:
        for part, (done, _) in lag.items():
            tp = TopicPartition(topic, part)
            c.assign([tp])
            c.seek(tp, done)
            got = await c.getmany(tp, timeout_ms=3000, max_records=1)
            for r in got.get(tp, []):
                out.append(f"p{part}@{r.offset} key={r.key!r} value={r.value[:200]!r}")
    finally:
        await c.stop()
    return out


@pytest.mark.parametrize("path", PATHS, ids=[p[0] for p in PATHS])
async def test_kafka_bad_input(pipeline: ChaosPipeline, path) -> None:
    topic_base, consumers, seeds, make_validator = path
    topics = pipeline.stack.topics
    topic = topics.name(topic_base)
    validator = make_validator()
    t0 = time.monotonic()
    values = fuzz.generate(fuzz.mutated(seeds(), limit=LIMIT), KAFKA_N)
    run = uuid.uuid4().hex[:8]
    items, rejected, crashers = [], set(), Counter()
    for i, v in enumerate(values):
        bad, crash = expected_rejection(validator, v, caught_by(topic_base))
        if crash:
            crashers[crash] += 1  # kept out: test_poison_pills.py sends these on their own
            continue
        key = f"fz-{run}-{i}".encode()
        items.append((key, v))
        if bad:
            rejected.add(key)
    refused = await produce_keyed(pipeline.stack.bootstrap, topic, items)
    refused_keys = {items[i][0] for i in refused}
    rejected -= refused_keys
    sent = len(items) - len(refused)
    # every consumer group gets to the end of the topic: nothing blocks a partition
    for name in consumers:
        group = topics.group(name)
        try:
            await eventually(lambda g=group: group_lag(pipeline.stack.bootstrap, g, topic), until=lambda x: not x,
                             timeout=full_or_short(600, 90), interval=1.0, what=f"{name} reads {topic} to its end")
        except AssertionError:
            lag = await group_lag(pipeline.stack.bootstrap, group, topic)
            raise AssertionError(f"{name} is stuck on {topic}: {lag}; first unprocessed records: "
                                 f"{await stuck_records(pipeline.stack.bootstrap, topic, lag)}") from None
    # every rejected input is dead-lettered once per consumer, with its reason
    letters: dict[str, Counter[bytes]] = defaultdict(Counter)
    no_reason = 0
    for r in await read_all(pipeline.stack.bootstrap, dlt(topic), timeout=120):
        if r.key is None or not r.key.startswith(f"fz-{run}-".encode()):
            continue
        h = {k: v.decode(errors="replace") for k, v in r.headers}
        if not h.get("dlt-error-class") or not h.get("dlt-error-message"):
            no_reason += 1
        letters[h.get("dlt-service", "?")][r.key] += 1
    missing = {n: len(rejected - set(letters[n])) for n in consumers}
    dup = {n: sum(c - 1 for c in letters[n].values() if c > 1) for n in consumers}
    wrongly = {n: len(set(letters[n]) - rejected) for n in consumers}
    assert await pipeline.all_ready(), "a service is not ready after the bad input"
    result = {"scenario": f"bad input: kafka {topic_base}", "inputs": len(values), "sent": sent,
              "refused_by_broker": len(refused), "rejected": len(rejected), "accepted": sent - len(rejected),
              "dead_lettered": {n: len(set(letters[n]) & rejected) for n in consumers}, "dlt_missing": missing,
              "dlt_duplicated": dup, "dlt_of_valid_input": wrongly, "dlt_without_reason": no_reason,
              "crashers_kept_out": dict(crashers), "seconds": round(time.monotonic() - t0, 1),
              "lost": sum(missing.values()), "duplicated": sum(dup.values())}
    record(result, kind="bad_input")
    print(result)
    assert not any(missing.values()), result
    assert not any(dup.values()), result
    assert not no_reason, result


HTTP_TARGETS = [
    # (service, path, auth, seeds)
    ("alert-ingest", "/v1/alerts", "receiver", fuzz.seeds_alerts_raw),
    ("alert-ingest", "/v1/alerts/alertmanager", "receiver", lambda: fuzz.seeds_alerts_raw()[1:2]),
    ("alert-ingest", "/v2/enqueue", "none", lambda: fuzz.seeds_alerts_raw()[2:3]),
    ("ticket-triage", "/v1/tickets/zendesk", "zendesk", lambda: fuzz.seeds_tickets_new()[:1]),
    ("ticket-triage", "/v1/tickets", "token", lambda: fuzz.seeds_tickets_new()[1:]),
]


@pytest.mark.parametrize("target", HTTP_TARGETS, ids=[f"{t[0]}{t[1]}" for t in HTTP_TARGETS])
async def test_http_bad_input(pipeline: ChaosPipeline, target) -> None:
    service, route, auth, seeds = target
    t0 = time.monotonic()
    values = fuzz.generate(fuzz.mutated(seeds(), limit=LIMIT), HTTP_N)
    statuses: Counter[int] = Counter()
    server_errors: list[str] = []
    unclear: list[str] = []
    transport_retries: list[int] = []
    sem = asyncio.Semaphore(8)

    def headers(body: bytes) -> dict[str, str]:
        if auth == "receiver":
            return {"Authorization": f"Bearer {RECEIVER_TOKEN}", "Content-Type": "application/json"}
        if auth == "token":
            return {"Authorization": f"Bearer {pipeline.token}", "Content-Type": "application/json"}
        if auth == "zendesk":
            return sign_zendesk(SIGNING_SECRET, body)
        return {"Content-Type": "application/json"}

    async with httpx.AsyncClient(base_url=pipeline.url(service), timeout=30) as c:
        async def post(body: bytes) -> None:
            async with sem:
                try:
                    r = await c.post(route, content=body, headers=headers(body))
                except httpx.TransportError:
                    try:  # once more on a fresh connection: tells a dropped keep-alive from a real failure
                        async with httpx.AsyncClient(base_url=pipeline.url(service), timeout=30) as c2:
                            r = await c2.post(route, content=body, headers=headers(body))
                        transport_retries.append(len(body))
                    except httpx.HTTPError as exc:
                        server_errors.append(f"{type(exc).__name__} for {body[:120]!r}")
                        return
            statuses[r.status_code] += 1
            if r.status_code >= 500:
                server_errors.append(f"{r.status_code} {r.text[:200]} for {body[:160]!r}")
            elif r.status_code >= 400:
                try:
                    doc = r.json()
                    reason = doc.get("detail") or doc.get("message") or doc.get("errors")
                except ValueError:
                    reason = None
                if not reason:
                    unclear.append(f"{r.status_code} {r.text[:120]}")

        await asyncio.gather(*(post(v) for v in values))
    assert await pipeline.all_ready(), "a service is not ready after the bad input"
    result = {"scenario": f"bad input: http {service} {route}", "inputs": len(values),
              "statuses": {str(k): v for k, v in sorted(statuses.items())}, "server_errors": len(server_errors),
              "rejections_without_reason": len(unclear),
              "transport_errors_retried": len(transport_retries), "seconds": round(time.monotonic() - t0, 1),
              "examples": server_errors[:3], "lost": 0, "duplicated": 0}
    record(result, kind="bad_input")
    print(result)
    assert not server_errors, f"{len(server_errors)} server errors: {server_errors[:5]}"
    assert not unclear, unclear[:5]






async def test_pagerduty_routing_key_of_wrong_type_is_a_400(pipeline: ChaosPipeline) -> None:
    async with httpx.AsyncClient(base_url=pipeline.url("alert-ingest"), timeout=10) as c:
        for rk in ({}, ["a"], {"a": 1}):
            r = await c.post("/v2/enqueue", content=orjson.dumps({"routing_key": rk, "event_action": "trigger"}))
            assert 400 <= r.status_code < 500, (rk, r.status_code, r.text[:200])


DEEP = b"[" * 1000 + b"]" * 1000


@pytest.mark.parametrize("route", ["/v1/alerts", "/v1/alerts/alertmanager", "/v1/tickets/zendesk"])
async def test_deeply_nested_values_are_a_4xx(pipeline: ChaosPipeline, route: str) -> None:
    if route.startswith("/v1/alerts"):
        service, body = "alert-ingest", b'{"summary": "x", "status": ' + DEEP + b"}"
        if route.endswith("alertmanager"):  # a 500 in the full fuzz at 19:51
            body = b'{"version": "4", "alerts": [{"labels": {}, "startsAt": "2026-12-03T09:00:00Z", "status": ' \
                   + DEEP + b"}]}"
        headers = {"Authorization": f"Bearer {RECEIVER_TOKEN}", "Content-Type": "application/json"}
    else:
        service = "ticket-triage"
        body = (b'{"type": "zen:event-type:ticket.created", "detail": {"id": "77", "subject": "s", '
                b'"created_at": "2026-12-03T09:00:00Z", "description": ' + DEEP + b"}}")
        headers = sign_zendesk(SIGNING_SECRET, body)
    async with httpx.AsyncClient(base_url=pipeline.url(service), timeout=10) as c:
        r = await c.post(route, content=body, headers=headers)
    assert 400 <= r.status_code < 500, (r.status_code, r.text[:200])


async def test_throughput_with_poison(pipeline: ChaosPipeline) -> None:
    """alert-ingest's rate with 1% poison vs clean (reported, not asserted: the machine is shared).

    Runs alternate clean, poison, poison, clean (ABBA), each from a quiet pipeline (alert-ingest's outbox
    drained, engineering-validation caught up on alerts.state). Back to back, a run shared the two cores with
    the previous run's downstream backlog (15,000+ alerts.state events still being validated after 20,000
    alerts), so the second run, always the poison one, was measured against more load than the first.
    alert-ingest's CPU time per record is reported too: other sessions' load moves it less than wall time."""
    import random

    import asyncpg

    from tests.support.chaos import native_alert, poison_values, produce

    n = full_or_short(20_000, 2_000)
    stack, proc = pipeline.stack, pipeline.procs["alert-ingest"].proc
    conn = await asyncpg.connect(stack.database_url)

    def cpu_s() -> float:  # user + system time of the alert-ingest process
        fields = open(f"/proc/{proc.pid}/stat").read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    async def quiet() -> bool:
        backlog = await conn.fetchval("SELECT (SELECT count(*) FROM alert_ingest.outbox) "
                                      "+ (SELECT count(*) FROM validation.outbox)")
        return backlog == 0 and not await group_lag(stack.bootstrap, stack.topics.group("engineering-validation"),
                                                    stack.topics.alerts_state)

    runs: dict[str, list[tuple[int, float, float]]] = {"clean": [], "1% poison": []}
    try:
        for label in ("clean", "1% poison", "1% poison", "clean"):
            await eventually(quiet, timeout=600, interval=0.5, what="the pipeline quiet before a run")
            run = uuid.uuid4().hex[:8]
            recs = [(f"tp-{run}-{i}".encode(), native_alert(f"tp-{run}-{i}")) for i in range(n)]
            bad = n // 100 if label != "clean" else 0
            recs += [(f"tpp-{run}-{i}".encode(), v) for i, v in enumerate(poison_values(bad, random.Random(run)))]
            random.Random(run).shuffle(recs)
            c0, t0 = cpu_s(), time.monotonic()
            await produce(stack.bootstrap, stack.topics.alerts_raw, recs)
            await eventually(lambda: conn.fetchval("SELECT count(*) FROM alert_ingest.alert_state WHERE fingerprint "
                                                   "LIKE $1", f"tp-{run}-%"),
                             until=lambda x: x >= n, timeout=300, interval=0.2, what=f"{label} alerts stored")
            runs[label].append((len(recs), time.monotonic() - t0, cpu_s() - c0))
    finally:
        await conn.close()
    rates = {k: round(sum(r[0] for r in v) / sum(r[1] for r in v)) for k, v in runs.items()}
    cpu_us = {k: round(1e6 * sum(r[2] for r in v) / sum(r[0] for r in v), 1) for k, v in runs.items()}
    inputs = sum(r[0] for v in runs.values() for r in v)
    result = {"scenario": "throughput alert-ingest, 1% poison vs clean", "inputs": inputs,
              "rates_per_s": rates, "ratio": round(rates["1% poison"] / rates["clean"], 3),
              "cpu_us_per_record": cpu_us, "cpu_ratio": round(cpu_us["clean"] / cpu_us["1% poison"], 3),
              "runs": {k: [round(r[0] / r[1]) for r in v] for k, v in runs.items()}, "order": "ABBA",
              "lost": 0, "duplicated": 0}
    record(result, kind="throughput")
    print(result)
