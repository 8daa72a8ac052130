"""The query cache (issue 12, R15): the glossary warm from start-up, the briefing of the day
with its related cases and terms invalidated by upsertBriefing, prices by updatePrices;
never stale, on one instance or two."""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from graphql_api.core.actor import Actor
from graphql_api.core.changes import Changes
from graphql_api.core.config import Settings
from graphql_api.core.db.enums import BriefingStatus, Role
from graphql_api.core.db.queries import briefings as queries
from graphql_api.core.db.queries.briefings import count_glossary_terms, list_glossary_terms
from graphql_api.core.db.query_cache import QueryCache
from graphql_api.core.tags import request_generation
from graphql_api.services.briefings import upsert_briefing
from graphql_api.services.portfolios import update_prices
from tests.conftest import act_as, two_instances
from tests.factories_briefings import (
    link_glossary_terms,
    make_briefings,
    make_cases,
    make_glossary_terms,
)
from tests.factories_portfolios import make_principal, make_securities
from tests.test_cache_acceptance import deliver_late

DAY = dt.date(2026, 3, 2)
GLOSSARY = "query Terms { glossary { totalCount edges { node { term } } } }"
BRIEFING = """
query Day($date: Date!) {
  briefing(date: $date) { title relatedCases(first: 3) { title } glossaryTerms { term } }
}
"""
PRICES = "query Prices { securities(first: 10) { edges { node { symbol lastPrice } } } }"


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return dataclasses.replace(settings, query_cache=True, expose_sql_count=True)


async def post(
    http: httpx.AsyncClient, query: str, variables: dict[str, Any] | None = None
) -> tuple[dict[str, Any], int]:
    """The response's data and the SQL statements it cost."""
    response = await http.post("/graphql", json={"query": query, "variables": variables or {}})
    body: dict[str, Any] = response.json()
    assert "errors" not in body, body
    return body["data"], int(response.headers["x-sql-statements"])


async def test_the_glossary_is_warm_from_start_up(engine: AsyncEngine, settings: Settings) -> None:
    await make_glossary_terms(engine, ["Beta", "alpha", "Gamma"])
    async with two_instances(settings) as [(app, http), _]:
        rows = app.state.db.query_cache
        assert isinstance(rows, QueryCache)
        assert rows.stores >= 2  # the first page and the count
        data, statements = await post(http, GLOSSARY)
        assert statements == 0
        assert data["glossary"]["totalCount"] == 3
        assert [e["node"]["term"] for e in data["glossary"]["edges"]] == ["alpha", "Beta", "Gamma"]
        assert rows.hits >= 2
        ready = (await http.get("/health/ready")).json()
        assert ready["queryCache"]["hits"] == rows.hits


async def briefing_of_the_day(engine: AsyncEngine) -> None:
    (briefing,) = await make_briefings(
        engine, 1, start=DAY, keywords=lambda i: {"semis": 0.9, "kospi": 0.5}
    )
    await make_cases(engine, [("Chip cycle", dt.date(2019, 5, 1), ["semis"])])
    (term,) = await make_glossary_terms(engine, ["ETF"])
    await link_glossary_terms(engine, [(briefing, term)])


def admin_actor(principal: Any) -> Actor:
    return Actor(principal, request_id="req-query-cache", ip="203.0.113.7", now=datetime.now(UTC))


async def test_the_briefing_of_the_day_is_kept_until_upsert_briefing(
    engine: AsyncEngine, settings: Settings
) -> None:
    await briefing_of_the_day(engine)
    await make_glossary_terms(engine, ["Won"])
    admin = await make_principal(engine, Role.ADMIN)
    variables = {"date": DAY.isoformat()}
    async with two_instances(settings) as [(app, http), _]:
        first, statements = await post(http, BRIEFING, variables)
        assert statements > 0
        assert first["briefing"]["relatedCases"] == [{"title": "Chip cycle"}]
        assert first["briefing"]["glossaryTerms"] == [{"term": "ETF"}]
        again, statements = await post(http, BRIEFING, variables)
        assert (again, statements) == (first, 0)  # the day, its cases and its terms

        await upsert_briefing(
            db=app.state.db,
            actor=admin_actor(admin),
            date=DAY,
            title="The won weakens",
            summary="The won fell.",
            narrative="The Won fell against the dollar.",
            top_keywords=[("won", 0.9)],
            status=BriefingStatus.PUBLISHED,
        )
        after, statements = await post(http, BRIEFING, variables)
        assert statements > 0
        assert after["briefing"]["title"] == "The won weakens"
        assert after["briefing"]["relatedCases"] == []  # no case shares "won"
        assert after["briefing"]["glossaryTerms"] == [{"term": "Won"}]


