"""Each service starts as its own process, reports healthy and ready, serves metrics, and stops cleanly."""

from __future__ import annotations

import signal

import httpx
import pytest

from tests.support.services import ServiceProcess, free_port

SERVICES = [
    ("services.alert_ingest", "ALERT_INGEST_HTTP_PORT"),
    ("services.engineering_validation", "VALIDATION_HTTP_PORT"),
    ("services.ticket_triage", "TRIAGE_HTTP_PORT"),
    ("services.notifier", "NOTIFIER_HTTP_PORT"),
]


@pytest.mark.parametrize(("module", "port_var"), SERVICES, ids=[m for m, _ in SERVICES])
async def test_service_starts_reports_ready_and_stops(stack, tmp_path, module, port_var):
    port = free_port()
    svc = ServiceProcess(module, port, {**stack.env(), port_var: str(port)}, tmp_path / "svc.log")
    svc.start()
    try:
        await svc.wait_ready(timeout=60)
        async with httpx.AsyncClient(base_url=svc.url) as c:
            assert (await c.get("/health")).json()["status"] == "ok"
            ready = (await c.get("/ready")).json()
            assert ready["database"] and ready["kafka"] and ready["ready"]
            metrics = (await c.get("/metrics")).text
            assert "pipeline_outbox" in metrics or "python_info" in metrics
    finally:
        code = svc.stop(signal.SIGTERM, timeout=30)
    assert code == 0, (tmp_path / "svc.log").read_text()[-2000:]
    assert "service stopped" in (tmp_path / "svc.log").read_text()
