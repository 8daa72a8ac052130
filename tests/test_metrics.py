"""GET /metrics (issue 13, R18): parsed with prometheus_client's own parser."""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.applications import Starlette

from graphql_api.core.config import Settings
from graphql_api.core.ratelimit import Budget
from graphql_api.face.metrics import OTHER, OperationNames
from tests.factories import make_announcements

DOCS = Path(__file__).resolve().parents[1] / "docs"
PAGE = "query Page { announcements(first: 5) { edges { node { id title } } } }"

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


async def scrape(client: httpx.AsyncClient) -> Samples:
    response = await client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    samples: Samples = {}
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def names(samples: Samples) -> set[str]:
    return {name for name, _ in samples}


@pytest.fixture
async def cached_client(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    from graphql_api.face.app import create_app

    application: Starlette = create_app(
        dataclasses.replace(settings, response_cache=True, query_cache=True)
    )
    async with application.router.lifespan_context(application):
        transport = httpx.ASGITransport(app=application)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
            yield http


async def test_a_request_moves_the_counter_and_the_histogram(
    cached_client: httpx.AsyncClient, engine: AsyncEngine
) -> None:
    await make_announcements(engine, 3)
    before = await scrape(cached_client)
    response = await cached_client.post("/graphql", json={"query": PAGE})
    assert response.status_code == 200
    assert "errors" not in response.json()
    after = await scrape(cached_client)

    labels = {"operation": "Page", "type": "query"}
    requests = "graphql_api_requests_total"
    assert (
        value(after, requests, **labels, outcome="ok")
        == value(before, requests, **labels, outcome="ok") + 1
    )
    latency = "graphql_api_request_duration_seconds_count"
    assert value(after, latency, **labels) == value(before, latency, **labels) + 1
    assert value(after, "graphql_api_request_duration_seconds_bucket", **labels, le="+Inf") == 1
    sql = "graphql_api_sql_statements_per_request"
    assert value(after, f"{sql}_count", operation="Page") == 1
    assert value(after, f"{sql}_sum", operation="Page") >= 1  # the page's list query

    # Pools: the ORM's writer and reader, and the lean read path's asyncpg pool.
    for pool in ("writer", "reader", "lean"):
        assert value(after, "graphql_api_db_pool_max", pool=pool) > 0
        assert ("graphql_api_db_pool_connections", (("pool", pool), ("state", "in_use"))) in after
    assert value(after, "graphql_api_db_pool_size", pool="lean") >= 1
    # The response cache's figures, read at scrape time (a miss, then a store).
    events = "graphql_api_response_cache_events_total"
    assert value(after, events, event="misses") == value(before, events, event="misses") + 1
    assert value(after, events, event="stores") >= 1
    assert value(after, "graphql_api_response_cache_entries") >= 1
    # The query (domain) cache's: the glossary was warmed at start-up.
    assert value(after, "graphql_api_query_cache_events_total", event="stores") >= 2
    assert value(after, "graphql_api_query_cache_rows") >= 1
    assert {"graphql_api_redis_ping_seconds", "graphql_api_subscriptions"} <= names(after)
    # The broker's lag (events stamped with their publication time).
    assert {"graphql_api_broker_lag_seconds_total", "graphql_api_broker_last_lag_seconds"} <= names(
        after
    )
    assert value(after, "graphql_api_broker_state", state="ok") == 1
    assert value(after, "graphql_api_websocket_connections") == 0


async def test_errors_are_counted_by_code(client: httpx.AsyncClient) -> None:
    response = await client.post("/graphql", json={"query": "query Bad { noSuchField }"})
    assert response.status_code == 200
    samples = await scrape(client)
    assert value(samples, "graphql_api_errors_total", code="GRAPHQL_VALIDATION_FAILED") == 1
    rejected = {"operation": "unknown", "type": "-", "outcome": "rejected"}
    assert value(samples, "graphql_api_requests_total", **rejected) == 1
    bad_json = await client.post(
        "/graphql", content=b"{", headers={"content-type": "application/json"}
    )
    assert bad_json.status_code == 400
    samples = await scrape(client)
    transport = {"operation": "unknown", "type": "-", "outcome": "bad_request"}
    assert value(samples, "graphql_api_requests_total", **transport) == 1


async def test_rate_limit_refusals_are_counted(settings: Settings) -> None:
    from graphql_api.face.app import create_app

    tight = dataclasses.replace(settings, rate_limit=True, budget_anonymous=Budget(3, 0.001))
    application = create_app(tight)
    async with application.router.lifespan_context(application):
        transport = httpx.ASGITransport(app=application)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
            statuses = [
                (await http.post("/graphql", json={"query": PAGE})).status_code for _ in range(3)
            ]
            assert 429 in statuses
            samples = await scrape(http)
    refused = statuses.count(429)
    assert value(samples, "graphql_api_rate_limited_total") == refused
    labels = {"operation": "Page", "type": "query", "outcome": "rate_limited"}
    assert value(samples, "graphql_api_requests_total", **labels) == refused
    assert value(samples, "graphql_api_errors_total", code="RATE_LIMITED") == refused


def test_operation_names_are_bounded() -> None:
    folded = OperationNames(limit=3)
    assert folded.label(None) == "anonymous"
    assert [folded.label(f"Op{i}") for i in range(5)] == ["Op0", "Op1", "Op2", OTHER, OTHER]
    assert folded.label("Op1") == "Op1"  # names seen before the limit keep their label


async def test_the_dashboard_and_the_docs_name_only_real_metrics(
    cached_client: httpx.AsyncClient,
) -> None:
    dashboard = json.loads((DOCS / "grafana-dashboard.json").read_text(encoding="utf-8"))
    assert dashboard["panels"]
    response = await cached_client.get("/metrics")
    exposed: set[str] = set()
    for family in text_string_to_metric_families(response.text):
        exposed.add(family.name)
        exposed.update(family.name + suffix for suffix in ("_total", "_bucket", "_sum", "_count"))
    text = json.dumps(dashboard) + (DOCS / "observability.md").read_text(encoding="utf-8")
    named = set(re.findall(r"graphql_api_[a-z_]+[a-z]", text))
    assert named
    assert named <= exposed, sorted(named - exposed)


def test_histogram_buckets_count_values_up_to_their_bound() -> None:
    from prometheus_client import CollectorRegistry, generate_latest

    from graphql_api.face.metrics import RequestCollector, RequestStats

    stats = RequestStats()
    stats.observe("Op", "query", "ok", 0.005, 3)  # exactly on a bound: in that bucket
    stats.observe("Op", "query", "ok", 20.0, 200)  # past the last bound: only +Inf
    registry = CollectorRegistry()
    registry.register(RequestCollector(stats))
    samples: Samples = {}
    for family in text_string_to_metric_families(generate_latest(registry).decode()):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    bucket = "graphql_api_request_duration_seconds_bucket"
    labels = {"operation": "Op", "type": "query"}
    assert value(samples, bucket, **labels, le="0.0025") == 0
    assert value(samples, bucket, **labels, le="0.005") == 1
    assert value(samples, bucket, **labels, le="15.0") == 1
    assert value(samples, bucket, **labels, le="+Inf") == 2
    assert value(samples, "graphql_api_request_duration_seconds_sum", **labels) == 20.005
    sql = "graphql_api_sql_statements_per_request_bucket"
    assert value(samples, sql, operation="Op", le="3.0") == 1
    assert value(samples, sql, operation="Op", le="2.0") == 0
