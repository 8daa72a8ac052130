"""The ASGI application factory."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from redis.asyncio import Redis
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket

from graphql_api import health
from graphql_api.auth.principal import ANONYMOUS, Principal
from graphql_api.config import Settings
from graphql_api.db.engine import Database
from graphql_api.events import redis_publisher
from graphql_api.graphql_view import GraphQLView
from schema import build_schema, depth_rules

log = logging.getLogger(__name__)


async def anonymous(request: Request | WebSocket) -> Principal:
    """Until token authentication lands (issue 4), every caller is anonymous."""
    return ANONYMOUS


def create_app(settings: Settings | None = None) -> Starlette:
    """Build the app; `uvicorn --factory graphql_api.app:create_app` reads settings from env."""
    settings = settings or Settings.from_env()
    if settings.database_url is None or settings.redis_url is None:
        raise ValueError(
            "DATABASE_URL and REDIS_URL must be set (`graphql-api serve` sets them for the "
            "embedded servers)"
        )
    database_url, redis_url = settings.database_url, settings.redis_url

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        if settings.auto_migrate:
            from graphql_api.db.migrate import upgrade

            await upgrade(url=database_url)
        app.state.settings = settings
        # Resolves the caller once per request/connection; tests may swap it for a fixed one.
        app.state.authenticate = anonymous
        app.state.db = Database(settings)
        app.state.redis = Redis.from_url(redis_url, health_check_interval=30)
        app.state.db.publisher = redis_publisher(app.state.redis)
        try:
            yield
        finally:
            await app.state.db.dispose()
            await app.state.redis.aclose()

    view = GraphQLView(
        build_schema(max_depth=settings.max_query_depth),
        validation_rules=depth_rules(settings.max_query_depth),
        graphql_ide="graphiql" if settings.graphiql else None,
    )
    return Starlette(
        routes=[
            Route("/graphql", view, methods=["GET", "POST"]),
            WebSocketRoute("/graphql", view),
            Route("/health/live", health.live),
            Route("/health/ready", health.ready),
        ],
        lifespan=lifespan,
    )
