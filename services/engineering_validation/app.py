"""Wiring for engineering-validation: the runtime, its Kafka subscriber, timers and its HTTP API."""

from pathlib import Path

from fastapi import FastAPI

from shared.contracts import (
    AlertAttached, AlertValidated, IncidentMerged, IncidentOpened, IncidentResolved, SeverityChanged,
    StatusChanged, StatusUpdatePosted, ValidationEscalated,
)
from shared.service import ServiceRuntime, build_app

from .api import install_error_handlers, router
from .commands import Commands
from .events import SERVICE, Publisher
from .handlers import register
from .intake import Intake
from .service import Validation
from .settings import Settings
from .timers import TimerRunner

NAME = SERVICE
SCHEMA = "validation"
MIGRATIONS = Path(__file__).parent / "migrations"


def create_app(settings: Settings) -> FastAPI:
    runtime = ServiceRuntime(name=NAME, schema=SCHEMA, settings=settings, migrations=MIGRATIONS)
    validation = Validation(settings, Publisher(runtime.topics))
    intake = Intake(runtime, validation)
    register(runtime, intake, settings.consumer_max_records)
    runtime.declare_output(runtime.topics.alerts_validated, AlertValidated, ValidationEscalated,
                           description="Validation decisions and escalations, keyed by candidate id.")
    runtime.declare_output(runtime.topics.incidents_updates, IncidentOpened, AlertAttached, SeverityChanged,
                           StatusChanged, StatusUpdatePosted, IncidentMerged, IncidentResolved,
                           description="Incident lifecycle events, keyed by incident id.")
    timers = TimerRunner(runtime, validation, settings.timer_poll_interval_s)
    runtime.background("validation-timers")(lambda _rt: timers.run())
    app = build_app(runtime, title="engineering-validation",
                    description="The owning engineering team validates alerts; owns the incident lifecycle.",
                    routers=[router()])
    app.state.commands = Commands(runtime, validation)
    app.state.timers = timers
    app.state.intake = intake
    app.state.validation = validation
    install_error_handlers(app)
    return app
