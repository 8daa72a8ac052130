"""The ASGI application factory."""

from __future__ import annotations

import gc
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

from redis.asyncio import Redis
from starlette.applications import Starlette
from starlette.routing import Route, WebSocketRoute
from starlette.types import ASGIApp, Receive, Scope, Send

from graphql_api.core.auth.api_keys import LastUseFlusher
from graphql_api.core.auth.authenticate import PrincipalCache, authenticate
from graphql_api.core.auth.revocations import RevokedSessions
from graphql_api.core.broker import Broker
from graphql_api.core.cache_hints import Scope as CacheScope
from graphql_api.core.changes import DATA_CHANGED, connect, shared_generation, shared_tags
from graphql_api.core.config import Environment, Settings
from graphql_api.core.db.engine import Database
from graphql_api.core.db.liveness import replace_closed_connections
from graphql_api.core.db.queries.briefings import warm_glossary
from graphql_api.core.events import SESSION_REVOKED
from graphql_api.core.pagination import DEFAULT_PAGE_SIZE
from graphql_api.core.ratelimit import Budgets, RateLimiter, Throttle
from graphql_api.core.tagged import SharedCheck
from graphql_api.engine.operations import Admit, Limits
from graphql_api.engine.response_cache import CacheRules, ResponseCache, SecondLevel
from graphql_api.face import graphiql, health, health_detail, observe, transport
from graphql_api.face.graphql_view import GraphQLView
from graphql_api.face.metrics import metrics_endpoint
from graphql_api.face.persisted import PersistedDocuments
from graphql_api.face.shutdown import install_drain_on_exit_signals
from graphql_api.face.strawberry_engine import EngineSchema
from graphql_api.face.websocket import (
    CONNECTION_INIT_TIMEOUT,
    KEEP_ALIVE_SECONDS,
    MAX_SUBSCRIPTIONS_PER_CONNECTION,
)
from schema import build_schema, depth_rules
from schema.context import Context

log = logging.getLogger(__name__)


# Requests allocate many short-lived containers; graphql-core, Strawberry and SQLAlchemy leave
# a few million long-lived objects at import. With the defaults, full collections rescan
# all of those every few hundred requests (14 % of CPU on the businesses page at 32
# concurrent requests, bench/RESULTS.md). Objects alive once the app has started are
# moved out of the collector's sight (gc.freeze) and the young generation collects less
# often; cycles are still collected.
GC_THRESHOLDS = (20_000, 20, 10)


def _tune_garbage_collector() -> None:
    gc.collect()
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)


