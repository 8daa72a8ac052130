"""Briefing, historical case and glossary reads (R3).

Keyword filters are written with the jsonb key operators (``?|`` any, ``?&`` all) against a
``text[]`` so that PostgreSQL can answer them from the GIN indexes on
``briefings.top_keywords`` (an object keyword -> score) and ``historical_cases.keywords``
(an array of strings). Statement builders are public so tests can EXPLAIN exactly what runs.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import ColumnElement, Select, Text, cast, column, func, select, true
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from graphql_api.db.enums import BriefingStatus
from graphql_api.db.models import Briefing, BriefingGlossaryTerm, GlossaryTerm, HistoricalCase
from graphql_api.pagination import (
    Page,
    SortSpec,
    apply_keyset,
    build_page,
    parse_date,
    parse_str,
)

# Newest first. `date` is unique, the id only keeps the cursor format uniform.
BRIEFING_SORT = SortSpec("bd", Briefing.date, Briefing.id, True, parse_date)
# Most recent first; served by ix_historical_cases_occurred_on_id scanned backwards.
CASE_SORT = SortSpec("hc", HistoricalCase.occurred_on, HistoricalCase.id, True, parse_date)
# Alphabetical regardless of case; lower(term) is unique (uq_glossary_terms_lower_term).
_TERM_KEY = func.lower(GlossaryTerm.term)
GLOSSARY_SORT = SortSpec("gt", _TERM_KEY, GlossaryTerm.id, False, parse_str)


def _text_array(values: Sequence[str]) -> ColumnElement[Any]:
    """One bound ``text[]`` parameter: what the jsonb ``?|`` / ``?&`` operators take."""
    return cast(list(values), ARRAY(Text))


@dataclass(frozen=True, slots=True)
class BriefingFilters:
    """What a briefing list may be narrowed by; None means no restriction."""

    keywords_any: Sequence[str] | None = None
    keywords_all: Sequence[str] | None = None
    date_from: date | None = None
    date_to: date | None = None


def _filtered_briefings(
    stmt: Select[Any], filters: BriefingFilters, *, include_drafts: bool
) -> Select[Any]:
    if not include_drafts:
        stmt = stmt.where(Briefing.status == BriefingStatus.PUBLISHED)
    if filters.keywords_any is not None:
        # top_keywords ?| text[]: at least one of the keywords is a key (GIN, jsonb_ops).
        stmt = stmt.where(Briefing.top_keywords.has_any(_text_array(filters.keywords_any)))
    if filters.keywords_all is not None:
        # top_keywords ?& text[]: every keyword is a key (GIN, jsonb_ops).
        stmt = stmt.where(Briefing.top_keywords.has_all(_text_array(filters.keywords_all)))
    if filters.date_from is not None:
        stmt = stmt.where(Briefing.date >= filters.date_from)
    if filters.date_to is not None:
        stmt = stmt.where(Briefing.date <= filters.date_to)
    return stmt


def briefings_statement(
    *, filters: BriefingFilters, first: int, after: str | None, include_drafts: bool
) -> Select[Briefing]:
    """The page query of `list_briefings` (first + 1 rows, newest first)."""
    stmt = _filtered_briefings(select(Briefing), filters, include_drafts=include_drafts)
    return apply_keyset(stmt, BRIEFING_SORT, first=first, after=after)


async def list_briefings(
    session: AsyncSession,
    *,
    filters: BriefingFilters,
    first: int,
    after: str | None,
    include_drafts: bool,
) -> Page[Briefing]:
    stmt = briefings_statement(
        filters=filters, first=first, after=after, include_drafts=include_drafts
    )
    rows = (await session.scalars(stmt)).all()
    return build_page(rows, BRIEFING_SORT, first=first, after=after, key=lambda b: (b.date, b.id))


async def count_briefings(
    session: AsyncSession, *, filters: BriefingFilters, include_drafts: bool
) -> int:
    stmt = _filtered_briefings(
        select(func.count()).select_from(Briefing), filters, include_drafts=include_drafts
    )
    return int((await session.execute(stmt)).scalar_one())


async def briefings_by_ids(session: AsyncSession, *, ids: Sequence[int]) -> list[Briefing]:
    return list((await session.scalars(select(Briefing).where(Briefing.id.in_(ids)))).all())


async def briefings_by_dates(session: AsyncSession, *, dates: Sequence[date]) -> list[Briefing]:
    """Briefings of these days, drafts included: visibility is the caller's decision."""
    return list((await session.scalars(select(Briefing).where(Briefing.date.in_(dates)))).all())


def related_cases_statement(
    *, briefing_ids: Sequence[int], limit: int
) -> Select[int, HistoricalCase]:
    """(briefing id, case) rows: each briefing's `limit` best cases, in rank order.

    A case is related when its keywords overlap the briefing's top keyword keys; cases rank
    by the number of shared keywords, then by recency (occurred_on, id, both descending).
    One statement for any number of briefings: a LATERAL subquery per briefing whose filter
    ``keywords ?| <the briefing's keys>`` can use the GIN index on historical_cases.keywords.
    """
    key = func.jsonb_object_keys(Briefing.top_keywords).table_valued(
        column("key", Text), joins_implicitly=True
    )
    key = key.render_derived(name="k")
    parents = (
        select(Briefing.id.label("briefing_id"), func.array_agg(key.c.key).label("briefing_keys"))
        .select_from(Briefing)
        .join(key, true())
        .where(Briefing.id.in_(briefing_ids))
        .group_by(Briefing.id)
        .subquery("p")
    )
    keys = parents.c["briefing_keys"]
    shared = func.unnest(keys).table_valued(column("key", Text)).render_derived(name="u")
    overlap = (
        select(func.count())
        .select_from(shared)
        .where(HistoricalCase.keywords.has_key(shared.c.key))
        .scalar_subquery()
        .label("overlap")
    )
    ranked = (
        select(HistoricalCase, overlap)
        .where(HistoricalCase.keywords.has_any(keys))
        .order_by(overlap.desc(), HistoricalCase.occurred_on.desc(), HistoricalCase.id.desc())
        .limit(limit)
        .lateral("c")
    )
    case = aliased(HistoricalCase, ranked)
    return (
        select(parents.c.briefing_id, case)
        .select_from(parents)
        .join(ranked, true())
        .order_by(
            parents.c.briefing_id,
            ranked.c.overlap.desc(),
            ranked.c.occurred_on.desc(),
            ranked.c.id.desc(),
        )
    )


