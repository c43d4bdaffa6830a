"""Logs never carry secrets, tokens or customer e-mail addresses."""

from __future__ import annotations

import io
import json
import logging

import structlog

from shared.logging import configure_logging


def test_redaction_of_emails_tokens_and_secret_fields():
    configure_logging(service="test", json=True)
    stream = io.StringIO()
    logging.getLogger().handlers[0].stream = stream
    log = structlog.get_logger("t")
    log.info("ticket from jane.doe@example.com", requester="jane.doe@example.com",
             authorization="Bearer ipt_abcdefghijklmnop", password="hunter2",
             headers={"Authorization": "Basic dXNlcjpwYXNz", "x": "ok"}, note="token ipt_secretsecret")
    line = json.loads(stream.getvalue().strip().splitlines()[-1])
    text = json.dumps(line)
    for secret in ("jane.doe@example.com", "ipt_abcdefghijklmnop", "hunter2", "dXNlcjpwYXNz", "ipt_secretsecret"):
        assert secret not in text
    assert line["headers"]["x"] == "ok"
    assert line["service"] == "test"
