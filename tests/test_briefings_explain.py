"""Keyword searches use the GIN indexes on the JSONB columns (R3; issue 3 acceptance).

The tables get ~20,000 rows with diverse keywords and fresh statistics, so the planner's
choice is a real one (seqscan stays enabled). Each test EXPLAINs the very statement the
query function builds (same builder, same bound parameters), not hand-written SQL.
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import ClauseElement, Executable, insert, text
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler

from graphql_api.core.db.enums import BriefingStatus
from graphql_api.core.db.models import Briefing, HistoricalCase
from graphql_api.core.db.queries.briefings import (
    BriefingFilters,
    briefings_statement,
    historical_cases_statement,
    related_cases_statement,
)

ROWS = 20_000
VOCABULARY = [f"kw{i:04d}" for i in range(2_000)]
BRIEFINGS_GIN = "ix_briefings_top_keywords"
CASES_GIN = "ix_historical_cases_keywords"


class Explain(Executable, ClauseElement):
    """EXPLAIN (FORMAT JSON) <statement>, compiled by SQLAlchemy like the statement itself."""

    inherit_cache = False

    def __init__(self, statement: ClauseElement) -> None:
        self.statement = statement


@compiles(Explain)
def _compile_explain(element: Explain, compiler: SQLCompiler, **kw: Any) -> str:
    return "EXPLAIN (FORMAT JSON) " + compiler.process(element.statement, **kw)


async def _plan(engine: AsyncEngine, statement: ClauseElement) -> dict[str, Any]:
    async with engine.connect() as conn:
        raw = (await conn.execute(Explain(statement))).scalar_one()
    document = json.loads(raw) if isinstance(raw, str) else raw
    plan: dict[str, Any] = document[0]["Plan"]
    return plan


def _nodes(plan: dict[str, Any]) -> Iterator[dict[str, Any]]:
    yield plan
    for child in plan.get("Plans", []):
        yield from _nodes(child)


def _index_scans(plan: dict[str, Any]) -> list[tuple[str, str]]:
    return [
        (node["Node Type"], node.get("Index Name", ""))
        for node in _nodes(plan)
        if "Index" in node["Node Type"]
    ]


def _summary(plan: dict[str, Any]) -> str:
    return " > ".join(
        f"{n['Node Type']}" + (f"[{n['Index Name']}]" if "Index Name" in n else "")
        for n in _nodes(plan)
    )


@pytest.fixture
async def big_tables(engine: AsyncEngine) -> dict[str, Any]:
    """~20,000 briefings and 20,000 cases, each with 4-8 of 2,000 keywords; vacuumed."""
    rng = random.Random(20260101)
    start = date(1970, 1, 1)
    briefings = []
    for i in range(ROWS):
        keywords = rng.sample(VOCABULARY, rng.randint(4, 8))
        # A planted pair that co-occurs in a few rows, so keywordsAll has something to find.
        if i % 997 == 0:
            keywords = [*keywords, "pair-a", "pair-b"]
        day = start + timedelta(days=i)
        briefings.append(
            {
                "date": day,
                "title": f"Briefing {i}",
                "summary": "s",
                "narrative": "n",
                "top_keywords": {kw: round(rng.random(), 3) for kw in keywords},
                "status": BriefingStatus.DRAFT if i % 10 == 0 else BriefingStatus.PUBLISHED,
                "published_at": None
                if i % 10 == 0
                else datetime.combine(day, datetime.min.time(), tzinfo=UTC),
            }
        )
    cases = [
        {
            "title": f"Case {i}",
            "summary": "s",
            "occurred_on": date(1900, 1, 1) + timedelta(days=rng.randrange(45_000)),
            "keywords": rng.sample(VOCABULARY, rng.randint(4, 8)),
        }
        for i in range(ROWS)
    ]
    async with engine.begin() as conn:
        await conn.execute(insert(Briefing), briefings)
        await conn.execute(insert(HistoricalCase), cases)
    # VACUUM as autovacuum would after a bulk load: it also merges the GIN indexes' pending
    # lists (fastupdate), which the planner otherwise costs as a full read on every scan.
    async with engine.connect() as conn:
        autocommit = await conn.execution_options(isolation_level="AUTOCOMMIT")
        await autocommit.execute(text("VACUUM ANALYZE briefings"))
        await autocommit.execute(text("VACUUM ANALYZE historical_cases"))
    return {"briefings": briefings, "cases": cases}


async def test_keyword_searches_use_the_gin_indexes(
    engine: AsyncEngine, big_tables: dict[str, Any]
) -> None:
    shapes = {
        "briefings keywordsAny": (
            briefings_statement(
                filters=BriefingFilters(keywords_any=["kw0007", "kw1234"]),
                first=20,
                after=None,
                include_drafts=False,
            ),
            BRIEFINGS_GIN,
        ),
        "briefings keywordsAll": (
            briefings_statement(
                filters=BriefingFilters(keywords_all=["pair-a", "pair-b"]),
                first=20,
                after=None,
                include_drafts=False,
            ),
            BRIEFINGS_GIN,
        ),
        "briefings keywordsAny, drafts included": (
            briefings_statement(
                filters=BriefingFilters(keywords_any=["kw0042"]),
                first=100,
                after=None,
                include_drafts=True,
            ),
            BRIEFINGS_GIN,
        ),
        "historicalCases keywordsAny": (
            historical_cases_statement(keywords_any=["kw0007", "kw1234"], first=20, after=None),
            CASES_GIN,
        ),
    }
    for name, (statement, index) in shapes.items():
        plan = await _plan(engine, statement)
        print(f"{name}: {_summary(plan)}")
        assert ("Bitmap Index Scan", index) in _index_scans(plan), (name, _summary(plan))


async def test_explained_statements_return_the_right_rows(
    engine: AsyncEngine, big_tables: dict[str, Any]
) -> None:
    """The EXPLAINed statements are the real ones: they find exactly the expected rows."""
    briefings = big_tables["briefings"]
    expected = sorted(
        (
            b["date"]
            for b in briefings
            if {"pair-a", "pair-b"} <= b["top_keywords"].keys()
            and b["status"] is BriefingStatus.PUBLISHED
        ),
        reverse=True,
    )
    statement = briefings_statement(
        filters=BriefingFilters(keywords_all=["pair-a", "pair-b"]),
        first=100,
        after=None,
        include_drafts=False,
    )
    async with engine.connect() as conn:
        found = [row.date for row in (await conn.execute(statement)).all()]
    assert found == expected
    assert len(found) > 10


async def test_related_cases_plan(engine: AsyncEngine, big_tables: dict[str, Any]) -> None:
    """relatedCases for a page of 100 briefings: one statement, the GIN index per briefing."""
    statement = related_cases_statement(briefing_ids=list(range(1, 101)), limit=3)
    plan = await _plan(engine, statement)
    print(f"relatedCases(first:3) for 100 briefings: {_summary(plan)}")
    assert ("Bitmap Index Scan", CASES_GIN) in _index_scans(plan), _summary(plan)
