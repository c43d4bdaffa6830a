"""Wiring for alert-ingest: the runtime, its Kafka subscribers and its HTTP API."""

from __future__ import annotations

import asyncio
import gc
from datetime import UTC, datetime
from pathlib import Path

from fastapi import FastAPI

from shared.contracts import AlertStateChanged
from shared.service import ServiceRuntime, build_app

from . import api, handlers
from .service import IngestService
from .settings import Settings

NAME = "alert-ingest"
SCHEMA = "alert_ingest"
MIGRATIONS = Path(__file__).parent / "migrations"
GC_THRESHOLDS = (50_000, 20, 100)


def create_app(settings: Settings) -> FastAPI:
    runtime = ServiceRuntime(name=NAME, schema=SCHEMA, settings=settings, migrations=MIGRATIONS)
    holder: dict[str, IngestService] = {}

    def service() -> IngestService:
        return holder["service"]

    @runtime.on_start
    async def _open(rt: ServiceRuntime) -> None:
        holder["service"] = IngestService(rt.pool, rt.topics, settings, service=NAME,
                                          group_id=rt.topics.group(NAME))
        # Everything built so far lives as long as the process: keep it out of the collector's scans, which
        # otherwise cost the hot path on every full collection.
        gc.freeze()
        # A batch keeps ~100k small container objects alive (records, models, decisions) until it commits;
        # with the default thresholds (700, 10, 10) the collector re-scans them again and again while the
        # batch is built (measured: ~20% of the CPU per record). Nothing on the hot path creates reference
        # cycles, so collecting far less often costs no memory worth counting.
        gc.set_threshold(*GC_THRESHOLDS)

    @runtime.background("flap-sweep")
    async def _sweep(rt: ServiceRuntime) -> None:
        while True:  # a cadence, not synchronisation: quiet flapping alerts are ended within one interval
            await asyncio.sleep(settings.flap_sweep_interval_s)
            await service().sweep_flapping(datetime.now(UTC))

    handlers.register(runtime, settings, service)
    runtime.declare_output(runtime.topics.alerts_state, AlertStateChanged,
                           description="State changes of de-duplicated alerts, keyed by fingerprint.")
    app = build_app(runtime, title="alert-ingest",
                    description="Normalises and de-duplicates monitoring alerts from alerts.raw and the HTTP "
                                "receivers; publishes state changes on alerts.state.",
                    routers=[api.router(runtime, settings)])
    app.state.ingest = service
    return app
