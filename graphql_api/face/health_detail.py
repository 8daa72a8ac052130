"""GET /health/detail (R19, issue 13): what an on-call engineer checks first, in one answer.

Served to an ADMIN user's bearer token or to the configured HEALTH_TOKEN (for monitors),
compared as SHA-256 digests in constant time; anyone else gets a JSON 401/403. A database
whose migration head differs from the code's is "not_ready" (HTTP 503), like a database or
Redis that does not answer.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import importlib.metadata
import platform
import time
from functools import cache
from typing import Any

from sqlalchemy import text
from starlette.requests import Request
from starlette.responses import JSONResponse

from graphql_api.core.auth.authenticate import bearer_token
from graphql_api.core.config import Settings
from graphql_api.core.db import migrate
from graphql_api.core.db.enums import Role
from graphql_api.core.errors import Unauthenticated
from graphql_api.face.metrics import pool_figures

TIMEOUT_SECONDS = 2.0
_PACKAGE = "graphql-api"


@cache
def code_heads() -> tuple[str, ...]:
    """The migration heads the code ships (read once: they cannot change while it runs)."""
    return tuple(sorted(migrate.heads()))


@cache
def package_version() -> str:
    try:
        return importlib.metadata.version(_PACKAGE)
    except importlib.metadata.PackageNotFoundError:
        return "unknown"


def _refusal(status: int, code: str, message: str) -> JSONResponse:
    return JSONResponse({"error": {"code": code, "message": message}}, status_code=status)


def _health_token_matches(settings: Settings, authorization: str | None) -> bool:
    expected = settings.health_token_sha256
    if expected is None or not authorization:
        return False
    try:
        token = bearer_token(authorization)
    except Unauthenticated:
        return False
    presented = hashlib.sha256(token.encode()).hexdigest()
    return hmac.compare_digest(presented, expected)


async def _refused(request: Request) -> JSONResponse | None:
    """None when the caller may read the details, else the answer to send."""
    state = request.app.state
    if _health_token_matches(state.settings, request.headers.get("authorization")):
        return None
    try:
        principal = await state.authenticate(request)
    except Unauthenticated as exc:
        return _refusal(401, "UNAUTHENTICATED", exc.message)
    if principal.is_anonymous:
        return _refusal(401, "UNAUTHENTICATED", "An admin's token or the health token is needed.")
    if not principal.has_role(Role.ADMIN):
        return _refusal(403, "FORBIDDEN", "Only admins may read the detailed health.")
    return None


async def _database(state: Any) -> dict[str, Any]:
    start = time.perf_counter()
    async with state.db.engine.connect() as connection:
        version = (await connection.execute(text("SHOW server_version"))).scalar_one()
        round_trip = time.perf_counter() - start
        try:
            rows = await connection.execute(text("SELECT version_num FROM alembic_version"))
            applied = sorted(str(row[0]) for row in rows)
        except Exception:
            applied = []  # never migrated
    return {
        "status": "ok",
        "version": str(version),
        "roundTripMs": round(round_trip * 1000, 2),
        "migrations": applied,
    }


async def _redis(state: Any) -> dict[str, Any]:
    start = time.perf_counter()
    await state.redis.ping()
    round_trip = time.perf_counter() - start
    info = await state.redis.info("server")
    return {
        "status": "ok",
        "version": str(info.get("redis_version", "unknown")),
        "roundTripMs": round(round_trip * 1000, 2),
    }


async def _probe(coroutine: Any) -> dict[str, Any]:
    try:
        result: dict[str, Any] = await asyncio.wait_for(coroutine, TIMEOUT_SECONDS)
    except Exception as exc:
        return {"status": f"error: {type(exc).__name__}"}
    return result


async def detail(request: Request) -> JSONResponse:
    refused = await _refused(request)
    if refused is not None:
        return refused
    state = request.app.state
    database, redis = await asyncio.gather(_probe(_database(state)), _probe(_redis(state)))
    expected = list(code_heads())
    applied = database.pop("migrations", None)
    migrations = {
        "database": applied,
        "code": expected,
        "upToDate": applied == expected,
    }
    body: dict[str, Any] = {
        "versions": {
            "package": package_version(),
            "python": platform.python_version(),
            "postgres": database.get("version"),
            "redis": redis.get("version"),
        },
        "migrations": migrations,
        "database": {**database, "pools": pool_figures(state.db)},
        "redis": redis,
    }
    checks_ok = database["status"] == "ok" and redis["status"] == "ok"
    broker = getattr(state, "broker", None)
    if broker is not None:
        body["broker"] = {
            "state": broker.state.value,
            "subscriptions": broker.subscription_count,
            "eventsReceived": broker.events_received,
            "reconnects": broker.reconnects,
            "lastLagMs": None
            if broker.lag_seconds is None
            else round(broker.lag_seconds * 1000, 2),
        }
        checks_ok = checks_ok and broker.state.value == "ok"
    limiter = getattr(state, "rate_limiter", None)
    if limiter is not None:
        body["rateLimiter"] = "per-process" if limiter.degraded else "shared"
    cache_ = getattr(getattr(state, "operations", None), "response_cache", None)
    if cache_ is not None:
        body["responseCache"] = {**cache_.counters(), "scopes": cache_.counters_per_scope()}
    rows = getattr(getattr(state, "db", None), "query_cache", None)
    if rows is not None:
        body["queryCache"] = rows.counters()
    metrics = getattr(state, "metrics", None)
    if metrics is not None:
        body["uptimeSeconds"] = round(time.time() - metrics.started, 1)
    ready = checks_ok and migrations["upToDate"]
    body = {"status": "ok" if ready else "not_ready", **body}
    return JSONResponse(body, status_code=200 if ready else 503)


def _milliseconds(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds * 1000, 2)
