"""Fault injection support: a workload whose every input carries a unique id, the oracle that checks a run
from the database and the topics (nothing lost, nothing doubled, bad input dead-lettered with its reason,
per-incident order kept), a broker + database of our own to kill, and the results file docs/reliability.md
is built from.

The oracle's rules (issue 9):
* every valid input has exactly one effect: an alert -> one `alert_ingest.alert_state` row whose
  occurrences equal the copies produced, one history transition, one `validation.alerts` row, one distinct
  `alerts.state` event; a ticket -> one `triage.tickets` row with exactly one (non-override) decision and
  one distinct `tickets.triaged` event;
* every invalid input is in `<topic>.DLT` with `dlt-error-class`/`dlt-error-message` (a copy of the same
  original offset is counted as `dlt_republished`, two different offsets as `dlt_duplicated`);
* no incident opened twice for one problem (one product per run opens at most one incident);
* every linked ticket received each kind of comment exactly once (Zendesk stand-in);
* per incident key, one partition, `incident.opened` first, nothing after `incident.resolved`.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import random
import signal
import subprocess
import sys
import time
import uuid
from collections import Counter, defaultdict
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
import orjson
from aiokafka import AIOKafkaConsumer, TopicPartition

from shared.topics import dlt
from tools.demo import am_payload, zendesk_ticket

ROOT = Path(__file__).resolve().parents[2]
FULL = os.environ.get("CHAOS_FULL") == "1"
RESULTS = ROOT / "tests" / "reliability" / "results"


# ------------------------------------------------------------------------------------------ the workload

CHAT_SUBJECTS = ["Chat widget not loading", "Chat messages fail", "Chat errors since this morning",
                 "Chat down for our agents"]
CHAT_BODIES = ["The chat widget fails with an error, messages are not delivered.",
               "Chat messages fail with error 500 since this morning.",
               "Our agents cannot send chat messages, the widget shows an error."]


def poison_values(n: int, rng: random.Random) -> list[bytes]:
    """Kinds of junk that must each be dead-lettered (cycled through)."""
    kinds = [
        lambda: rng.randbytes(rng.randint(1, 200)),                       # random bytes
        lambda: b'{"summary": "\xff\xfe bad", "status": "firing"}',       # invalid UTF-8
        lambda: b"[" * 5000 + b"]" * 5000,                                # deep nesting
        lambda: b'{"status": 12, "summary": ["x"]}',                     # wrong types
        lambda: b'{"status": "firing"}',                                 # missing fields
        lambda: b'{"ticket": "x", "status": "firing", "status": 1}',     # duplicated keys
        lambda: b"",                                                      # empty
        lambda: b"null",
        lambda: orjson.dumps({"type": "zen:event-type:ticket.created", "detail": {"subject": "no id"}}),
    ]
    return [kinds[i % len(kinds)]() for i in range(n)]


def native_alert(fp: str, product: str = "Talk") -> bytes:
    return orjson.dumps({"status": "firing", "summary": f"Talk call setup latency high ({fp})", "fingerprint": fp,
                         "product": product, "signal": "latency", "severity": "warning",
                         "labels": {"chaos_run": fp.split("-")[1]}})


@dataclass
class Workload:
    """The inputs of one run; ids are unique per run."""

    run: str
    alerts: list[str] = field(default_factory=list)              # fingerprints
    tickets: list[str] = field(default_factory=list)             # ticket ids
    bad_alerts: list[str] = field(default_factory=list)          # record keys of poison on alerts.raw
    bad_tickets: list[str] = field(default_factory=list)         # record keys of poison on tickets.new
    copies: int = 1
    incident_fp: str = ""

    @classmethod
    def make(cls, n_alerts: int, n_tickets: int, poison_ratio: float = 0.02, copies: int = 1) -> Workload:
        run = uuid.uuid4().hex[:10]
        w = cls(run=run, copies=copies, incident_fp=f"chaos-{run}-incident")
        w.alerts = [f"chaos-{run}-a{i}" for i in range(n_alerts)]
        base = random.randint(10_000_000, 90_000_000) * 100
        w.tickets = [str(base + i) for i in range(n_tickets)]
        w.bad_alerts = [f"poison-{run}-a{i}" for i in range(max(1, int(n_alerts * poison_ratio)))]
        w.bad_tickets = [f"poison-{run}-t{i}" for i in range(max(1, int(n_tickets * poison_ratio)))]
        return w

    def alert_records(self) -> list[tuple[bytes, bytes]]:
        recs = [(fp.encode(), native_alert(fp)) for fp in self.alerts]
        rng = random.Random(self.run)
        recs += list(zip([k.encode() for k in self.bad_alerts], poison_values(len(self.bad_alerts), rng),
                         strict=True))
        rng.shuffle(recs)
        return recs

    def ticket_records(self) -> list[tuple[bytes, bytes]]:
        rng = random.Random(self.run + "t")
        recs = []
        for i, t in enumerate(self.tickets):
            body = zendesk_ticket(int(t), rng.choice(CHAT_SUBJECTS), rng.choice(CHAT_BODIES), 5000 + i % 50,
                                  tags=["chat"])
            body["detail"]["description"] += f" Contact: customer{t}@example.com"  # e-mail-like data for the log grep
            recs.append((t.encode(), orjson.dumps(body)))
        recs += list(zip([k.encode() for k in self.bad_tickets], poison_values(len(self.bad_tickets), rng),
                         strict=True))
        rng.shuffle(recs)
        return recs

    def incident_alert(self) -> tuple[bytes, bytes]:
        """A critical Chat alert: opens (or joins) the Chat incident the tickets link to."""
        return (self.incident_fp.encode(), orjson.dumps(am_payload(
            "firing", "HighErrorRate", "chat-api", "critical", "Chat API 5xx rate above 5%", self.incident_fp)))


async def produce(bootstrap: str, topic: str, records: list[tuple[bytes, bytes]], *, copies: int = 1,
                  rate_per_s: float | None = None) -> None:
    """Produce records (each `copies` times), optionally paced so faults land mid-stream."""
    from aiokafka import AIOKafkaProducer

    p = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", enable_idempotence=True, linger_ms=5,
                         max_request_size=2 * 1024 * 1024, request_timeout_ms=60_000)
    await p.start()
    try:
        futures = []
        t0 = time.monotonic()
        for n, (k, v) in enumerate(records * copies):
            futures.append(await p.send(topic, v, key=k))
            if rate_per_s and n % 20 == 19:
                ahead = (n + 1) / rate_per_s - (time.monotonic() - t0)
                if ahead > 0:
                    await asyncio.sleep(ahead)  # pacing the load, not synchronisation
        await asyncio.gather(*futures)
    finally:
        await p.stop()


# ------------------------------------------------------------------------------------------ topics

async def read_all(bootstrap: str, topic: str, *, timeout: float = 30.0) -> list[Any]:
    """Every record of `topic` up to its end offsets at the time of the call."""
    c = AIOKafkaConsumer(topic, bootstrap_servers=bootstrap, group_id=None, enable_auto_commit=False,
                         auto_offset_reset="earliest", fetch_max_bytes=8 * 1024 * 1024)
    await c.start()
    try:
        deadline = time.monotonic() + timeout
        while not c.assignment():
            if time.monotonic() > deadline:
                raise AssertionError(f"no partitions of {topic} assigned in {timeout}s")
            await asyncio.sleep(0.1)
        tps = sorted(c.assignment())
        ends = await c.end_offsets(tps)
        out: list[Any] = []
        while True:
            positions = {tp: await c.position(tp) for tp in tps}
            if all(positions[tp] >= ends[tp] for tp in tps):
                return out
            if time.monotonic() > deadline:
                raise AssertionError(f"could not read {topic} to its end in {timeout}s")
            batch = await c.getmany(timeout_ms=500, max_records=10_000)
            for recs in batch.values():
                out.extend(recs)
    finally:
        with contextlib.suppress(asyncio.CancelledError):
            await c.stop()


# ------------------------------------------------------------------------------------------ the oracle

@dataclass
class Verdict:
    scenario: str
    inputs: int = 0
    valid: int = 0
    invalid: int = 0
    effects: int = 0
    lost: int = 0
    duplicated: int = 0
    dead_lettered: int = 0
    dlt_missing: int = 0
    dlt_duplicated: int = 0
    dlt_republished: int = 0
    dlt_without_reason: int = 0
    incidents_opened_twice: int = 0
    comments_missing: int = 0
    comments_duplicated: int = 0
    order_violations: int = 0
    event_republished: int = 0
    seconds: float = 0.0
    notes: list[str] = field(default_factory=list)

    def ok(self) -> bool:
        return not (self.lost or self.duplicated or self.dlt_missing or self.dlt_duplicated or
                    self.dlt_without_reason or self.incidents_opened_twice or self.comments_missing or
                    self.comments_duplicated or self.order_violations)

    def summary(self) -> str:
        bad = {k: v for k, v in asdict(self).items() if isinstance(v, int) and v and k not in
               ("inputs", "valid", "invalid", "effects", "dead_lettered", "event_republished")}
        return (f"{self.scenario}: inputs={self.inputs} effects={self.effects} lost={self.lost} "
                f"duplicated={self.duplicated} dead_lettered={self.dead_lettered} problems={bad} {self.notes[:5]}")


class Oracle:
    """Checks a run of a `Workload` against the database and the topics of one stack slice."""

    def __init__(self, bootstrap: str, database_url: str, topics: Any) -> None:
        self.bootstrap = bootstrap
        self.dsn = database_url
        self.topics = topics

    async def counts(self, w: Workload) -> dict[str, int]:
        """How far the pipeline got (for `eventually`): alert rows, ticket rows, dead letters."""
        conn = await asyncpg.connect(self.dsn)
        try:
            a = await conn.fetchval("SELECT count(*) FROM alert_ingest.alert_state WHERE fingerprint = ANY($1)",
                                    w.alerts)
            v = await conn.fetchval("SELECT count(*) FROM validation.alerts WHERE fingerprint = ANY($1)", w.alerts)
            t = await conn.fetchval("SELECT count(*) FROM triage.tickets WHERE ticket_id = ANY($1)", w.tickets)
        finally:
            await conn.close()
        return {"alerts": a, "validated": v, "tickets": t}

    async def settled(self, w: Workload) -> bool:
        c = await self.counts(w)
        return c["alerts"] >= len(w.alerts) and c["validated"] >= len(w.alerts) and c["tickets"] >= len(w.tickets)

    async def check(self, scenario: str, w: Workload, *, zendesk: Any = None,
                    comment_kinds: tuple[str, ...] = ("link",)) -> Verdict:
        v = Verdict(scenario)
        v.valid = (len(w.alerts) + len(w.tickets)) * w.copies
        v.invalid = (len(w.bad_alerts) + len(w.bad_tickets)) * w.copies
        v.inputs = v.valid + v.invalid
        conn = await asyncpg.connect(self.dsn)
        try:
            await self._alerts(conn, w, v)
            await self._tickets(conn, w, v)
            linked = [r["ticket_id"] for r in await conn.fetch(
                "SELECT DISTINCT ticket_id FROM triage.links WHERE ticket_id = ANY($1) AND active", w.tickets)]
        finally:
            await conn.close()
        await self._dead_letters(dlt(self.topics.alerts_raw), w.bad_alerts, w.copies, v)
        await self._dead_letters(dlt(self.topics.tickets_new), w.bad_tickets, w.copies, v)
        await self._incidents(w, v)
        if zendesk is not None:
            self._comments(zendesk, linked, comment_kinds, v)
        return v

    async def _alerts(self, conn: asyncpg.Connection, w: Workload, v: Verdict) -> None:
        rows = {r["fingerprint"]: r for r in await conn.fetch(
            "SELECT s.fingerprint, s.occurrences, (SELECT count(*) FROM alert_ingest.alert_history h "
            "WHERE h.fingerprint = s.fingerprint) AS transitions FROM alert_ingest.alert_state s "
            "WHERE s.fingerprint = ANY($1)", w.alerts)}
        validated = {r["fingerprint"] for r in await conn.fetch(
            "SELECT fingerprint FROM validation.alerts WHERE fingerprint = ANY($1)", w.alerts)}
        events = await read_all(self.bootstrap, self.topics.alerts_state)
        ids: dict[str, set[str]] = defaultdict(set)
        copies: Counter[str] = Counter()
        wanted = set(w.alerts)
        for r in events:
            if r.key and r.key.decode() in wanted:
                e = orjson.loads(r.value)
                ids[r.key.decode()].add(e["id"])
                copies[e["id"]] += 1
        v.event_republished += sum(n - 1 for n in copies.values() if n > 1)
        for fp in w.alerts:
            row = rows.get(fp)
            if row is None or fp not in validated or not ids.get(fp):
                v.lost += w.copies
                if len(v.notes) < 10:
                    v.notes.append(f"alert {fp}: state={row is not None} validated={fp in validated} "
                                   f"events={len(ids.get(fp, ()))}")
                continue
            v.effects += w.copies
            extra = max(0, row["occurrences"] - w.copies) + max(0, row["transitions"] - 1) + (len(ids[fp]) - 1)
            if row["occurrences"] < w.copies:
                v.lost += w.copies - row["occurrences"]
                v.effects -= w.copies - row["occurrences"]
            if extra:
                v.duplicated += extra
                if len(v.notes) < 10:
                    v.notes.append(f"alert {fp}: occurrences={row['occurrences']} copies={w.copies} "
                                   f"transitions={row['transitions']} events={len(ids[fp])}")

    async def _tickets(self, conn: asyncpg.Connection, w: Workload, v: Verdict) -> None:
        rows = {r["ticket_id"]: r["decisions"] for r in await conn.fetch(
            "SELECT t.ticket_id, (SELECT count(*) FROM triage.decisions d WHERE d.ticket_id = t.ticket_id "
            "AND NOT d.override) AS decisions FROM triage.tickets t WHERE t.ticket_id = ANY($1)", w.tickets)}
        for t in w.tickets:
            n = rows.get(t)
            if not n:
                v.lost += w.copies
                if len(v.notes) < 10:
                    v.notes.append(f"ticket {t}: no decision")
                continue
            v.effects += w.copies  # a ticket sent twice has one decision: both copies are accounted for by it
            if n > 1:
                v.duplicated += n - 1
                if len(v.notes) < 10:
                    v.notes.append(f"ticket {t}: {n} decisions")

    async def _dead_letters(self, topic: str, keys: list[str], copies: int, v: Verdict) -> None:
        wanted = set(keys)
        seen: dict[str, Counter[tuple[str, str]]] = defaultdict(Counter)
        for r in await read_all(self.bootstrap, topic):
            k = r.key.decode(errors="replace") if r.key else ""
            if k not in wanted:
                continue
            h = {hk: hv.decode(errors="replace") for hk, hv in r.headers}
            if not h.get("dlt-error-class") or not h.get("dlt-error-message"):
                v.dlt_without_reason += 1
            seen[k][(h.get("dlt-original-partition", ""), h.get("dlt-original-offset", ""))] += 1
        for k in keys:
            offsets = seen.get(k, Counter())
            if len(offsets) < copies:
                v.dlt_missing += copies - len(offsets)
                if len(v.notes) < 10:
                    v.notes.append(f"dead letter {k}: {len(offsets)} of {copies}")
            v.dead_lettered += min(len(offsets), copies)
            v.dlt_duplicated += max(0, len(offsets) - copies)
            v.dlt_republished += sum(n - 1 for n in offsets.values())

    async def _incidents(self, w: Workload, v: Verdict) -> None:
        """Per incident key: one partition, opened first, nothing after resolved; one incident per problem."""
        by_key: dict[str, list[tuple[int, int, dict[str, Any]]]] = defaultdict(list)
        for r in await read_all(self.bootstrap, self.topics.incidents_updates):
            try:
                e = orjson.loads(r.value)
            except orjson.JSONDecodeError:
                continue
            by_key[(r.key or b"").decode()].append((r.partition, r.offset, e))
        opened_for_run = []
        for key, evs in by_key.items():
            evs.sort(key=lambda x: x[1])
            types = [e.get("type", "") for _, _, e in evs]
            if len({p for p, _, _ in evs}) > 1:
                v.order_violations += 1
                v.notes.append(f"incident {key}: events on several partitions")
            distinct = list(dict.fromkeys((e.get("id"), t) for (_, _, e), t in zip(evs, types, strict=True)))
            kinds = [t for _, t in distinct]
            if any(t.endswith("incident.opened.v1") for t in kinds) and not kinds[0].endswith("incident.opened.v1"):
                v.order_violations += 1
                v.notes.append(f"incident {key}: first event is {kinds[0]}")
            res = [i for i, t in enumerate(kinds) if t.endswith("incident.resolved.v1")]
            if res and any(not t.endswith(("incident.resolved.v1", "status_update.posted.v1", "status.changed.v1"))
                           for t in kinds[res[0] + 1:]):
                v.order_violations += 1
                v.notes.append(f"incident {key}: {kinds[res[0] + 1:]} after resolved")
            for _, _, e in evs:
                data = e.get("data") or {}
                if e.get("type", "").endswith("incident.opened.v1") and w.run in orjson.dumps(data).decode():
                    opened_for_run.append(key)
        # one problem per run (the run's Chat alert and tickets): at most one incident opened for it
        v.incidents_opened_twice += max(0, len(set(opened_for_run)) - 1)

    def _comments(self, zendesk: Any, linked: list[str], kinds: tuple[str, ...], v: Verdict) -> None:
        from tests.e2e.stories import comment_kinds

        for t in linked:
            got = comment_kinds(zendesk, t)
            for k in kinds:
                if got[k] == 0:
                    v.comments_missing += 1
                elif got[k] > 1:
                    v.comments_duplicated += got[k] - 1
                    if len(v.notes) < 10:
                        v.notes.append(f"ticket {t}: {got[k]} {k} comments")


# ------------------------------------------------------------------------------------------ results

def record(v: Verdict | dict[str, Any], *, kind: str = "fault") -> None:
    """Append one result to tests/reliability/results/<mode>.jsonl (docs/reliability.md is built from it)."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    row = asdict(v) if isinstance(v, Verdict) else dict(v)
    row.update(kind=kind, mode="full" if FULL else "short", at=datetime.now(UTC).isoformat(timespec="seconds"))
    with open(RESULTS / f"{row['mode']}.jsonl", "a") as f:
        f.write(json.dumps(row) + "\n")


