"""PostgreSQL: the connection pool (one schema per service) and the migrations runner.

Migrations are numbered SQL files (`001_name.sql`, header comment first). Each is applied in its own
transaction and recorded in `<schema>.schema_migrations`; an advisory lock lets several instances start at
once. The shared migrations (outbox, consumer tracking) run first, into every service's schema.
"""

from __future__ import annotations

import asyncio
import hashlib
import re
from importlib import resources
from pathlib import Path

import asyncpg
import structlog

log = structlog.get_logger(__name__)

SHARED_MIGRATIONS = Path(str(resources.files("shared") / "migrations"))
_NAME = re.compile(r"^(\d{3})_[a-z0-9_]+\.sql$")


async def create_pool(dsn: str, *, schema: str, min_size: int = 1, max_size: int = 8,
                      timeout_s: float = 30.0) -> asyncpg.Pool:
    """A pool whose connections use `schema` first; waits for the server up to `timeout_s`."""
    await ensure_schema(dsn, schema, timeout_s=timeout_s)
    return await asyncpg.create_pool(
        dsn, min_size=min_size, max_size=max_size,
        server_settings={"search_path": f"{schema},public", "application_name": schema},
        command_timeout=60,
    )


async def connect_with_retry(dsn: str, *, timeout_s: float = 30.0) -> asyncpg.Connection:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    while True:
        try:
            return await asyncpg.connect(dsn, timeout=5)
        except (OSError, asyncpg.CannotConnectNowError, asyncpg.PostgresConnectionError):
            if loop.time() > deadline:
                raise
            await asyncio.sleep(0.5)


async def ensure_schema(dsn: str, schema: str, *, timeout_s: float = 30.0) -> None:
    conn = await connect_with_retry(dsn, timeout_s=timeout_s)
    try:
        await conn.execute(f'CREATE SCHEMA IF NOT EXISTS "{schema}"')
    except asyncpg.UniqueViolationError:
        pass  # created concurrently
    finally:
        await conn.close()


def _files(folder: Path) -> list[Path]:
    files = sorted(p for p in folder.glob("*.sql") if _NAME.match(p.name))
    return files


async def apply_migrations(pool: asyncpg.Pool, *, schema: str, folders: list[tuple[str, Path]]) -> list[str]:
    """Apply the pending migrations of (label, folder) pairs, in order, to `schema`; returns those applied."""
    lock_key = int.from_bytes(hashlib.sha256(f"migrations:{schema}".encode()).digest()[:8], "big", signed=True)
    applied: list[str] = []
    async with pool.acquire() as conn:
        await conn.execute("SELECT pg_advisory_lock($1)", lock_key)
        try:
            await conn.execute(f'CREATE SCHEMA IF NOT EXISTS "{schema}"')
            await conn.execute(
                f'CREATE TABLE IF NOT EXISTS "{schema}".schema_migrations ('
                " name text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())"
            )
            done = {r["name"] for r in await conn.fetch(f'SELECT name FROM "{schema}".schema_migrations')}
            for label, folder in folders:
                for path in _files(folder):
                    name = f"{label}/{path.name}"
                    if name in done:
                        continue
                    async with conn.transaction():
                        await conn.execute(f'SET LOCAL search_path TO "{schema}", public')
                        await conn.execute(path.read_text())
                        await conn.execute(f'INSERT INTO "{schema}".schema_migrations(name) VALUES ($1)', name)
                    applied.append(name)
                    log.info("migration applied", schema=schema, migration=name)
        finally:
            await conn.execute("SELECT pg_advisory_unlock($1)", lock_key)
    return applied
