"""Liveness and readiness endpoints (R19)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from inspect import isawaitable

from starlette.requests import Request
from starlette.responses import JSONResponse

CHECK_TIMEOUT_SECONDS = 2.0


async def live(request: Request) -> JSONResponse:
    """The process is up and its event loop answers; says nothing of dependencies."""
    return JSONResponse({"status": "ok"})


async def _check(name: str, probe: Awaitable[object] | object) -> tuple[str, str]:
    try:
        # redis-py types ping() as "awaitable or not"; the asyncio client's always awaits.
        if isawaitable(probe):
            await asyncio.wait_for(probe, CHECK_TIMEOUT_SECONDS)
    except Exception as exc:
        return name, f"error: {type(exc).__name__}"
    return name, "ok"


async def ready(request: Request) -> JSONResponse:
    """200 when PostgreSQL and Redis answer and the subscription broker is subscribed to
    Redis, else 503 naming the failing part (the broker: starting/reconnecting/draining).
    Also summarizes this process's rate limiter, subscriptions, response and query caches."""
    state = request.app.state
    results = dict(
        await asyncio.gather(
            _check("postgres", state.db.ping()),
            _check("redis", state.redis.ping()),
        )
    )
    body: dict[str, object] = {}
    limiter = getattr(state, "rate_limiter", None)
    if limiter is not None:
        # Degraded, not down: buckets per process until Redis answers again.
        body["rateLimiter"] = "per-process" if limiter.degraded else "shared"
    broker = getattr(state, "broker", None)
    if broker is not None:
        results["broker"] = broker.state.value
        body["subscriptions"] = broker.subscription_count
    cache = getattr(getattr(state, "operations", None), "response_cache", None)
    if cache is not None:
        # Hits, misses, stores, invalidations, evictions... of this process (issue 12).
        body["responseCache"] = {**cache.counters(), "scopes": cache.counters_per_scope()}
    query_cache = getattr(getattr(state, "db", None), "query_cache", None)
    if query_cache is not None:
        body["queryCache"] = query_cache.counters()
    healthy = all(value == "ok" for value in results.values())
    return JSONResponse(
        {"status": "ok" if healthy else "unavailable", "checks": results, **body},
        status_code=200 if healthy else 503,
    )
