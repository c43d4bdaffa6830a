"""incidentctl: send alerts and tickets, manage incidents and validations, create tokens, follow updates."""

from __future__ import annotations

import asyncio
import json
import sys
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Optional

import orjson
import typer

from .client import CtlError, fail, request
from .config import CtlSettings
from .render import event_line, table

app = typer.Typer(help=__doc__, no_args_is_help=True, add_completion=False)
incidents = typer.Typer(help="List, show and manage incidents (engineering-validation API).", no_args_is_help=True)
validations = typer.Typer(help="Pending validations: list, confirm, dismiss.", no_args_is_help=True)
tokens = typer.Typer(help="API tokens.", no_args_is_help=True)
app.add_typer(incidents, name="incidents")
app.add_typer(validations, name="validations")
app.add_typer(tokens, name="tokens")


def _settings() -> CtlSettings:
    return CtlSettings()


def _print(data: Any) -> None:
    typer.echo(json.dumps(data, indent=2, default=str))


def _load(file: Optional[Path]) -> Any:
    if file is None:
        return None
    raw = sys.stdin.buffer.read() if str(file) == "-" else file.read_bytes()
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise CtlError(f"{file} is not valid JSON: {exc}") from exc


async def _produce(settings: CtlSettings, topic: str, payload: Any, key: str | None) -> None:
    from shared.kafka import make_producer

    producer = make_producer(settings.kafka, client_id="incidentctl")
    try:
        await asyncio.wait_for(producer.start(), 10)
    except Exception as exc:
        raise CtlError(f"cannot reach Kafka at {settings.kafka.bootstrap_servers}: is it running? (make status)") from exc
    try:
        await producer.send_and_wait(topic, orjson.dumps(payload), key=key.encode() if key else None)
    finally:
        await producer.stop()


# ---------------------------------------------------------------- sending

@app.command("send-alert")
def send_alert(
    file: Optional[Path] = typer.Argument(None, help="Alert JSON (Alertmanager, PagerDuty or native); - for stdin."),
    product: str = typer.Option("Chat", help="Native alert: product."),
    signal: str = typer.Option("error_rate", help="latency, error_rate, traffic_volume, availability, ..."),
    severity: str = typer.Option("critical", help="critical, error, warning, info"),
    status: str = typer.Option("firing", help="firing or resolved"),
    summary: str = typer.Option("Error rate above threshold", help="Native alert: summary."),
    fingerprint: Optional[str] = typer.Option(None, help="Native alert: dedup key (default: product+signal)."),
    via: str = typer.Option("kafka", help="kafka (alerts.raw) or http (alert-ingest's receiver)."),
) -> None:
    """Send one alert: from a file, or a native alert built from the flags."""
    s = _settings()
    try:
        payload = _load(file) or {
            "product": product, "signal": signal, "severity": severity, "status": status,
            "summary": summary, "fingerprint": fingerprint or f"{product}-{signal}".lower(),
            "time": datetime.now(UTC).isoformat(),
        }
        if via == "kafka":
            from shared.topics import Topics

            asyncio.run(_produce(s, Topics(s.kafka.topic_prefix).alerts_raw, payload, None))
            typer.echo("sent to alerts.raw")
        else:
            path = ("/v2/enqueue" if "event_action" in payload
                    else "/v1/alerts/alertmanager" if "alerts" in payload else "/v1/alerts")
            headers = {}
            if "event_action" not in payload and s.alert_receiver_token is None and s.token is not None:
                headers["Authorization"] = f"Bearer {s.token.get_secret_value()}"  # API tokens work too
            if s.alert_receiver_token is not None:
                headers["Authorization"] = f"Bearer {s.alert_receiver_token.get_secret_value()}"
            _print(request(s, "POST", s.ingest_url + path, json=payload, auth=False, headers=headers))
    except CtlError as exc:
        fail(exc)


