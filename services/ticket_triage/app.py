"""Wiring for ticket-triage: the runtime, its Kafka subscribers and its HTTP API."""

from pathlib import Path

from fastapi import FastAPI

from shared.service import ServiceRuntime, build_app

from .settings import Settings

NAME = "ticket-triage"
SCHEMA = "triage"
MIGRATIONS = Path(__file__).parent / "migrations"


def create_app(settings: Settings) -> FastAPI:
    runtime = ServiceRuntime(name=NAME, schema=SCHEMA, settings=settings, migrations=MIGRATIONS)
    return build_app(runtime, title="ticket-triage", description="links each customer ticket to its incident, opens a new one, or routes it to standard support.")
