"""Wiring for notifier: the runtime, its Kafka subscribers and its HTTP API."""

from pathlib import Path

from fastapi import FastAPI

from shared.service import ServiceRuntime, build_app

from .settings import Settings

NAME = "notifier"
SCHEMA = "notifier"
MIGRATIONS = Path(__file__).parent / "migrations"


def create_app(settings: Settings) -> FastAPI:
    runtime = ServiceRuntime(name=NAME, schema=SCHEMA, settings=settings, migrations=MIGRATIONS)
    return build_app(runtime, title="notifier", description="keeps every linked customer informed and delivers incident updates to subscribers.")