@app.command("send-ticket")
def send_ticket(
    file: Optional[Path] = typer.Argument(None, help="Ticket JSON (Zendesk ticket.created event or native); - for stdin."),
    subject: str = typer.Option("Chat is down", help="Native ticket: subject."),
    description: str = typer.Option("We cannot send messages, everything fails with an error.", help="Body."),
    organization: str = typer.Option("org-1", help="Organisation id."),
    priority: str = typer.Option("normal", help="low, normal, high, urgent"),
    product: Optional[str] = typer.Option(None, help="Product, when known."),
    locale: str = typer.Option("en", help="Language of the ticket."),
    ticket_id: Optional[str] = typer.Option(None, help="Ticket id (default: random)."),
) -> None:
    """Send one ticket to tickets.new: from a file, or a native ticket built from the flags."""
    s = _settings()
    try:
        tid = ticket_id or str(uuid.uuid4().int % 10**8)
        payload = _load(file) or {
            "ticket_id": tid, "subject": subject, "description": description, "organization": organization,
            "requester": f"user-{tid}", "priority": priority, "product": product, "tags": [], "locale": locale,
            "created_at": datetime.now(UTC).isoformat(), "source": "native",
        }
        from shared.topics import Topics

        asyncio.run(_produce(s, Topics(s.kafka.topic_prefix).tickets_new, payload, str(payload.get("ticket_id", tid))))
        typer.echo(f"sent ticket {payload.get('ticket_id', tid)} to tickets.new")
    except CtlError as exc:
        fail(exc)


# ---------------------------------------------------------------- incidents

def _api(method: str, path: str, base: str = "validation", **kw: Any) -> Any:
    s = _settings()
    url = getattr(s, f"{base}_url") + path
    return request(s, method, url, **kw)


def _items(data: Any) -> list[dict[str, Any]]:
    if isinstance(data, dict):
        for key in ("items", "incidents", "validations", "deliveries"):
            if key in data:
                return data[key]
    return data if isinstance(data, list) else []


@incidents.command("list")
def incidents_list(status: str = typer.Option("open", help="open, resolved, all")) -> None:
    """List incidents."""
    try:
        rows = _items(_api("GET", "/v1/incidents", params={"status": status}))
        typer.echo(table(rows, ["id", "severity", "status", "product", "title"]))
    except CtlError as exc:
        fail(exc)


@incidents.command("show")
def incidents_show(incident_id: str) -> None:
    """Show an incident with its alerts, linked tickets and timeline."""
    try:
        _print(_api("GET", f"/v1/incidents/{incident_id}"))
    except CtlError as exc:
        fail(exc)


@incidents.command("update")
def incidents_update(incident_id: str, message: str,
                     status: Optional[str] = typer.Option(None, help="New status with the update.")) -> None:
    """Post a public status update (every linked customer receives it)."""
    body: dict[str, Any] = {"message": message}
    if status:
        body["status"] = status
    try:
        _print(_api("POST", f"/v1/incidents/{incident_id}/updates", json=body))
    except CtlError as exc:
        fail(exc)


@incidents.command("set")
def incidents_set(incident_id: str, severity: Optional[str] = typer.Option(None, help="SEV-1 .. SEV-4"),
                  status: Optional[str] = typer.Option(None, help="investigating, identified, monitoring"),
                  title: Optional[str] = typer.Option(None)) -> None:
    """Change severity, status or title."""
    body = {k: v for k, v in {"severity": severity, "status": status, "title": title}.items() if v}
    if not body:
        fail(CtlError("nothing to change: give --severity, --status or --title"))
    try:
        _print(_api("PATCH", f"/v1/incidents/{incident_id}", json=body))
    except CtlError as exc:
        fail(exc)


@incidents.command("resolve")
def incidents_resolve(incident_id: str, message: str = typer.Option("", help="Public resolution message.")) -> None:
    """Resolve an incident (every linked customer receives one resolution comment)."""
    try:
        _print(_api("POST", f"/v1/incidents/{incident_id}/resolve", json={"message": message}))
    except CtlError as exc:
        fail(exc)


