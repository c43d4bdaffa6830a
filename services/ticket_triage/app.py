"""Wiring for ticket-triage: the runtime, its Kafka subscribers and its HTTP API."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI

from shared.contracts import IncidentOpened, TicketLinked, TicketTriaged, TicketUnlinked
from shared.service import ServiceRuntime, build_app

from . import handlers
from .api import router
from .events import Emitter
from .overrides import Overrides
from .service import NAME, TriageService
from .settings import Settings

SCHEMA = "triage"
MIGRATIONS = Path(__file__).parent / "migrations"


class _Lazy:
    """Builds the service layer on first use, once the runtime's pool is open (no I/O at import or wiring)."""

    def __init__(self, runtime: ServiceRuntime, settings: Settings) -> None:
        self.runtime, self.settings = runtime, settings
        self._svc: TriageService | None = None

    def service(self) -> TriageService:
        if self._svc is None:
            emitter = Emitter(self.runtime.topics, self.settings.product_teams)
            self._svc = TriageService(self.runtime.pool, emitter, self.settings.policy,
                                      group_id=self.runtime.topics.group(NAME))
        return self._svc


def create_app(settings: Settings) -> FastAPI:
    runtime = ServiceRuntime(name=NAME, schema=SCHEMA, settings=settings, migrations=MIGRATIONS)
    lazy = _Lazy(runtime, settings)
    handlers.register(runtime, settings, lazy.service)
    runtime.declare_output(runtime.topics.tickets_triaged, TicketTriaged,
                           description="One triage decision per ticket (and overrides), keyed by ticket id.")
    runtime.declare_output(runtime.topics.incidents_updates, IncidentOpened, TicketLinked, TicketUnlinked,
                           description="Incidents opened from reports and ticket links, keyed by incident id.")
    overrides = Overrides.lazy(lazy.service)
    app = build_app(runtime, title="ticket-triage",
                    description="links each customer ticket to its incident, opens a new one, or routes it to "
                                "standard support.",
                    routers=[router(settings, runtime, overrides)])
    app.state.triage_service = lazy.service  # for operators' scripts and tests
    return app