class ApiApp(Starlette):
    """Starlette, with /graphql over HTTP handed straight to the GraphQL view.

    The view answers every outcome itself (GraphQL-shaped errors, 4xx, masked 500s), so the
    router and the exception middlewares add nothing on that path but a few frames and
    send wrappers per request. Everything else (health, WebSocket, lifespan) is Starlette's.
    """

    def __init__(
        self,
        graphql: ASGIApp,
        wrap: Callable[[ASGIApp], ASGIApp] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        # The transport layers that are on (face/transport.py), around whatever serves
        # /graphql: the view, or the view as observers wrapped it (face/observe.py).
        self._wrap = wrap or (lambda app: app)
        self.graphql = graphql

    @property
    def graphql(self) -> ASGIApp:
        return self._graphql

    @graphql.setter
    def graphql(self, app: ASGIApp) -> None:
        self._graphql = app
        self._graphql_http = self._wrap(app)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"] == "/graphql" and not scope.get("root_path"):
            scope["app"] = self
            await self._graphql_http(scope, receive, send)
            return
        await super().__call__(scope, receive, send)


def _budgets(settings: Settings) -> Budgets:
    return Budgets(
        anonymous=settings.budget_anonymous,
        member=settings.budget_member,
        staff=settings.budget_staff,
        service=settings.budget_service,
    )


def admission(limiter: RateLimiter, budgets: Budgets) -> Admit:
    """Charge each operation's cost to its caller's bucket (R10)."""

    async def admit(context: Context, cost: int) -> Throttle:
        identity, budget = budgets.identify(context.principal, context.client_ip)
        return await limiter.charge(identity, cost, budget)

    return admit


# The request header asking for `extensions.cacheStatus` (README "Response cache").
CACHE_STATUS_HEADER = "x-cache-status"


def cache_key(context: Context, scope: CacheScope) -> str | None:
    """Who may share an answer of `scope` with this caller (docs/DECISIONS.md, issue 12)."""
    principal = context.principal
    if scope is CacheScope.PUBLIC or principal.is_anonymous:
        # Anonymous callers are indistinguishable: whatever one may see, all may.
        return "public"
    # Drafts and permission checks depend on the role and on an API key's scopes
    # (announcements:write, ...).
    role = principal.role.value if principal.role is not None else "-"
    kind = "service" if principal.is_service else "user"
    grants = f"{role}:{kind}:{','.join(sorted(principal.scopes))}"
    if scope is CacheScope.ROLE:
        return f"role:{grants}"
    # Per caller, and per what the caller may do now: an admin demoted since an answer was
    # stored must not be served what only admins may read.
    if principal.user_id is not None:
        return f"user:{principal.user_id}:{grants}"
    if principal.api_key_id is not None:
        return f"key:{principal.api_key_id}:{grants}"
    return None


def _wants_cache_status(context: Context) -> bool:
    return context.request.headers.get(CACHE_STATUS_HEADER) == "1"


def response_cache(
    settings: Settings, db: Database, redis: Redis, shared: SharedCheck
) -> ResponseCache:
    return ResponseCache(
        rules=CacheRules(key=cache_key, report=_wants_cache_status),
        changes=db.changes,
        shared=shared,
        max_bytes=settings.response_cache_max_bytes,
        max_age_seconds=settings.response_cache_max_age_seconds,
        second_level=second_level(redis) if settings.response_cache_shared else None,
    )


def second_level(redis: Redis) -> SecondLevel:
    """The response cache's level shared by every instance: Redis, entries expiring with
    their max age (they carry their tags, checked when read, so writes need no deletes)."""

    async def put(key: str, value: bytes, ttl: float) -> None:
        await redis.set(key, value, px=max(1, int(ttl * 1000)))

    async def get(key: str) -> bytes | None:
        value = await redis.get(key)
        return value if isinstance(value, bytes) or value is None else str(value).encode()

    return SecondLevel(get=get, put=put)


def create_app(settings: Settings | None = None) -> Starlette:
    """Build the app. `uvicorn --factory graphql_api.face.app:create_app` reads env settings."""
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
            from graphql_api.core.db.migrate import upgrade

            await upgrade(url=database_url)
        app.state.settings = settings
        # Resolves the caller once per request/connection; tests may swap it for a fixed one.
        app.state.authenticate = authenticate
        # Users' current role and is_active, per process, for a few seconds (see authenticate).
        app.state.principal_cache = PrincipalCache()
        app.state.db = Database(settings)
        replace_closed_connections(*app.state.db.engines())  # after a PostgreSQL restart
        # Short socket timeouts: a frozen Redis fails a call quickly instead of hanging it
        # (issue 14); callers fall back or answer SERVICE_UNAVAILABLE.
        app.state.redis = Redis.from_url(
            redis_url,
            health_check_interval=30,
            socket_timeout=settings.redis_timeout_seconds,
            socket_connect_timeout=settings.redis_timeout_seconds,
        )
        # Events after commit; every committed change moves the shared data generation and
        # is announced, whether or not this instance caches: others may (core/changes.py).
        connect(app.state.db, app.state.redis)
        # API keys' last use: batched from Redis into the database every 30 s and at exit.
        last_use_flusher = LastUseFlusher(app.state.db, app.state.redis)
        last_use_flusher.start()
        # Subscriptions: one Redis pub/sub reader per instance, fanned out in-process (R17).
        app.state.broker = Broker(redis_url)
        # Revoked sessions: heard from every instance, loaded from Redis at start.
        app.state.revoked_sessions = RevokedSessions(settings.access_token_ttl_seconds)
        app.state.broker.listen(
            SESSION_REVOKED, app.state.revoked_sessions.on_event(app.state.redis)
        )
        await app.state.revoked_sessions.load(app.state.redis)
        app.state.broker.listen(DATA_CHANGED, app.state.db.changes.on_event())
        # What the caches check writes on other instances against (core/tagged.py).
        shared = SharedCheck(shared_generation(app.state.redis), shared_tags(app.state.redis))
        if settings.response_cache:
            view.operations.response_cache = response_cache(
                settings, app.state.db, app.state.redis, shared
            )
        if app.state.db.query_cache is not None:
            app.state.db.query_cache.shared = shared
            await warm_glossary(app.state.db)
        await app.state.broker.start()
        undo_drain = install_drain_on_exit_signals(app.state.broker)
        app.state.operations = view.operations  # the one execution path (tests tune it)
        app.state.persisted = (
            PersistedDocuments(app.state.redis, trusted_only=settings.trusted_documents)
            if settings.persisted_queries or settings.trusted_documents
            else None
        )
        if settings.rate_limit:
            app.state.rate_limiter = RateLimiter.from_url(redis_url)
            view.operations.admit = admission(app.state.rate_limiter, _budgets(settings))
        start_observing()  # patches libraries for traces when tracing is on (issue 13)
        _tune_garbage_collector()
        try:
            yield
        finally:
            observe.stop(settings)
            undo_drain()
            await app.state.broker.stop()
            if settings.rate_limit:
                await app.state.rate_limiter.aclose()
            await last_use_flusher.stop()
            await app.state.db.dispose()
            await app.state.redis.aclose()

    view = GraphQLView(
        build_schema(max_depth=settings.max_query_depth, schema_class=EngineSchema),
        validation_rules=depth_rules(settings.max_query_depth),
        limits=Limits(
            max_cost=settings.max_query_cost,
            default_page_size=DEFAULT_PAGE_SIZE,
            default_list_size=DEFAULT_PAGE_SIZE,
            max_aliases=settings.max_aliases,
            max_directives=settings.max_directives,
            introspection=settings.introspection,
            suggestions=settings.env is not Environment.PRODUCTION,
            timeout_seconds=settings.request_timeout_seconds,
        ),
        graphql_ide="graphiql" if settings.graphiql else None,
        keep_alive=True,
        keep_alive_interval=KEEP_ALIVE_SECONDS,
        connection_init_wait_timeout=CONNECTION_INIT_TIMEOUT,
        max_subscriptions_per_connection=MAX_SUBSCRIPTIONS_PER_CONNECTION,
    )
    application = ApiApp(
        view,
        lambda app: transport.wrap_graphql(app, settings),
        middleware=transport.middleware(settings),
        exception_handlers=transport.EXCEPTION_HANDLERS,
        routes=[
            Route("/graphql", view, methods=["GET", "POST"]),
            WebSocketRoute("/graphql", view),
            Route(f"{graphiql.ROUTE}/{{name}}", graphiql.serve_asset),
            Route("/health/live", health.live),
            Route("/health/ready", health.ready),
            Route("/health/detail", health_detail.detail),
            Route("/metrics", metrics_endpoint),
        ],
        lifespan=lifespan,
    )
    # Request log line, metrics and (when OTEL_* configure it) traces: face/observe.py.
    start_observing = observe.install(application, view.operations, settings)
    return application
