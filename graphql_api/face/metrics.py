"""Prometheus metrics at GET /metrics (R18, issue 13).

Per request the hot path adds to a few plain counters (`RequestStats`: no lock, no label
dict, nothing per field), exposed in Prometheus' format when scraped.
Everything that is a state rather than an event (pools, the response cache's counters,
subscriptions, the broker, Redis round trip) is read when Prometheus scrapes, by a custom
collector, from the objects that already keep it.

Operation names come from clients, so they are bounded: the first `MAX_OPERATION_NAMES`
distinct names of documents that validated get their own label, later ones are "other";
operations without a name are "anonymous", names that no document defines "unknown".
"""

from __future__ import annotations

import asyncio
import math
import re
import time
from bisect import bisect_left
from collections.abc import Iterator
from typing import Any

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    disable_created_metrics,
    generate_latest,
)
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector
from starlette.datastructures import State
from starlette.requests import Request
from starlette.responses import Response

# `*_created` series double the output and no dashboard here reads them.
disable_created_metrics()  # type: ignore[no-untyped-call]

MAX_OPERATION_NAMES = 200
ANONYMOUS = "anonymous"
UNKNOWN = "unknown"
OTHER = "other"
_PING_TIMEOUT_SECONDS = 1.0

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 15)
SQL_BUCKETS = (0, 1, 2, 3, 5, 8, 13, 21, 34, 55, 89)


class OperationNames:
    """Client-chosen operation names folded to a bounded set of label values."""

    def __init__(self, limit: int = MAX_OPERATION_NAMES) -> None:
        self._limit = limit
        self._labels: dict[str | None, str] = {None: ANONYMOUS}

    def label(self, name: str | None) -> str:
        found = self._labels.get(name)
        if found is not None:
            return found
        if len(self._labels) > self._limit:
            return OTHER
        label = name[:100] if name else ANONYMOUS
        self._labels[name] = label
        return label


class _Histogram:
    """Bucket counts and a sum in plain Python numbers (see `RequestStats`)."""

    __slots__ = ("counts", "total")

    def __init__(self, buckets: int) -> None:
        self.counts = [0] * (buckets + 1)  # the last one is +Inf
        self.total = 0.0


class RequestStats:
    """Per-request figures kept as plain ints and floats, exposed at scrape time.

    prometheus_client's Counter/Histogram take a lock per update and scan the buckets in
    Python: ~10 us per request in the server for the four updates. Here an update is a dict
    look-up, a `bisect` and a few integer additions (the event loop is one thread, and the
    scrape runs on it too, so nothing can interleave).
    """

    def __init__(self) -> None:
        self.requests: dict[tuple[str, str, str], int] = {}
        self.durations: dict[tuple[str, str], _Histogram] = {}
        self.statements: dict[str, _Histogram] = {}
        self.errors: dict[str, int] = {}

    def observe(
        self,
        operation: str,
        kind: str,
        outcome: str,
        seconds: float,
        sql: int | None,
        codes: list[str] | None = None,
    ) -> None:
        key = (operation, kind, outcome)
        self.requests[key] = self.requests.get(key, 0) + 1
        pair = (operation, kind)
        timer = self.durations.get(pair)
        if timer is None:
            timer = self.durations[pair] = _Histogram(len(LATENCY_BUCKETS))
        timer.counts[bisect_left(LATENCY_BUCKETS, seconds)] += 1
        timer.total += seconds
        if sql is not None:
            statements = self.statements.get(operation)
            if statements is None:
                statements = self.statements[operation] = _Histogram(len(SQL_BUCKETS))
            statements.counts[bisect_left(SQL_BUCKETS, sql)] += 1
            statements.total += sql
        if codes:
            for code in codes:
                self.errors[code] = self.errors.get(code, 0) + 1


def _buckets(bounds: tuple[float, ...], histogram: _Histogram) -> list[tuple[str, float]]:
    cumulative: list[tuple[str, float]] = []
    running = 0
    for bound, count in zip((*bounds, float("inf")), histogram.counts, strict=True):
        running += count
        cumulative.append(("+Inf" if bound == float("inf") else repr(float(bound)), running))
    return cumulative


