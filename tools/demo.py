"""make demo: play the seed's story against a running `make up` stack and print what happened.

1. Monitoring: Chat's error rate (critical) and Talk's latency (error) fire, repeated many times; a Guide
   traffic-volume blip fires and resolves at once. Chat is confirmed by policy, Talk by an engineer through the
   API, the Guide blip is dismissed as transient.
2. Customers write about Chat: their tickets are linked to the Chat incident and each is told its status.
3. Customers of several organisations report Guide failing, with no alert: an incident opens from the reports.
4. How-to and billing questions go the standard support route.
5. An engineer posts a status update on Chat, then every incident is resolved: every customer hears it once.

Each run uses fresh ids, so it can be played again. Output: a timeline, and the comments each customer
received from the support-platform stand-in.
"""

from __future__ import annotations

import asyncio
import os
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import orjson
from aiokafka import AIOKafkaConsumer

from shared.auth import issue_token
from shared.kafka import client_kwargs, make_producer
from shared.settings import KafkaSettings, ServiceSettings
from shared.topics import Topics
from tools.incidentctl.render import event_line

# The same variables the stack and the services read (deploy/stack.py).
VALIDATION = f"http://127.0.0.1:{os.environ.get('VALIDATION_HTTP_PORT', '8082')}"
STANDIN = f"http://127.0.0.1:{os.environ.get('ZENDESK_STANDIN_PORT', '8090')}"
DEADLINE_S = 60.0


def now() -> datetime:
    return datetime.now(UTC)


def am_payload(status: str, alertname: str, service: str, severity: str, summary: str, fp: str) -> dict[str, Any]:
    """An Alertmanager webhook (version 4) with one alert."""
    start = now() - timedelta(minutes=2)
    alert = {"status": status, "labels": {"alertname": alertname, "service": service, "severity": severity},
             "annotations": {"summary": summary}, "startsAt": start.isoformat(),
             "endsAt": now().isoformat() if status == "resolved" else "0001-01-01T00:00:00Z",
             "generatorURL": "http://prometheus.local/graph", "fingerprint": fp}
    return {"version": "4", "groupKey": f"{{}}:{{alertname=\"{alertname}\"}}", "status": status,
            "receiver": "incident-pipeline", "groupLabels": {"alertname": alertname},
            "commonLabels": alert["labels"], "commonAnnotations": alert["annotations"],
            "externalURL": "http://alertmanager.local", "truncatedAlerts": 0, "alerts": [alert]}


def zendesk_ticket(tid: int, subject: str, description: str, org: int, priority: str = "normal",
                   tags: list[str] | None = None) -> dict[str, Any]:
    """A Zendesk ticket.created event, as its webhook sends it."""
    return {"type": "zen:event-type:ticket.created", "id": str(uuid.uuid4()), "time": now().isoformat(),
            "account_id": 1, "subject": f"zen:ticket:{tid}", "zendesk_event_version": "2022-11-06",
            "detail": {"id": str(tid), "subject": subject, "description": description, "status": "NEW",
                       "priority": priority.upper(), "type": "INCIDENT", "tags": tags or [],
                       "requester_id": str(9000 + tid % 1000), "organization_id": str(org), "brand_id": "1",
                       "group_id": "1", "form_id": "1", "created_at": now().isoformat(),
                       "via": {"channel": "web_form"}}}


