"""As in production: `python -m services.engineering_validation` processes; a killed process's pending timer
fires once in the next one."""

from __future__ import annotations

import signal

import asyncpg

from tests.support.kafka import unique
from tests.support.services import ServiceProcess, free_port
from tests.support.waiting import eventually

from .support import about, product, send_alert, validated


def process(stack, tmp_path, name: str) -> ServiceProcess:
    port = free_port()
    env = {**stack.env(), "VALIDATION_HTTP_PORT": str(port), "VALIDATION_CRITICAL_DELAY_S": "3",
           "VALIDATION_TIMER_POLL_INTERVAL_S": "0.05", "VALIDATION_INSTANCE_ID": name}
    return ServiceProcess("services.engineering_validation", port, env, tmp_path / f"{name}.log")


async def test_killed_process_timer_fires_once_in_the_next(make_stack, kafka, tmp_path):
    stack = await make_stack()
    p = product()
    first = process(stack, tmp_path, "a")
    first.start()
    try:
        await first.wait_ready()
        await send_alert(kafka, stack, unique("fp"), p, severity="critical")

        async def timers() -> int:
            conn = await asyncpg.connect(stack.database_url)  # the process's state, read from its database
            try:
                return await conn.fetchval("SELECT count(*) FROM validation.timers WHERE kind='evaluate'")
            finally:
                await conn.close()

        await eventually(timers, until=lambda n: n == 1, what="evaluate timer stored", timeout=20)
    finally:
        first.stop(signal.SIGKILL, timeout=10)  # a crash: nothing graceful
    second = process(stack, tmp_path, "b")
    second.start()
    try:
        await second.wait_ready()  # up to the session timeout: the group waits for the killed member
        [decision] = await validated(kafka, stack, p, timeout=30)
        assert decision["data"]["decided_by"]["name"] == "critical_still_firing"
    finally:
        assert second.stop(signal.SIGTERM, timeout=30) == 0
    events = await kafka.read_json(stack.topics.alerts_validated, until=lambda es: len(es) >= 1)
    assert len(about(events, product=p)) == 1