class RequestCollector(Collector):
    def __init__(self, stats: RequestStats) -> None:
        self._stats = stats

    def collect(self) -> Iterator[Metric]:
        stats = self._stats
        requests = CounterMetricFamily(
            "graphql_api_requests",
            "GraphQL requests by operation name, type and outcome.",
            labels=["operation", "type", "outcome"],
        )
        for key, count in stats.requests.items():
            requests.add_metric(list(key), count)
        yield requests
        duration = HistogramMetricFamily(
            "graphql_api_request_duration_seconds",
            "Time from the request's arrival to its response, by operation name and type.",
            labels=["operation", "type"],
        )
        for pair, timer in stats.durations.items():
            duration.add_metric(list(pair), _buckets(LATENCY_BUCKETS, timer), timer.total)
        yield duration
        sql = HistogramMetricFamily(
            "graphql_api_sql_statements_per_request",
            "SQL statements one request sent (ORM and lean read path), by operation name.",
            labels=["operation"],
        )
        for operation, statements in stats.statements.items():
            sql.add_metric([operation], _buckets(SQL_BUCKETS, statements), statements.total)
        yield sql
        errors = CounterMetricFamily(
            "graphql_api_errors", "GraphQL errors returned, by extensions.code.", labels=["code"]
        )
        for code, count in stats.errors.items():
            errors.add_metric([code], count)
        yield errors


class Metrics:
    """This app's registry and instruments (one per app: tests start many in a process)."""

    def __init__(self, state: State) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.names = OperationNames()
        self.started = time.time()
        self.redis_ping_seconds: float | None = None
        self.stats = RequestStats()
        # The hot path's entry point: one request's counter, histograms and error codes.
        self.observe = self.stats.observe
        self.registry.register(RequestCollector(self.stats))
        self.rate_limited = Counter(
            "graphql_api_rate_limited",
            "Operations refused because the caller's cost budget was short (HTTP 429).",
            registry=self.registry,
        )
        self.websockets = Gauge(
            "graphql_api_websocket_connections",
            "WebSocket connections open on this process.",
            registry=self.registry,
        )
        self.registry.register(StateCollector(state, self))


_SNAKE = re.compile(r"(?<!^)(?=[A-Z])")


def _snake(name: str) -> str:
    return _SNAKE.sub("_", name).lower()


def _waiting(pool_queue: object) -> int | None:
    """Tasks waiting on an asyncio queue of connections (asyncpg's and SQLAlchemy's pools
    keep theirs private; None when the attribute is not where it was)."""
    getters = getattr(pool_queue, "_getters", None)
    return len(getters) if getters is not None else None


class StateCollector(Collector):
    """Figures read at scrape time from the app's objects."""

    def __init__(self, state: State, metrics: Metrics) -> None:
        self._state = state
        self._metrics = metrics

    def collect(self) -> Iterator[Metric]:
        yield GaugeMetricFamily(
            "graphql_api_uptime_seconds",
            "Seconds since this app was built.",
            value=time.time() - self._metrics.started,
        )
        if self._metrics.redis_ping_seconds is not None:
            yield GaugeMetricFamily(
                "graphql_api_redis_ping_seconds",
                "Round trip of a Redis PING, measured when /metrics was scraped.",
                value=self._metrics.redis_ping_seconds,
            )
        db = getattr(self._state, "db", None)
        if db is not None:
            yield from _pools(pool_figures(db))
        broker = getattr(self._state, "broker", None)
        if broker is not None:
            yield from _broker(broker)
        cache = getattr(getattr(self._state, "operations", None), "response_cache", None)
        if cache is not None:
            yield from _cache("response", cache.counters())
            yield from _scopes(cache.counters_per_scope())
        rows = getattr(db, "query_cache", None)
        if rows is not None:
            yield from _cache("query", rows.counters())


def pool_figures(db: Any) -> dict[str, dict[str, int | None]]:
    """Size, connections in use and idle, and waiting tasks of each database pool."""
    figures: dict[str, dict[str, int | None]] = {}
    names = ("writer", "reader")
    for name, engine in zip(names, (db.engine, db.read_engine), strict=True):
        pool = engine.pool
        in_use, idle = pool.checkedout(), pool.checkedin()
        queue = getattr(getattr(pool, "_pool", None), "_queue", None)
        figures[name] = {
            "max": pool.size() + getattr(pool, "_max_overflow", 0),
            "size": in_use + idle,
            "in_use": in_use,
            "idle": idle,
            "waiting": _waiting(queue) if queue is not None else None,
        }
    rows = getattr(getattr(db, "_rows", None), "_pool", None)
    if rows is not None:
        size = rows.get_size()
        idle = rows.get_idle_size()
        figures["lean"] = {
            "max": rows.get_max_size(),
            "size": size,
            "in_use": size - idle,
            "idle": idle,
            "waiting": _waiting(getattr(rows, "_queue", None)),
        }
    return figures