async def test_an_upsert_on_b_is_seen_on_a_before_its_event(
    engine: AsyncEngine, settings: Settings
) -> None:
    await briefing_of_the_day(engine)
    admin = await make_principal(engine, Role.ADMIN)
    variables = {"date": DAY.isoformat()}
    async with two_instances(settings) as [(app_a, http_a), (app_b, _)]:
        deliver_late(app_a, 5.0)  # only A's check against Redis can tell
        for round_ in range(5):
            await post(http_a, BRIEFING, variables)
            _, statements = await post(http_a, BRIEFING, variables)
            assert statements == 0
            title = f"Round {round_}"
            await upsert_briefing(
                db=app_b.state.db,
                actor=admin_actor(admin),
                date=DAY,
                title=title,
                summary="s",
                narrative="n",
                top_keywords=[("semis", 0.9)],
                status=BriefingStatus.PUBLISHED,
            )
            seen, _ = await post(http_a, BRIEFING, variables)
            assert seen["briefing"]["title"] == title


async def test_prices_are_kept_until_update_prices(engine: AsyncEngine, settings: Settings) -> None:
    await make_securities(engine, 3, prices=[Decimal(1), Decimal(2), Decimal(3)])
    async with two_instances(settings) as [(app, http), _]:
        act_as(app, await make_principal(engine))
        await post(http, PRICES)
        _, statements = await post(http, PRICES)
        assert statements == 0
        await update_prices(db=app.state.db, prices=[("S0002", Decimal("9.5"))])
        data, statements = await post(http, PRICES)
        assert statements > 0
        edges = data["securities"]["edges"]
        assert {e["node"]["symbol"]: Decimal(e["node"]["lastPrice"]) for e in edges}["S0002"] == 9.5


async def test_outside_a_request_reads_go_to_the_database(
    engine: AsyncEngine, settings: Settings
) -> None:
    await make_glossary_terms(engine, ["Delta"])
    async with two_instances(settings) as [(app, _), _]:
        rows = app.state.db.query_cache
        stores, bypasses = rows.stores, rows.bypasses
        assert request_generation.get() is None
        await count_glossary_terms(app.state.db, search=None)
        assert (rows.stores, rows.bypasses) == (stores, bypasses + 1)
        # A search is never kept: free text would push the pages out.
        token = request_generation.set([None])
        try:
            page = await list_glossary_terms(app.state.db, search="del", first=5, after=None)
        finally:
            request_generation.reset(token)
        assert [row.term for row in page.items] == ["Delta"]
        assert rows.stores == stores


async def test_a_write_racing_a_fetch_keeps_its_rows_out(
    engine: AsyncEngine, settings: Settings
) -> None:
    await make_glossary_terms(engine, ["Epsilon"])
    async with two_instances(settings) as [(app, _), _]:
        db = app.state.db
        changes: Changes = db.changes
        rows = QueryCache(changes)

        async def load_while_a_write_commits(query: Any, params: Any) -> list[Any]:
            result = await db._rows.fetch(query, params)
            changes.bump(["glossary_terms"])  # committed after the read, before the store
            return result

        query = queries._TERM_COUNTS[False]
        token = request_generation.set([None])
        try:
            await rows.fetch(query, {}, load_while_a_write_commits)
            assert (rows.misses, rows.stores) == (1, 0)
            await rows.fetch(query, {}, db._rows.fetch)
            assert (rows.misses, rows.stores) == (2, 1)
            await rows.fetch(query, {}, db._rows.fetch)
            assert rows.hits == 1
        finally:
            request_generation.reset(token)


async def test_rows_past_their_max_age_are_read_again(
    engine: AsyncEngine, settings: Settings
) -> None:
    await make_glossary_terms(engine, ["Zeta"])
    async with two_instances(settings) as [(app, _), _]:
        db = app.state.db
        rows = QueryCache(db.changes, max_age_seconds=0.05)
        query = queries._TERM_COUNTS[False]
        token = request_generation.set([None])
        try:
            await rows.fetch(query, {}, db._rows.fetch)
            await rows.fetch(query, {}, db._rows.fetch)
            assert (rows.misses, rows.hits) == (1, 1)
            await asyncio.sleep(0.1)
            await rows.fetch(query, {}, db._rows.fetch)
            assert (rows.misses, rows.hits) == (2, 1)
        finally:
            request_generation.reset(token)
