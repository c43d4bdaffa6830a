"""API tokens: created by a command, stored hashed (SHA-256 of a 256-bit random token), scoped to a team.

One token works for every service's API; the table lives in the `auth` schema. Scope '*' is an admin
(operations centre) token that may act for any team.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from pathlib import Path

import asyncpg
from fastapi import Depends, HTTPException, Request, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

AUTH_SCHEMA = "auth"
AUTH_MIGRATIONS = Path(__file__).parent / "auth_migrations"
ADMIN_SCOPE = "*"
TOKEN_PREFIX = "ipt_"


@dataclass(frozen=True)
class Principal:
    name: str
    team: str

    def may_act_for(self, team: str | None) -> bool:
        return self.team == ADMIN_SCOPE or (team is not None and self.team == team)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


async def create_token(conn: asyncpg.Connection, *, name: str, team: str) -> str:
    """Create a token and return it (shown once; only its hash is stored)."""
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    await conn.execute(
        "INSERT INTO auth.api_tokens(token_hash, name, team) VALUES ($1, $2, $3)", hash_token(token), name, team
    )
    return token


async def lookup(conn: asyncpg.Connection | asyncpg.Pool, token: str) -> Principal | None:
    row = await conn.fetchrow(
        "SELECT name, team FROM auth.api_tokens WHERE token_hash = $1 AND revoked_at IS NULL", hash_token(token)
    )
    return Principal(row["name"], row["team"]) if row else None


_bearer = HTTPBearer(auto_error=False, description="API token created with `incidentctl tokens create`.")


async def require_principal(request: Request,
                            creds: HTTPAuthorizationCredentials | None = Depends(_bearer)) -> Principal:
    """FastAPI dependency: 401 without a valid bearer token. The app must set `app.state.pool`."""
    if creds is None or creds.scheme.lower() != "bearer":
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, "missing bearer token",
                            headers={"WWW-Authenticate": "Bearer"})
    principal = await lookup(request.app.state.pool, creds.credentials)
    if principal is None:
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, "invalid or revoked token",
                            headers={"WWW-Authenticate": "Bearer"})
    return principal


def ensure_team(principal: Principal, team: str | None) -> None:
    """403 unless the principal may act for `team`."""
    if not principal.may_act_for(team):
        raise HTTPException(status.HTTP_403_FORBIDDEN, f"token of team {principal.team!r} may not act for {team!r}")


async def issue_token(dsn: str, name: str, team: str) -> str:
    """Create a token against the database at `dsn` (applying the auth migration first); returns it."""
    from .db import apply_migrations, create_pool

    pool = await create_pool(dsn, schema=AUTH_SCHEMA)
    try:
        await apply_migrations(pool, schema=AUTH_SCHEMA, folders=[("auth", AUTH_MIGRATIONS)])
        async with pool.acquire() as conn:
            return await create_token(conn, name=name, team=team)
    finally:
        await pool.close()


if __name__ == "__main__":  # python -m shared.auth NAME TEAM  (incidentctl tokens create wraps this)
    import asyncio
    import sys

    from .settings import ServiceSettings

    if len(sys.argv) != 3:
        sys.exit("usage: python -m shared.auth NAME TEAM   (TEAM '*' = operations centre, all teams)")
    print(asyncio.run(issue_token(ServiceSettings().database_url.get_secret_value(), sys.argv[1], sys.argv[2])))