def _pools(figures: dict[str, dict[str, int | None]]) -> Iterator[Metric]:
    maximum = GaugeMetricFamily(
        "graphql_api_db_pool_max", "Most connections the pool may open.", labels=["pool"]
    )
    size = GaugeMetricFamily(
        "graphql_api_db_pool_size", "Connections the pool holds now.", labels=["pool"]
    )
    connections = GaugeMetricFamily(
        "graphql_api_db_pool_connections",
        "Connections in use (checked out) and idle.",
        labels=["pool", "state"],
    )
    waiting = GaugeMetricFamily(
        "graphql_api_db_pool_waiting",
        "Tasks waiting for a connection of the pool.",
        labels=["pool"],
    )
    for name, pool in figures.items():
        maximum.add_metric([name], pool["max"] or 0)
        size.add_metric([name], pool["size"] or 0)
        connections.add_metric([name, "in_use"], pool["in_use"] or 0)
        connections.add_metric([name, "idle"], pool["idle"] or 0)
        if pool["waiting"] is not None:
            waiting.add_metric([name], pool["waiting"])
    yield from (maximum, size, connections, waiting)


def _broker(broker: Any) -> Iterator[Metric]:
    yield GaugeMetricFamily(
        "graphql_api_subscriptions",
        "Subscriptions registered on this process.",
        value=broker.subscription_count,
    )
    state = GaugeMetricFamily(
        "graphql_api_broker_state",
        "1 for the subscription broker's current state (ok, starting, reconnecting, ...).",
        labels=["state"],
    )
    state.add_metric([broker.state.value], 1)
    yield state
    yield CounterMetricFamily(
        "graphql_api_broker_lag_seconds",
        "Summed lag of the events received, publication (the sender's clock) to arrival; its "
        "rate over graphql_api_broker_events_total's is the mean lag.",
        value=broker.lag_seconds_total,
    )
    yield GaugeMetricFamily(
        "graphql_api_broker_last_lag_seconds",
        "Lag of the last event received, publication to arrival (NaN before the first).",
        value=math.nan if broker.lag_seconds is None else broker.lag_seconds,
    )
    yield CounterMetricFamily(
        "graphql_api_broker_events",
        "Events the broker received from Redis pub/sub.",
        value=broker.events_received,
    )
    yield CounterMetricFamily(
        "graphql_api_broker_reconnects",
        "Times the broker reconnected to Redis.",
        value=broker.reconnects,
    )


_CACHE_GAUGES = ("entries", "bytes", "rows")


def _cache(kind: str, counters: dict[str, int]) -> Iterator[Metric]:
    """`kind`: "response" (whole answers) or "query" (the domain caches' rows)."""
    events = CounterMetricFamily(
        f"graphql_api_{kind}_cache_events",
        f"{kind.capitalize()} cache events of this process (hit, miss, store, eviction, ...).",
        labels=["event"],
    )
    for name, value in counters.items():
        if name in _CACHE_GAUGES:
            yield GaugeMetricFamily(
                f"graphql_api_{kind}_cache_{name}",
                f"{kind.capitalize()} cache {name} held by this process.",
                value=value,
            )
        else:
            events.add_metric([_snake(name)], value)
    yield events


def _scopes(per_scope: dict[str, dict[str, int]]) -> Iterator[Metric]:
    scopes = CounterMetricFamily(
        "graphql_api_response_cache_scope_events",
        "Response cache queries per document scope (public, role, user) and event.",
        labels=["scope", "event"],
    )
    for scope, tally in per_scope.items():
        for name, value in tally.items():
            scopes.add_metric([scope, _snake(name)], value)
    yield scopes


async def metrics_endpoint(request: Request) -> Response:
    """The Prometheus text format; measures a Redis round trip first (a scrape-time gauge)."""
    state = request.app.state
    metrics: Metrics = state.metrics
    redis = getattr(state, "redis", None)
    if redis is not None:
        start = time.perf_counter()
        try:
            await asyncio.wait_for(redis.ping(), _PING_TIMEOUT_SECONDS)
            metrics.redis_ping_seconds = time.perf_counter() - start
        except Exception:
            metrics.redis_ping_seconds = None
    body = generate_latest(metrics.registry)
    return Response(body, media_type=CONTENT_TYPE_LATEST)
