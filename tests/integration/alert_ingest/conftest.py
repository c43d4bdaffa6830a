"""alert-ingest on the real broker and database: one running app per test module, unique fingerprints per test."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from services.alert_ingest.app import create_app
from shared.contracts import ALERT_STATE_EVENTS
from services.alert_ingest.settings import Settings
from tests.support.services import RunningApp, free_port, run_in_process

AM_TOKEN = "am-test-token-not-a-secret"
PD_KEY = "e93facc04764012d7bfb002500d5d1a6"


def make_settings(stack: Any, **overrides: Any) -> Settings:
    """Settings for an app on the test's isolated slice, with short cadences."""
    values: dict[str, Any] = {
        "database_url": stack.database_url, "kafka": stack.kafka, "http_port": free_port(),
        "relay_poll_interval_s": 0.2, "flap_threshold": 3, "flap_window_s": 600.0, "flap_sweep_interval_s": 0.3,
        "alertmanager_token": AM_TOKEN, "pagerduty_routing_keys": [PD_KEY], "log_json": True,
    }
    values.update(overrides)
    return Settings(**values)


@pytest.fixture(scope="module")
async def ingest(stack: Any) -> AsyncIterator[RunningApp]:
    async with run_in_process(create_app(make_settings(stack))) as running:
        yield running


def native(fp: str, status: str = "firing", severity: str = "warning", **extra: Any) -> dict[str, Any]:
    """A native alert with the given fingerprint."""
    return {"product": "Chat", "status": status, "severity": severity, "summary": f"Chat errors {fp}",
            "fingerprint": fp, **extra}


async def changes_for(kafka: Any, topic: str, fp: str, n: int, timeout: float = 20.0) -> list[dict[str, Any]]:
    """Read alerts.state until `n` changes for `fp` arrived; returns that fingerprint's events in order."""
    events = await kafka.read_json(topic, until=lambda es: sum(e["subject"] == fp for e in es) >= n,
                                   timeout=timeout)
    mine = [e for e in events if e["subject"] == fp]
    for e in mine:  # every event is valid against the contract engineering-validation decodes with
        ALERT_STATE_EVENTS.decode(e)
    return mine
