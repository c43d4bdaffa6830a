"""The runtime every service shares: lifespan (pool, migrations, producer, outbox relay, broker, background
tasks), the health and metrics endpoints, and `serve` to run it under uvicorn with a graceful stop."""

from __future__ import annotations

import asyncio
import contextlib
import functools
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any, Union

import asyncpg
import structlog
import uvicorn
from aiokafka import AIOKafkaProducer
from fastapi import APIRouter, FastAPI, Response
from fastapi.responses import JSONResponse
from faststream.kafka import KafkaBroker
from prometheus_client import CONTENT_TYPE_LATEST, Counter, Gauge, generate_latest

from .auth import AUTH_MIGRATIONS, AUTH_SCHEMA
from .contracts.envelope import Contract, Envelope
from .db import SHARED_MIGRATIONS, apply_migrations, create_pool
from .kafka import ensure_topics, make_broker, make_producer
from .logging import configure_logging
from .outbox import OutboxRelay
from .poison import is_infrastructure, isolate
from .readiness import (ConsumerHealth, ReadinessSettings, assigned_partitions, partitions_of,
                        subscribers_not_fetching)
from .settings import ServiceSettings
from .topics import Topics

log = structlog.get_logger(__name__)

HANDLER_FAILURES = Counter(
    "pipeline_handler_failures_total", "Batches that failed and will be redelivered", ["service", "handler"]
)
POISON = Counter(
    "pipeline_unprocessable_records_total", "Records that failed their handler and were dead-lettered",
    ["service", "handler"]
)
FAILING_SECONDS = Gauge(
    "pipeline_consumer_failing_seconds",
    "How long the handler has failed every delivery of some partition (0 when it makes progress); /ready "
    "says 503 past READY_MAX_FAILING_S", ["service", "handler"]
)

BackgroundTask = Callable[["ServiceRuntime"], Awaitable[None]]


class ServiceRuntime:
    """Owns a service's connections. Build it in create_app; it opens everything in the lifespan."""

    def __init__(self, *, name: str, schema: str, settings: ServiceSettings, migrations: Path | None,
                 readiness: ReadinessSettings | None = None) -> None:
        self.name = name
        self.schema = schema
        self.settings = settings
        self.migrations = migrations
        self.topics = Topics(settings.kafka.topic_prefix)
        client_id = f"{name}-{settings.instance_id}" if settings.instance_id else name
        self.broker: KafkaBroker = make_broker(settings.kafka, client_id=client_id)
        self.producer: AIOKafkaProducer | None = None
        self._pool: asyncpg.Pool | None = None
        self.relay: OutboxRelay | None = None
        self._background: list[tuple[str, BackgroundTask]] = []
        self._tasks: list[asyncio.Task[None]] = []
        self._on_start: list[Callable[[ServiceRuntime], Awaitable[None]]] = []
        self.started = False
        self.consumers = ConsumerHealth((readiness or ReadinessSettings()).max_failing_s,
                                        assigned=lambda: assigned_partitions(self.broker) if self.started else None)

    @property
    def pool(self) -> asyncpg.Pool:
        if self._pool is None:
            raise RuntimeError("the database pool is not open yet")
        return self._pool

    def background(self, name: str) -> Callable[[BackgroundTask], BackgroundTask]:
        """Register a coroutine run for the service's lifetime (timers, schedulers); restarted on failure."""
        def deco(fn: BackgroundTask) -> BackgroundTask:
            self._background.append((name, fn))
            return fn
        return deco

    def declare_output(self, topic: str, *events: type[Contract], description: str) -> None:
        """Document a topic this service publishes to (through its outbox) in its AsyncAPI document."""
        schema = Envelope[events[0]] if len(events) == 1 else Union[tuple(Envelope[e] for e in events)]  # noqa: UP007
        self.broker.publisher(topic, title=f"{topic}:publish", description=description, schema=schema)

    def on_start(self, fn: Callable[[ServiceRuntime], Awaitable[None]]) -> Callable[[ServiceRuntime], Awaitable[None]]:
        """Register a hook run after the pool and producer are open, before consuming starts."""
        self._on_start.append(fn)
        return fn

    async def _supervise(self, name: str, fn: BackgroundTask) -> None:
        while True:
            try:
                await fn(self)
                return
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.error("background task failed; restarting", task=name, error=repr(exc))
                await asyncio.sleep(1.0)

    @contextlib.asynccontextmanager
    async def lifespan(self, app: FastAPI) -> AsyncIterator[None]:
        s = self.settings
        configure_logging(service=self.name, level=s.log_level, json=s.log_json)
        dsn = s.database_url.get_secret_value()
        self._pool = await create_pool(dsn, schema=self.schema, min_size=s.db_pool_min, max_size=s.db_pool_max)
        app.state.pool = self._pool
        app.state.runtime = self
        try:
            await apply_migrations(self._pool, schema=AUTH_SCHEMA, folders=[("auth", AUTH_MIGRATIONS)])
            folders = [("shared", SHARED_MIGRATIONS)]
            if self.migrations is not None:
                folders.append(("service", self.migrations))
            await apply_migrations(self._pool, schema=self.schema, folders=folders)
            await ensure_topics(s.kafka, self.topics.all())
            self.producer = make_producer(s.kafka, client_id=f"{self.name}-relay")
            await self.producer.start()
            self.relay = OutboxRelay(self._pool, self.producer, schema=self.schema, service=self.name,
                                     poll_interval_s=s.relay_poll_interval_s)
            self._tasks.append(asyncio.create_task(self.relay.run(), name=f"{self.name}-outbox-relay"))
            for hook in self._on_start:
                await hook(self)
            for name, fn in self._background:
                self._tasks.append(asyncio.create_task(self._supervise(name, fn), name=name))
            await self.broker.start()
            self.started = True
            log.info("service started", http_port=s.http_port)
            yield
        finally:
            self.started = False
            with contextlib.suppress(Exception):
                await self.broker.stop()  # stop consuming first: in-flight batches finish and commit
            for t in self._tasks:
                t.cancel()
            await asyncio.gather(*self._tasks, return_exceptions=True)
            self._tasks.clear()
            if self.producer is not None:
                with contextlib.suppress(Exception):
                    await self.producer.stop()
            await self._pool.close()
            log.info("service stopped")

    async def readiness(self) -> dict[str, Any]:
        checks: dict[str, Any] = {}
        try:
            async with asyncio.timeout(2):
                checks["database"] = (await self.pool.fetchval("SELECT 1")) == 1
        except Exception as exc:
            checks["database"] = False
            checks["database_error"] = type(exc).__name__
        try:
            checks["kafka"] = bool(await self.broker.ping(timeout=2.0))
        except Exception as exc:
            checks["kafka"] = False
            checks["kafka_error"] = type(exc).__name__
        not_fetching = subscribers_not_fetching(self.broker) if self.started else []
        checks["consuming"] = self.started and not not_fetching
        if not_fetching:
            checks["not_fetching"] = not_fetching
        checks["consumers"] = self.consumers.report()
        checks["stuck"] = self.consumers.stuck()
        return checks

    def retrying(self, handler: str, *, group_id: str | None = None
                 ) -> Callable[[Callable[..., Awaitable[Any]]], Callable[..., Awaitable[Any]]]:
        """Wrap a batch subscriber body `fn(msg)`. A failure that is not infrastructure is narrowed down to the
        records that cause it, which are dead-lettered (shared.poison), so one record never stops its
        partition. Any other failure waits a little, is counted and re-raised: the batch is redelivered (NACK)
        rather than lost or spun on at full speed. `group_id` enables the isolation. Each outcome is recorded in
        `self.consumers`: a handler failing continuously past the grace period makes /ready say 503."""
        health = self.consumers
        health.register(handler)
        FAILING_SECONDS.labels(self.name, handler).set_function(lambda: health.failing_for(handler))

        def deco(fn: Callable[..., Awaitable[Any]]) -> Callable[..., Awaitable[Any]]:
            @functools.wraps(fn)
            async def wrapper(*args: Any, **kwargs: Any) -> Any:
                msg = kwargs.get("msg", args[0] if args else None)
                try:
                    result = await fn(*args, **kwargs)
                except Exception as exc:
                    try:
                        if group_id is None or is_infrastructure(exc) or not isinstance(
                                getattr(msg, "raw_message", None), tuple):
                            raise
                        n = await isolate(fn, msg, exc, pool=self.pool, group_id=group_id, service=self.name)
                        POISON.labels(self.name, handler).inc(n)
                        log.error("unprocessable records dead-lettered", handler=handler, count=n, error=repr(exc))
                    except Exception as failure:
                        HANDLER_FAILURES.labels(self.name, handler).inc()
                        health.failed(handler, partitions_of(msg), failure)
                        log.warning("batch failed; it will be redelivered", handler=handler, error=repr(failure))
                        await asyncio.sleep(1.0)
                        raise
                    health.succeeded(handler, lambda: partitions_of(msg))
                    return None
                health.succeeded(handler, lambda: partitions_of(msg))
                return result
            return wrapper
        return deco