# ------------------------------------------------------------------------------------------ our own stack

@dataclass
class OwnStack:
    """A Kafka broker and a PostgreSQL server of our own (deploy/stack.py on other ports and state dir):
    the only broker and database the suite may kill, pause or stop.

    The broker has a second listener (`proxied_port`) advertised as `kafka_proxy_port`: a `TcpProxy` listening
    there and forwarding to `proxied_port` sits between the services and the broker, including every
    reconnect (Kafka clients reconnect to the advertised address, not to the bootstrap address)."""

    state_dir: Path = ROOT / ".state" / "chaos"
    kafka_port: int = 29092
    controller_port: int = 29093
    scram_port: int = 29094
    proxied_port: int = 29095
    kafka_proxy_port: int = 29096
    pg_port: int = 25432

    @property
    def env(self) -> dict[str, str]:
        return {"STACK_STATE_DIR": str(self.state_dir), "KAFKA_PORT": str(self.kafka_port),
                "KAFKA_CONTROLLER_PORT": str(self.controller_port), "KAFKA_SCRAM_PORT": str(self.scram_port),
                "KAFKA_PROXIED_PORT": str(self.proxied_port),
                "KAFKA_PROXIED_ADVERTISED_PORT": str(self.kafka_proxy_port),
                "PG_PORT": str(self.pg_port), "KAFKA_SCRAM": "0", "KAFKA_SSL": "0",
                "KAFKA_HEAP_OPTS": "-Xms128m -Xmx384m"}

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.kafka_port}"

    @property
    def proxied_bootstrap(self) -> str:
        """The services' bootstrap address when the Kafka proxy is in the path (the proxy listens here)."""
        return f"127.0.0.1:{self.kafka_proxy_port}"

    @property
    def admin_dsn(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.pg_port}/postgres"

    def _stack(self, *args: str, timeout: float = 180) -> None:
        # the child must not see the shared stack's connection settings
        env = {k: v for k, v in os.environ.items() if k not in ("KAFKA_BOOTSTRAP_SERVERS", "DATABASE_URL")}
        res = subprocess.run([sys.executable, str(ROOT / "deploy" / "stack.py"), *args], capture_output=True,
                             text=True, env={**env, **self.env}, cwd=ROOT, timeout=timeout)
        if res.returncode != 0:
            raise RuntimeError(f"stack.py {' '.join(args)} failed:\n{res.stdout[-2000:]}\n{res.stderr[-2000:]}")

    def _pg(self, code: str) -> None:
        """Run `code` with deploy/stack.py imported under our environment (its settings are module-level)."""
        env = {k: v for k, v in os.environ.items() if k not in ("KAFKA_BOOTSTRAP_SERVERS", "DATABASE_URL")}
        script = f"import sys; sys.path.insert(0, {str(ROOT / 'deploy')!r}); import stack as s; {code}"
        res = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                             env={**env, **self.env}, cwd=ROOT, timeout=120)
        if res.returncode != 0:
            raise RuntimeError(f"{code} failed:\n{res.stdout[-2000:]}\n{res.stderr[-2000:]}")

    def up(self) -> None:
        # reuse the jars the shared stack fetched (no second download)
        libs = self.state_dir / "kafka" / "libs"
        shared_libs = ROOT / ".state" / "kafka" / "libs"
        if not libs.exists() and shared_libs.exists():
            libs.parent.mkdir(parents=True, exist_ok=True)
            libs.symlink_to(shared_libs)
        self._stack("kafka-up")
        self._stack("pg-up")

    def down(self) -> None:
        self.resume_broker()
        self._stack("kafka-down")
        self._stack("pg-down")

    def broker_pid(self) -> int | None:
        try:
            return int((self.state_dir / "pids" / "kafka.pid").read_text().strip())
        except (FileNotFoundError, ValueError):
            return None

    def kill_broker(self) -> None:
        pid = self.broker_pid()
        assert pid is not None, "our broker is not running"
        os.kill(pid, signal.SIGKILL)

    def start_broker(self) -> None:
        self._stack("kafka-up")

    def pause_broker(self) -> None:
        pid = self.broker_pid()
        assert pid is not None
        os.kill(pid, signal.SIGSTOP)

    def resume_broker(self) -> None:
        pid = self.broker_pid()
        if pid is not None:
            try:
                os.kill(pid, signal.SIGCONT)
            except ProcessLookupError:
                pass

    def stop_pg_immediate(self) -> None:
        self._pg("s._pg_ctl('-m', 'immediate', 'stop', check=True, **s._as_pg_user())")

    def start_pg(self) -> None:
        self._stack("pg-up")
