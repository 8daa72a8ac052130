"""Traces of one request (issue 13, R18): HTTP span -> operation span -> loader batch -> SQL,
all in the trace of the caller's `traceparent`, received by an in-memory exporter."""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.applications import Starlette

from graphql_api.core.config import Settings
from tests.factories import make_announcements, make_businesses

TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
PARENT_ID = "00f067aa0ba902b7"
TRACEPARENT = f"00-{TRACE_ID}-{PARENT_ID}-01"

PAGE = """
query Page {
  announcements(first: 5) { edges { node { title business { name } } } }
}
"""


@pytest.fixture(scope="module")
def exporter() -> Iterator[InMemorySpanExporter]:
    # The global provider can be set once per process; the app uses whichever SDK provider
    # is already there (graphql_api/core/telemetry/tracing.py), as with opentelemetry-instrument.
    provider = trace.get_tracer_provider()
    if not isinstance(provider, TracerProvider):
        provider = TracerProvider()
        trace.set_tracer_provider(provider)
    memory = InMemorySpanExporter()
    provider.add_span_processor(SimpleSpanProcessor(memory))
    yield memory
    memory.clear()


@pytest.fixture
async def traced_app(
    settings: Settings, exporter: InMemorySpanExporter
) -> AsyncIterator[Starlette]:
    from graphql_api.face.app import create_app

    application = create_app(dataclasses.replace(settings, tracing=True))
    async with application.router.lifespan_context(application):
        yield application


def _children(spans: list[ReadableSpan], parent: ReadableSpan) -> list[ReadableSpan]:
    parent_id = parent.context.span_id
    return [s for s in spans if s.parent is not None and s.parent.span_id == parent_id]