async def related_cases_by_briefing_ids(
    session: AsyncSession, *, briefing_ids: Sequence[int], limit: int
) -> dict[int, list[HistoricalCase]]:
    grouped: dict[int, list[HistoricalCase]] = {bid: [] for bid in briefing_ids}
    if not briefing_ids or limit <= 0:
        return grouped
    stmt = related_cases_statement(briefing_ids=briefing_ids, limit=limit)
    for briefing_id, case in (await session.execute(stmt)).all():
        grouped[briefing_id].append(case)
    return grouped


async def glossary_terms_by_briefing_ids(
    session: AsyncSession, *, briefing_ids: Sequence[int]
) -> dict[int, list[GlossaryTerm]]:
    """The glossary terms each briefing mentions, alphabetically (case-insensitive)."""
    stmt = (
        select(BriefingGlossaryTerm.briefing_id, GlossaryTerm)
        .join(GlossaryTerm, GlossaryTerm.id == BriefingGlossaryTerm.glossary_term_id)
        .where(BriefingGlossaryTerm.briefing_id.in_(briefing_ids))
        .order_by(BriefingGlossaryTerm.briefing_id, *GLOSSARY_SORT.order_by())
    )
    grouped: dict[int, list[GlossaryTerm]] = {bid: [] for bid in briefing_ids}
    for briefing_id, term in (await session.execute(stmt)).all():
        grouped[briefing_id].append(term)
    return grouped


# --- Historical cases ----------------------------------------------------------------


def _filtered_cases(stmt: Select[Any], *, keywords_any: Sequence[str] | None) -> Select[Any]:
    if keywords_any is not None:
        # keywords ?| text[]: the array holds at least one of them (GIN, jsonb_ops).
        stmt = stmt.where(HistoricalCase.keywords.has_any(_text_array(keywords_any)))
    return stmt


def historical_cases_statement(
    *, keywords_any: Sequence[str] | None, first: int, after: str | None
) -> Select[HistoricalCase]:
    """The page query of `list_historical_cases` (first + 1 rows, most recent first)."""
    stmt = _filtered_cases(select(HistoricalCase), keywords_any=keywords_any)
    return apply_keyset(stmt, CASE_SORT, first=first, after=after)


async def list_historical_cases(
    session: AsyncSession, *, keywords_any: Sequence[str] | None, first: int, after: str | None
) -> Page[HistoricalCase]:
    stmt = historical_cases_statement(keywords_any=keywords_any, first=first, after=after)
    rows = (await session.scalars(stmt)).all()
    return build_page(
        rows, CASE_SORT, first=first, after=after, key=lambda c: (c.occurred_on, c.id)
    )


async def count_historical_cases(
    session: AsyncSession, *, keywords_any: Sequence[str] | None
) -> int:
    stmt = _filtered_cases(
        select(func.count()).select_from(HistoricalCase), keywords_any=keywords_any
    )
    return int((await session.execute(stmt)).scalar_one())


async def historical_cases_by_ids(
    session: AsyncSession, *, ids: Sequence[int]
) -> list[HistoricalCase]:
    stmt = select(HistoricalCase).where(HistoricalCase.id.in_(ids))
    return list((await session.scalars(stmt)).all())


# --- Glossary ------------------------------------------------------------------------


def _filtered_terms(stmt: Select[Any], *, search: str | None) -> Select[Any]:
    if search:
        # lower(term) LIKE '%' || lower(:search) || '%' ESCAPE '/', with %, _ and / in the
        # user's text escaped: a literal, case-insensitive substring (so also prefix) match.
        stmt = stmt.where(GlossaryTerm.term.icontains(search, autoescape=True))
    return stmt


async def list_glossary_terms(
    session: AsyncSession, *, search: str | None, first: int, after: str | None
) -> Page[GlossaryTerm]:
    # The sort key comes from SQL so that cursors use PostgreSQL's lower(), not Python's.
    stmt = _filtered_terms(select(GlossaryTerm, _TERM_KEY.label("sort_key")), search=search)
    result = await session.execute(apply_keyset(stmt, GLOSSARY_SORT, first=first, after=after))
    keyed = [(term, sort_key) for term, sort_key in result.all()]
    page = build_page(keyed, GLOSSARY_SORT, first=first, after=after, key=lambda r: (r[1], r[0].id))
    return Page(
        items=[term for term, _ in page.items],
        cursors=page.cursors,
        has_next_page=page.has_next_page,
        has_previous_page=page.has_previous_page,
    )


async def count_glossary_terms(session: AsyncSession, *, search: str | None) -> int:
    stmt = _filtered_terms(select(func.count()).select_from(GlossaryTerm), search=search)
    return int((await session.execute(stmt)).scalar_one())


async def glossary_terms_by_ids(session: AsyncSession, *, ids: Sequence[int]) -> list[GlossaryTerm]:
    stmt = select(GlossaryTerm).where(GlossaryTerm.id.in_(ids))
    return list((await session.scalars(stmt)).all())
