"""Test data builders for the briefings domain (R3): briefings, cases, glossary terms."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncEngine

from graphql_api.core.db.enums import BriefingStatus
from graphql_api.core.db.models import Briefing, BriefingGlossaryTerm, GlossaryTerm, HistoricalCase

BASE_DATE = date(2025, 1, 1)
KEYWORD_POOL = ("rates", "won", "semis", "oil", "kospi", "fed", "exports", "bonds")


def default_keywords(i: int) -> dict[str, float]:
    """Three keywords from the pool, rotating with i, with descending scores."""
    picked = [KEYWORD_POOL[(i + k) % len(KEYWORD_POOL)] for k in range(3)]
    return {kw: round(0.9 - 0.2 * k, 2) for k, kw in enumerate(picked)}


async def make_briefings(
    engine: AsyncEngine,
    count: int,
    *,
    start: date = BASE_DATE,
    status: BriefingStatus = BriefingStatus.PUBLISHED,
    keywords: Callable[[int], dict[str, float]] = default_keywords,
    **overrides: Any,
) -> list[int]:
    """`count` briefings on consecutive days from `start` (ids in insertion order)."""
    rows = []
    for i in range(count):
        day = start + timedelta(days=i)
        row: dict[str, Any] = {
            "date": day,
            "title": f"Briefing {day.isoformat()}",
            "summary": f"Summary of {day.isoformat()}",
            "narrative": f"Narrative of {day.isoformat()}",
            "top_keywords": keywords(i),
            "market_snapshot": {"kospi": 2500 + i, "usdkrw": "1380.5"},
            "status": status,
            "published_at": None
            if status is BriefingStatus.DRAFT
            else datetime.combine(day, datetime.min.time(), tzinfo=UTC) + timedelta(hours=7),
        }
        row.update(overrides)
        rows.append(row)
    async with engine.begin() as conn:
        result = await conn.execute(insert(Briefing).returning(Briefing.id), rows)
        return [r[0] for r in result]


async def make_cases(
    engine: AsyncEngine,
    specs: Sequence[tuple[str, date, Sequence[str]]],
) -> list[int]:
    """Historical cases from (title, occurred_on, keywords) triples."""
    rows = [
        {
            "title": title,
            "summary": f"What happened: {title}",
            "occurred_on": occurred_on,
            "keywords": list(keywords),
            "source_url": f"https://example.org/cases/{n}",
        }
        for n, (title, occurred_on, keywords) in enumerate(specs)
    ]
    async with engine.begin() as conn:
        result = await conn.execute(insert(HistoricalCase).returning(HistoricalCase.id), rows)
        return [r[0] for r in result]


async def make_many_cases(engine: AsyncEngine, count: int, *, tag: str = "") -> list[int]:
    """`count` cases on consecutive days back from BASE_DATE, keywords from the pool."""
    return await make_cases(
        engine,
        [
            (
                f"Case {tag}{i}",
                BASE_DATE - timedelta(days=i + 1),
                [KEYWORD_POOL[i % len(KEYWORD_POOL)], KEYWORD_POOL[(i + 3) % len(KEYWORD_POOL)]],
            )
            for i in range(count)
        ],
    )


async def make_glossary_terms(engine: AsyncEngine, terms: Sequence[str]) -> list[int]:
    rows = [{"term": term, "definition": f"Definition of {term}."} for term in terms]
    async with engine.begin() as conn:
        result = await conn.execute(insert(GlossaryTerm).returning(GlossaryTerm.id), rows)
        return [r[0] for r in result]


async def link_glossary_terms(engine: AsyncEngine, pairs: Sequence[tuple[int, int]]) -> None:
    """(briefing id, glossary term id) mentions."""
    if not pairs:
        return
    rows = [{"briefing_id": b, "glossary_term_id": t} for b, t in pairs]
    async with engine.begin() as conn:
        await conn.execute(insert(BriefingGlossaryTerm), rows)