async def test_one_request_is_one_trace_down_to_sql(
    traced_app: Starlette,
    engine: AsyncEngine,
    exporter: InMemorySpanExporter,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="graphql_api.request")
    businesses = await make_businesses(engine, 2)
    await make_announcements(engine, 3, business_ids=businesses)
    transport = httpx.ASGITransport(app=traced_app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        exporter.clear()
        response = await client.post(
            "/graphql", json={"query": PAGE}, headers={"traceparent": TRACEPARENT}
        )
    assert response.status_code == 200, response.text
    assert "errors" not in response.json()
    spans = [s for s in exporter.get_finished_spans() if f"{s.context.trace_id:032x}" == TRACE_ID]

    (server,) = [s for s in spans if s.kind is SpanKind.SERVER]
    assert server.parent is not None
    assert f"{server.parent.span_id:016x}" == PARENT_ID
    assert server.parent.is_remote

    (operation,) = _children(spans, server)
    assert operation.name == "query Page"
    assert operation.attributes is not None
    assert operation.attributes["graphql.operation.name"] == "Page"
    assert operation.attributes["graphql.operation.type"] == "query"
    assert len(str(operation.attributes["graphql.document.hash"])) == 64
    assert int(operation.attributes["graphql.operation.cost"]) > 0  # type: ignore[arg-type]

    under_operation = _children(spans, operation)
    loaders = [s for s in under_operation if s.name == "dataloader BusinessByIdLoader"]
    assert len(loaders) == 1  # one batch for the page's businesses, not one per row
    (statement,) = _children(spans, loaders[0])
    assert statement.kind is SpanKind.CLIENT
    attributes = statement.attributes or {}
    sql = str(attributes.get("db.statement") or attributes.get("db.query.text"))
    assert "FROM businesses" in sql
    # Parameters are never recorded, only the statement with its placeholders.
    assert "$1" in sql
    assert not any("parameters" in key for key in attributes)
    # The page's list query is a SQL span of the operation itself (no loader).
    assert any(s.kind is SpanKind.CLIENT for s in under_operation)
    # Nothing per scalar field: titles and names make no spans.
    assert len(spans) < 12, [s.name for s in spans]
    # The request's log line names its trace.
    (line,) = [r for r in caplog.records if r.name == "graphql_api.request"]
    assert line.trace_id == TRACE_ID
    assert line.sampled is True


async def test_tracing_off_patches_nothing(client: httpx.AsyncClient) -> None:
    import aiodataloader
    import asyncpg

    response = await client.post("/graphql", json={"query": "{ announcements { totalCount } }"})
    assert response.status_code == 200
    assert not hasattr(asyncpg.connection.Connection.fetch, "__wrapped__")
    assert not hasattr(aiodataloader.dispatch_queue_batch, "__wrapped__")


async def test_an_unsampled_request_records_nothing(
    traced_app: Starlette, engine: AsyncEngine, exporter: InMemorySpanExporter
) -> None:
    businesses = await make_businesses(engine, 1)
    await make_announcements(engine, 2, business_ids=businesses)
    transport = httpx.ASGITransport(app=traced_app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        exporter.clear()
        # The caller decided not to sample (flags 00): parent-based sampling follows it, and
        # the instrumentations are suppressed for the whole request.
        unsampled = f"00-{TRACE_ID}-{PARENT_ID}-00"
        response = await client.post(
            "/graphql", json={"query": PAGE}, headers={"traceparent": unsampled}
        )
        assert response.status_code == 200
        assert response.json()["data"]["announcements"]["edges"][0]["node"]["business"]
        assert exporter.get_finished_spans() == ()
        # The next request, sampled, is recorded again: suppression ended with the request.
        response = await client.post(
            "/graphql", json={"query": PAGE}, headers={"traceparent": TRACEPARENT}
        )
    assert response.status_code == 200
    names = {span.name for span in exporter.get_finished_spans()}
    assert {"POST /graphql", "query Page", "dataloader BusinessByIdLoader"} <= names


async def test_each_subscription_delivery_is_a_span_with_its_sql(
    settings: Settings, engine: AsyncEngine, exporter: InMemorySpanExporter
) -> None:
    from graphql_api.core.db.enums import Role
    from graphql_api.face.app import create_app
    from tests.factories_portfolios import make_user
    from tests.test_subscriptions import (
        UPSERT_BRIEFING,
        TestClient,
        close,
        connect,
        post,
        receive,
        subscribe,
        token_for,
        wait_for_subscriptions,
    )

    admin = token_for(settings, await make_user(engine, role=Role.ADMIN), Role.ADMIN)
    watch = "subscription Watch { briefingPublished { id title glossaryTerms { id } } }"
    with TestClient(create_app(dataclasses.replace(settings, tracing=True))) as client:
        ws = connect(client)
        try:
            subscribe(ws, "w", watch)
            wait_for_subscriptions(client, 1)
            metrics = client.get("/metrics").text
            assert "graphql_api_websocket_connections 1.0" in metrics
            assert "graphql_api_subscriptions 1.0" in metrics
            exporter.clear()
            briefing = {
                "date": "2026-03-03",
                "title": "Quiet day",
                "summary": "Little moved.",
                "narrative": "Flat.",
                "topKeywords": [{"keyword": "flat", "score": 1.0}],
                "status": "PUBLISHED",
            }
            post(client, UPSERT_BRIEFING, {"input": briefing}, admin)
            message = receive(ws)
            assert message["payload"]["data"]["briefingPublished"]["title"] == "Quiet day"
        finally:
            close(ws)
    spans = list(exporter.get_finished_spans())
    (delivery,) = [s for s in spans if s.name == "subscription Watch event"]
    assert delivery.attributes is not None
    assert delivery.attributes["graphql.operation.name"] == "Watch"
    assert delivery.attributes["graphql.operation.type"] == "subscription"
    below = _children(spans, delivery)
    # The event's reads (its glossary terms) nest under the delivery, not under the
    # mutation's trace nor in traces of their own.
    assert below, [s.name for s in spans]
    assert all(s.context.trace_id == delivery.context.trace_id for s in below)
    assert any(s.kind is SpanKind.CLIENT or s.name.startswith("dataloader") for s in below)


async def test_other_routes_get_a_server_span_and_errors_mark_it(
    traced_app: Starlette, exporter: InMemorySpanExporter
) -> None:
    transport = httpx.ASGITransport(app=traced_app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        exporter.clear()
        response = await client.get("/health/live", headers={"traceparent": TRACEPARENT})
        assert response.status_code == 200
        missing = await client.get("/nowhere", headers={"traceparent": TRACEPARENT})
        assert missing.status_code == 404
    spans = [s for s in exporter.get_finished_spans() if s.kind is SpanKind.SERVER]
    by_path = {str((s.attributes or {}).get("url.path")): s for s in spans}
    live = by_path["/health/live"]
    assert live.attributes is not None
    assert live.attributes["http.response.status_code"] == 200
    assert f"{live.context.trace_id:032x}" == TRACE_ID
    assert by_path["/nowhere"].attributes["http.response.status_code"] == 404  # type: ignore[index]