def health_router(runtime: ServiceRuntime) -> APIRouter:
    """/health (liveness), /ready (database and broker reachable, every consumer fetching and none failing past
    the grace period), /metrics (Prometheus)."""
    router = APIRouter(tags=["operations"])

    @router.get("/health", summary="Liveness")
    async def health() -> dict[str, str]:
        return {"status": "ok", "service": runtime.name}

    @router.get("/ready", summary="Readiness: database and broker reachable, consuming, no handler stuck")
    async def ready() -> JSONResponse:
        checks = await runtime.readiness()
        ok = bool(checks.get("database") and checks.get("kafka") and checks.get("consuming") and not checks["stuck"])
        return JSONResponse({"ready": ok, "service": runtime.name, **checks}, status_code=200 if ok else 503)

    @router.get("/metrics", summary="Prometheus metrics")
    async def metrics() -> Response:
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

    return router


def build_app(runtime: ServiceRuntime, *, title: str, description: str, routers: list[APIRouter] = ()) -> FastAPI:
    """A FastAPI app with the runtime's lifespan, health endpoints and the service's routers."""
    app = FastAPI(title=title, description=description, version="0.1.0", lifespan=runtime.lifespan)
    app.state.runtime = runtime
    app.include_router(health_router(runtime))
    for r in routers:
        app.include_router(r)
    return app


class _Server(uvicorn.Server):
    """uvicorn re-raises SIGTERM after a graceful stop (exit status -15); a clean stop should exit 0."""

    def handle_exit(self, sig: int, frame: Any) -> None:
        super().handle_exit(sig, frame)
        self._captured_signals.clear()


def serve(app: FastAPI, settings: ServiceSettings) -> None:
    """Run the app under uvicorn; SIGTERM and SIGINT stop it gracefully (consumers commit, relay stops)."""
    config = uvicorn.Config(app, host=settings.http_host, port=settings.http_port, log_config=None,
                            lifespan="on", timeout_graceful_shutdown=15)
    server = _Server(config)
    server.run()
    if not server.started:
        raise SystemExit(3)  # the lifespan failed (database or broker unreachable): say so by the exit status