class Demo:
    def __init__(self) -> None:
        self.kafka = KafkaSettings()
        self.topics = Topics(self.kafka.topic_prefix)
        self.run = uuid.uuid4().hex[:6]
        self.base = int(time.time()) % 100000 * 100
        self.token = ""
        self.events: list[dict[str, Any]] = []
        self.incidents: dict[str, str] = {}  # product -> incident id
        self.tickets: dict[str, str] = {}  # ticket id -> who/what
        self.t0 = time.monotonic()

    def say(self, text: str) -> None:
        print(f"[{time.monotonic() - self.t0:5.1f}s] {text}", flush=True)

    async def send(self, topic: str, payloads: list[tuple[str | None, dict[str, Any]]]) -> None:
        producer = make_producer(self.kafka, client_id="demo")
        await producer.start()
        try:
            futures = [await producer.send(topic, orjson.dumps(p), key=k.encode() if k else None) for k, p in payloads]
            await asyncio.gather(*futures)
        finally:
            await producer.stop()

    async def follow(self, stop: asyncio.Event) -> None:
        consumer = AIOKafkaConsumer(self.topics.incidents_updates, self.topics.alerts_validated,
                                    self.topics.tickets_triaged, group_id=None, auto_offset_reset="latest",
                                    **client_kwargs(self.kafka))
        await consumer.start()
        try:
            self.follow_ready.set()
            while not stop.is_set():
                for records in (await consumer.getmany(timeout_ms=200)).values():
                    for r in records:
                        try:
                            self.events.append({"topic": r.topic, **orjson.loads(r.value)})
                        except orjson.JSONDecodeError:
                            pass
        finally:
            await consumer.stop()

    async def wait_for(self, what: str, pred) -> dict[str, Any]:
        deadline = time.monotonic() + DEADLINE_S
        while time.monotonic() < deadline:
            for e in self.events:
                if pred(e):
                    return e
            await asyncio.sleep(0.2)
        raise SystemExit(f"demo: gave up waiting for {what} after {DEADLINE_S:.0f}s (is `make up` running? make logs)")

    def opened(self, product: str):
        return lambda e: (e.get("type", "").endswith("incident.opened.v1") and e["data"]["product"] == product
                          and e["data"]["incident_id"] not in self.incidents.values())

    async def api(self, client: httpx.AsyncClient, method: str, path: str, **kw: Any) -> Any:
        resp = await client.request(method, path, **kw)
        if resp.status_code >= 400:
            raise SystemExit(f"demo: {method} {path} -> {resp.status_code} {resp.text}")
        return resp.json() if resp.content else None

    async def play(self) -> None:
        self.token = await issue_token(ServiceSettings().database_url.get_secret_value(), "demo-engineer", "*")
        stop = asyncio.Event()
        self.follow_ready = asyncio.Event()
        follower = asyncio.create_task(self.follow(stop))
        await asyncio.wait_for(self.follow_ready.wait(), 15)
        r = self.run
        async with httpx.AsyncClient(base_url=VALIDATION, timeout=10,
                                     headers={"Authorization": f"Bearer {self.token}"}) as api:
            await self._close_leftovers(api)
            self.say("1. monitoring agents send alerts (each repeated 20 times)")
            chat = am_payload("firing", "HighErrorRate", "chat-api", "critical", "Chat API 5xx rate above 5%",
                              f"chat-err-{r}")
            talk = am_payload("firing", "HighLatency", "talk", "error", "Talk call setup p95 latency above 2s",
                              f"talk-lat-{r}")
            blip = am_payload("firing", "TrafficVolumeChange", "guide", "warning", "Guide traffic volume changed "
                              "faster than expected", f"guide-vol-{r}")
            # keyed by fingerprint, as Alertmanager-to-Kafka bridges do, so one alert's history stays in order
            await self.send(self.topics.alerts_raw,
                            [(f"chat-err-{r}", chat), (f"talk-lat-{r}", talk)] * 20 + [(f"guide-vol-{r}", blip)])
            await self.send(self.topics.alerts_raw, [(f"guide-vol-{r}", am_payload(
                "resolved", "TrafficVolumeChange", "guide", "warning", "Guide traffic volume back to normal",
                f"guide-vol-{r}"))])
            e = await self.wait_for("the Chat incident", self.opened("Chat"))
            self.incidents["Chat"] = e["data"]["incident_id"]
            self.say(f"   Chat confirmed automatically -> {self.incidents['Chat']} ({e['data']['severity']})")
            cand = await self._pending(api, "Talk")
            self.say(f"   Talk's candidate {cand['id']} waits for its team; an engineer confirms it")
            await self.api(api, "POST", f"/v1/validations/{cand['id']}/confirm",
                           json={"title": "Talk: call setup slow"})
            e = await self.wait_for("the Talk incident", self.opened("Talk"))
            self.incidents["Talk"] = e["data"]["incident_id"]
            self.say(f"   Talk confirmed by an engineer -> {self.incidents['Talk']} ({e['data']['severity']})")
            await self.wait_for("the Guide blip dismissal", lambda e: e.get("type", "").endswith(
                "alert.validated.v1") and e["data"]["product"] == "Guide" and e["data"]["decision"] == "dismissed")
            self.say("   Guide traffic blip resolved within the transient window -> dismissed, no incident")

            self.say("2. customers write about Chat")
            chat_tickets = [
                (1, "Chat widget not loading", "Our chat widget shows an error and messages fail to send.", 501),
                (2, "Chat caído", "El chat no funciona, todos nuestros agentes ven errores al enviar mensajes.", 502),
                (3, "Errors in Chat", "Since this morning chat messages fail with error 500 for all agents.", 503),
            ]
            await self._tickets(chat_tickets, ["chat"])
            for n, *_ in chat_tickets:
                await self._wait_linked(self.base + n, self.incidents["Chat"])
            self.say(f"   3 tickets linked to {self.incidents['Chat']}")

            self.say("3. customers of four organisations report Guide failing (no alert)")
            guide_tickets = [(10 + i, "Help center down", f"Our help center articles fail to load with error 503 ({i}).",
                              600 + i) for i in range(4)]
            await self._tickets(guide_tickets, ["guide"])
            e = await self.wait_for("the Guide incident from reports", self.opened("Guide"))
            self.incidents["Guide"] = e["data"]["incident_id"]
            self.say(f"   new incident from reports -> {self.incidents['Guide']} ({e['data']['severity']})")

            self.say("4. how-to and billing questions")
            await self._tickets([(20, "How do I add a macro?", "How do I create a macro for my team?", 700),
                                 (21, "Invoice question", "Can you resend last month's invoice? We need a refund.", 701)],
                                ["support"])
            for n in (20, 21):
                await self.wait_for(f"ticket {self.base + n} triaged", lambda e, t=str(self.base + n): e.get(
                    "type", "").endswith("ticket.triaged.v1") and e["data"]["ticket"]["ticket_id"] == t)
            self.say("   both went the standard support route")

            self.say("5. an engineer posts an update on Chat, then resolves every incident")
            await self.api(api, "POST", f"/v1/incidents/{self.incidents['Chat']}/updates",
                           json={"message": "We found the cause and are deploying a fix.", "status": "identified"})
            for product, inc in self.incidents.items():
                await self.api(api, "POST", f"/v1/incidents/{inc}/resolve",
                               json={"message": f"{product} is working normally again."})
            for inc in self.incidents.values():
                await self.wait_for(f"{inc} resolved", lambda e, i=inc: e.get("type", "").endswith(
                    "incident.resolved.v1") and e["data"]["incident_id"] == i)
        await self._settle()
        stop.set()
        await follower
        await self.report()

    async def _close_leftovers(self, api: httpx.AsyncClient) -> None:
        """The story needs no open incident for its products: close what an earlier run left open."""
        data = await self.api(api, "GET", "/v1/incidents", params={"status": "open"})
        items = data["items"] if isinstance(data, dict) else data
        for inc in items:
            if inc.get("product") in ("Chat", "Talk", "Guide", "Support"):
                await self.api(api, "POST", f"/v1/incidents/{inc['id']}/resolve",
                               json={"message": "Closed to start a new demo run."})
                self.say(f"   (closed {inc['id']} left open by an earlier run)")

    async def _pending(self, api: httpx.AsyncClient, product: str) -> dict[str, Any]:
        deadline = time.monotonic() + DEADLINE_S
        while time.monotonic() < deadline:
            data = await self.api(api, "GET", "/v1/validations", params={"status": "pending"})
            items = data["items"] if isinstance(data, dict) else data
            mine = [c for c in items if c["product"] == product and any(self.run in f for f in c.get("fingerprints", []))]
            if mine:
                return mine[0]
            await asyncio.sleep(0.3)
        raise SystemExit(f"demo: no pending {product} validation after {DEADLINE_S:.0f}s")

    async def _tickets(self, specs: list[tuple], tags: list[str]) -> None:
        payloads = []
        for n, subject, body, org, *rest in specs:
            tid = self.base + n
            self.tickets[str(tid)] = f"org {org}: {subject}"
            payloads.append((str(tid), zendesk_ticket(tid, subject, body, org, tags=tags)))
        await self.send(self.topics.tickets_new, payloads)

    async def _wait_linked(self, tid: int, incident: str) -> None:
        await self.wait_for(f"ticket {tid} linked", lambda e: e.get("type", "").endswith("ticket_linked.v1")
                            and e["data"]["ticket"]["ticket_id"] == str(tid) and e["data"]["incident_id"] == incident)

    async def _settle(self) -> None:
        """Wait until the resolution comments reached the stand-in (or the deadline)."""
        deadline = time.monotonic() + DEADLINE_S
        async with httpx.AsyncClient(base_url=STANDIN, timeout=5) as z:
            while time.monotonic() < deadline:
                comments = (await z.get("/_comments")).json()
                linked = [t for t in self.tickets if any(
                    "resol" in c["body"].lower() or "resuel" in c["body"].lower() for c in comments.get(t, []))]
                if len(linked) >= 7:
                    return
                await asyncio.sleep(0.5)

    async def report(self) -> None:
        mine = set(self.incidents.values())
        print("\n=== Timeline (incidents.updates) ===")
        for e in self.events:
            if e["topic"] == self.topics.incidents_updates and e["data"].get("incident_id") in mine:
                print("  " + event_line(e))
        print("\n=== Triage decisions (tickets.triaged) ===")
        for e in self.events:
            if e["topic"] == self.topics.tickets_triaged and e["data"]["ticket"]["ticket_id"] in self.tickets:
                d = e["data"]
                print(f"  ticket {d['ticket']['ticket_id']:<9} {d['outcome']:<17} {d.get('incident_id') or '':<18} "
                      f"{d['reason'][:70]}")
        print("\n=== What each customer received (support-platform stand-in) ===")
        async with httpx.AsyncClient(base_url=STANDIN, timeout=5) as z:
            comments = (await z.get("/_comments")).json()
        for tid, who in self.tickets.items():
            received = comments.get(tid, [])
            print(f"\n  ticket {tid} ({who}) - {len(received)} comment(s)")
            for c in received:
                body = " ".join(c["body"].split())
                print(f"    > {body[:160]}{'...' if len(body) > 160 else ''}")


def main() -> None:
    try:
        asyncio.run(Demo().play())
    except KeyboardInterrupt:
        sys.exit(130)


if __name__ == "__main__":
    main()
