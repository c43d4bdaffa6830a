"""incidentctl against the running pipeline: send an alert, see and manage its incident, and clear errors."""

from __future__ import annotations

import asyncio
import json

from typer.testing import CliRunner

from tests.e2e.stories import of_type
from tests.support.kafka import unique
from tests.support.services import free_port
from tools.incidentctl.main import app

runner = CliRunner()


async def ctl(pipeline, *args: str, token: str | None = None, **env: str):
    base = {
        "INCIDENTCTL_TOKEN": token if token is not None else pipeline.token,
        "INCIDENTCTL_INGEST_URL": pipeline.url("alert-ingest"),
        "INCIDENTCTL_VALIDATION_URL": pipeline.url("engineering-validation"),
        "INCIDENTCTL_TRIAGE_URL": pipeline.url("ticket-triage"),
        "INCIDENTCTL_NOTIFIER_URL": pipeline.url("notifier"),
        "KAFKA_BOOTSTRAP_SERVERS": pipeline.stack.bootstrap, "TOPIC_PREFIX": pipeline.stack.topic_prefix,
        "DATABASE_URL": pipeline.stack.database_url,
    }
    return await asyncio.to_thread(runner.invoke, app, list(args), env={**base, **env})


async def test_operator_workflow_through_the_cli(pipeline, kafka, stack):
    fp = unique("talk-cli-")
    result = await ctl(pipeline, "send-alert", "--product", "Talk", "--signal", "availability", "--severity",
                       "critical", "--summary", "Talk calls cannot be placed", "--fingerprint", fp)
    assert result.exit_code == 0, result.output
    updates = await kafka.read_json(stack.topics.incidents_updates,
                                    until=lambda es: of_type(es, "incident.opened.v1", product="Talk"))
    incident = of_type(updates, "incident.opened.v1", product="Talk")[0]["data"]["incident_id"]

    listed = await ctl(pipeline, "incidents", "list")
    assert listed.exit_code == 0 and incident in listed.output and "SEV-1" in listed.output
    shown = await ctl(pipeline, "incidents", "show", incident)
    assert shown.exit_code == 0 and json.loads(shown.output)["alerts"], shown.output

    for args in (["incidents", "update", incident, "Calls are being restored.", "--status", "identified"],
                 ["incidents", "set", incident, "--severity", "SEV-2"],
                 ["incidents", "resolve", incident, "--message", "Calls work again."]):
        r = await ctl(pipeline, *args)
        assert r.exit_code == 0, (args, r.output)
    updates = await kafka.read_json(stack.topics.incidents_updates,
                                    until=lambda es: of_type(es, "incident.resolved.v1", incident_id=incident))
    assert of_type(updates, "status_update_posted.v1", incident_id=incident)
    assert of_type(updates, "severity_changed.v1", incident_id=incident, severity="SEV-2")

    ticket = await ctl(pipeline, "send-ticket", "--subject", "How do I export reports?", "--ticket-id", fp)
    assert ticket.exit_code == 0, ticket.output
    triaged = await kafka.read_json(stack.topics.tickets_triaged,
                                    until=lambda es: any(e["data"]["ticket"]["ticket_id"] == fp for e in es))
    assert next(e for e in triaged if e["data"]["ticket"]["ticket_id"] == fp)["data"]["outcome"] == "standard_support"

    pending = await ctl(pipeline, "validations", "list")
    assert pending.exit_code == 0, pending.output


async def test_errors_are_clear(pipeline):
    wrong = await ctl(pipeline, "incidents", "list", token="ipt_not-a-token")
    assert wrong.exit_code == 1 and "token was refused (401)" in wrong.output
    missing = await ctl(pipeline, "incidents", "show", "INC-000000000000")
    assert missing.exit_code == 1 and "not found (404)" in missing.output
    down = await ctl(pipeline, "incidents", "list", INCIDENTCTL_VALIDATION_URL=f"http://127.0.0.1:{free_port()}")
    assert down.exit_code == 1 and "is the service running" in down.output
    bad = await ctl(pipeline, "incidents", "set", "INC-000000000000", "--severity", "SEV-9")
    assert bad.exit_code == 1 and "severity" in bad.output


async def test_follow_prints_incident_events_readably(pipeline, kafka, stack):
    import os
    import subprocess
    import sys

    from tests.support.waiting import eventually

    fp = unique("chat-follow-")
    env = {**os.environ, "KAFKA_BOOTSTRAP_SERVERS": stack.bootstrap, "TOPIC_PREFIX": stack.topic_prefix}
    proc = subprocess.Popen([sys.executable, "-m", "tools.incidentctl.main", "follow", "--from-beginning"],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env, text=True)
    lines: list[str] = []
    loop = asyncio.get_running_loop()
    reader = loop.run_in_executor(None, lambda: [lines.append(line) for line in proc.stdout])
    try:
        r = await ctl(pipeline, "send-alert", "--product", "Chat", "--signal", "error_rate", "--severity",
                      "critical", "--summary", "Chat follow check", "--fingerprint", fp)
        assert r.exit_code == 0, r.output

        async def seen() -> list[str]:
            return [line for line in lines if "OPENED" in line and "Chat" in line]

        await eventually(seen, timeout=30, what="an OPENED line for Chat")
    finally:
        proc.terminate()
        proc.wait(10)
        await reader
