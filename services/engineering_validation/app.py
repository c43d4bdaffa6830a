"""Wiring for engineering-validation: the runtime, its Kafka subscribers and its HTTP API."""

from pathlib import Path

from fastapi import FastAPI

from shared.service import ServiceRuntime, build_app

from .settings import Settings

NAME = "engineering-validation"
SCHEMA = "validation"
MIGRATIONS = Path(__file__).parent / "migrations"


def create_app(settings: Settings) -> FastAPI:
    runtime = ServiceRuntime(name=NAME, schema=SCHEMA, settings=settings, migrations=MIGRATIONS)
    return build_app(runtime, title="engineering-validation", description="the owning engineering team validates alerts; owns the incident lifecycle.")
