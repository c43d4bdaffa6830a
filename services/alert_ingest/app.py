"""Wiring for alert-ingest: the runtime, its Kafka subscribers and its HTTP API."""

from pathlib import Path

from fastapi import FastAPI

from shared.service import ServiceRuntime, build_app

from .settings import Settings

NAME = "alert-ingest"
SCHEMA = "alert_ingest"
MIGRATIONS = Path(__file__).parent / "migrations"


def create_app(settings: Settings) -> FastAPI:
    runtime = ServiceRuntime(name=NAME, schema=SCHEMA, settings=settings, migrations=MIGRATIONS)
    return build_app(runtime, title="alert-ingest", description="normalises and de-duplicates monitoring alerts from alerts.raw and the HTTP receivers.")