@incidents.command("merge")
def incidents_merge(incident_id: str, into: str = typer.Option(..., help="The incident that stays.")) -> None:
    """Fold INCIDENT_ID into another; its tickets and alerts move there."""
    try:
        _print(_api("POST", f"/v1/incidents/{incident_id}/merge", json={"into_incident_id": into}))
    except CtlError as exc:
        fail(exc)


@incidents.command("deliveries")
def incidents_deliveries(incident_id: str) -> None:
    """What the notifier delivered for an incident (comments, webhooks)."""
    try:
        _print(_api("GET", f"/v1/incidents/{incident_id}/deliveries", base="notifier"))
    except CtlError as exc:
        fail(exc)


# ---------------------------------------------------------------- validations

@validations.command("list")
def validations_list(status: str = typer.Option("pending"), team: Optional[str] = typer.Option(None)) -> None:
    """List validation candidates."""
    params = {"status": status, **({"team": team} if team else {})}
    try:
        rows = _items(_api("GET", "/v1/validations", params=params))
        typer.echo(table(rows, ["id", "team", "product", "signal", "status", "summary"]))
    except CtlError as exc:
        fail(exc)


@validations.command("confirm")
def validations_confirm(candidate_id: str, severity: Optional[str] = typer.Option(None),
                        title: Optional[str] = typer.Option(None)) -> None:
    """Confirm a candidate: it becomes, or joins, an incident."""
    body = {k: v for k, v in {"severity": severity, "title": title}.items() if v}
    try:
        _print(_api("POST", f"/v1/validations/{candidate_id}/confirm", json=body))
    except CtlError as exc:
        fail(exc)


@validations.command("dismiss")
def validations_dismiss(candidate_id: str, reason: str = typer.Option(..., help="Why it is a false alarm.")) -> None:
    """Dismiss a candidate as a false alarm."""
    try:
        _print(_api("POST", f"/v1/validations/{candidate_id}/dismiss", json={"reason": reason}))
    except CtlError as exc:
        fail(exc)


# ---------------------------------------------------------------- tokens, follow

@tokens.command("create")
def tokens_create(name: str, team: str = typer.Argument(..., help="Team scope, or '*' for all teams.")) -> None:
    """Create an API token (printed once; only its hash is stored). Needs DATABASE_URL access."""
    from shared.auth import issue_token
    from shared.settings import ServiceSettings

    try:
        token = asyncio.run(issue_token(ServiceSettings().database_url.get_secret_value(), name, team))
    except OSError as exc:
        fail(CtlError(f"cannot reach the database: {exc}"))
    typer.echo(token)


@app.command("follow")
def follow(from_beginning: bool = typer.Option(False, "--from-beginning", help="Replay history first."),
           raw: bool = typer.Option(False, help="Print the JSON events.")) -> None:
    """Follow incidents.updates live, one readable line per event (Ctrl-C to stop)."""
    s = _settings()

    async def run() -> None:
        from aiokafka import AIOKafkaConsumer

        from shared.kafka import client_kwargs
        from shared.topics import Topics

        consumer = AIOKafkaConsumer(Topics(s.kafka.topic_prefix).incidents_updates, group_id=None,
                                    auto_offset_reset="earliest" if from_beginning else "latest",
                                    **client_kwargs(s.kafka))
        try:
            await asyncio.wait_for(consumer.start(), 10)
        except Exception as exc:
            raise CtlError(f"cannot reach Kafka at {s.kafka.bootstrap_servers}") from exc
        try:
            async for record in consumer:
                try:
                    event = orjson.loads(record.value)
                except orjson.JSONDecodeError:
                    continue
                typer.echo(json.dumps(event) if raw else event_line(event))
        finally:
            await consumer.stop()

    try:
        asyncio.run(run())
    except CtlError as exc:
        fail(exc)
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    app()
