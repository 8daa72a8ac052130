"""Briefing, historical case and glossary reads (R3).

Keyword filters are written with the jsonb key operators (``?|`` any, ``?&`` all) against a
``text[]`` so that PostgreSQL can answer them from the GIN indexes on
``briefings.top_keywords`` (an object keyword -> score) and ``historical_cases.keywords``
(an array of strings). Statement builders are public so tests can EXPLAIN exactly what runs:
the lean read path (graphql_api.core.db.rows) compiles the very same builders, with the values as
named parameters. `briefings_by_ids` keeps the ORM session for the subscription, which
primes loaders with the ORM instance, so both classes resolve as `Briefing`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from functools import lru_cache
from operator import attrgetter
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Date,
    Select,
    String,
    Text,
    any_,
    bindparam,
    column,
    func,
    select,
    true,
)
from sqlalchemy.ext.asyncio import AsyncSession

from graphql_api.core.db.engine import Database
from graphql_api.core.db.enums import BriefingStatus
from graphql_api.core.db.models import Briefing, BriefingGlossaryTerm, GlossaryTerm, HistoricalCase
from graphql_api.core.db.query_cache import warm
from graphql_api.core.db.rows import AnySelect, Query, Row, array_param, ids_param, prepare
from graphql_api.core.pagination import (
    DEFAULT_PAGE_SIZE,
    Page,
    Seek,
    SortSpec,
    build_page,
    keyset,
    parse_date,
    parse_str,
    seek,
)


class BriefingRow(Row):
    """A briefing as reads return it: the columns the API exposes."""

    __slots__ = ()
    id: int
    date: date
    title: str
    summary: str
    narrative: str
    top_keywords: dict[str, Any]
    market_snapshot: dict[str, Any] | None
    status: BriefingStatus
    published_at: datetime | None


class HistoricalCaseRow(Row):
    """A historical case as reads return it."""

    __slots__ = ()
    id: int
    title: str
    summary: str
    occurred_on: date
    keywords: list[str]
    source_url: str | None


class GlossaryTermRow(Row):
    """A glossary term as reads return it."""

    __slots__ = ()
    id: int
    term: str
    definition: str


class RelatedCaseRow(HistoricalCaseRow):
    """A case related to one briefing (`for_briefing_id`)."""

    __slots__ = ()
    for_briefing_id: int


class MentionedTermRow(GlossaryTermRow):
    """A glossary term one briefing (`for_briefing_id`) mentions."""

    __slots__ = ()
    for_briefing_id: int


# What the GraphQL types resolve from: read rows or, after a write or in a subscription,
# ORM instances.
BRIEFING_CLASSES = (Briefing, BriefingRow)
HISTORICAL_CASE_CLASSES = (HistoricalCase, HistoricalCaseRow)
GLOSSARY_TERM_CLASSES = (GlossaryTerm, GlossaryTermRow)
AnyBriefing = Briefing | BriefingRow
AnyHistoricalCase = HistoricalCase | HistoricalCaseRow
AnyGlossaryTerm = GlossaryTerm | GlossaryTermRow

BRIEFING_COLUMNS = tuple(getattr(Briefing, name) for name in BriefingRow.__annotations__)
CASE_COLUMNS = tuple(getattr(HistoricalCase, name) for name in HistoricalCaseRow.__annotations__)
TERM_COLUMNS = tuple(getattr(GlossaryTerm, name) for name in GlossaryTermRow.__annotations__)

# Newest first. `date` is unique, the id only keeps the cursor format uniform.
BRIEFING_SORT = SortSpec("bd", Briefing.date, Briefing.id, True, parse_date)
# Most recent first; served by ix_historical_cases_occurred_on_id scanned backwards.
CASE_SORT = SortSpec("hc", HistoricalCase.occurred_on, HistoricalCase.id, True, parse_date)
# Alphabetical regardless of case; lower(term) is unique (uq_glossary_terms_lower_term).
_TERM_KEY = func.lower(GlossaryTerm.term, type_=String())
GLOSSARY_SORT = SortSpec("gt", _TERM_KEY, GlossaryTerm.id, False, parse_str)


def _text_array(name: str, values: Sequence[str] | None) -> ColumnElement[Any]:
    """One bound ``text[]`` parameter: what the jsonb ``?|`` / ``?&`` operators take."""
    return array_param(name, Text(), None if values is None else list(values))


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
    # Values are named parameters (see _briefing_params): the structure depends only on
    # which criteria are present, so one compiled statement serves every value.
    if not include_drafts:
        stmt = stmt.where(Briefing.status == BriefingStatus.PUBLISHED)
    if filters.keywords_any is not None:
        # top_keywords ?| text[]: at least one of the keywords is a key (GIN, jsonb_ops).
        keywords = _text_array("keywords_any", filters.keywords_any)
        stmt = stmt.where(Briefing.top_keywords.has_any(keywords))
    if filters.keywords_all is not None:
        # top_keywords ?& text[]: every keyword is a key (GIN, jsonb_ops).
        keywords = _text_array("keywords_all", filters.keywords_all)
        stmt = stmt.where(Briefing.top_keywords.has_all(keywords))
    if filters.date_from is not None:
        stmt = stmt.where(Briefing.date >= bindparam("date_from", filters.date_from, Date()))
    if filters.date_to is not None:
        stmt = stmt.where(Briefing.date <= bindparam("date_to", filters.date_to, Date()))
    return stmt


def _briefing_params(filters: BriefingFilters) -> dict[str, Any]:
    params: dict[str, Any] = {}
    if filters.keywords_any is not None:
        params["keywords_any"] = list(filters.keywords_any)
    if filters.keywords_all is not None:
        params["keywords_all"] = list(filters.keywords_all)
    if filters.date_from is not None:
        params["date_from"] = filters.date_from
    if filters.date_to is not None:
        params["date_to"] = filters.date_to
    return params


_PLACEHOLDER_DAY = date(2000, 1, 1)


def _briefing_shape(filters: BriefingFilters) -> BriefingFilters:
    """A hashable stand-in with the structure of `filters` (values are parameters)."""
    return BriefingFilters(
        keywords_any=None if filters.keywords_any is None else (),
        keywords_all=None if filters.keywords_all is None else (),
        date_from=None if filters.date_from is None else _PLACEHOLDER_DAY,
        date_to=None if filters.date_to is None else _PLACEHOLDER_DAY,
    )


def _briefings_select(
    filters: BriefingFilters, *, include_drafts: bool, where: Seek, params: Mapping[str, Any]
) -> AnySelect:
    stmt = _filtered_briefings(select(*BRIEFING_COLUMNS), filters, include_drafts=include_drafts)
    return keyset(stmt, BRIEFING_SORT, where, params)


def briefings_statement(
    *, filters: BriefingFilters, first: int, after: str | None, include_drafts: bool
) -> AnySelect:
    """The page query of `list_briefings` (first + 1 rows, newest first), values bound."""
    where, params = seek(BRIEFING_SORT, first=first, after=after)
    return _briefings_select(filters, include_drafts=include_drafts, where=where, params=params)


@lru_cache(maxsize=64)
def _briefings_query(
    shape: BriefingFilters, where: Seek, include_drafts: bool
) -> Query[BriefingRow]:
    stmt = _briefings_select(shape, include_drafts=include_drafts, where=where, params={})
    return prepare(stmt, BriefingRow)


_DATE_ID = attrgetter("date", "id")


async def list_briefings(
    db: Database,
    *,
    filters: BriefingFilters,
    first: int,
    after: str | None,
    include_drafts: bool,
) -> Page[BriefingRow]:
    where, params = seek(BRIEFING_SORT, first=first, after=after)
    query = _briefings_query(_briefing_shape(filters), where, include_drafts)
    rows = await db.fetch(query, **params, **_briefing_params(filters))
    return build_page(rows, BRIEFING_SORT, first=first, after=after, key=_DATE_ID)


@lru_cache(maxsize=32)
def _briefing_count_query(shape: BriefingFilters, include_drafts: bool) -> Query[Row]:
    stmt = select(func.count().label("count")).select_from(Briefing)
    return prepare(_filtered_briefings(stmt, shape, include_drafts=include_drafts), Row)


async def count_briefings(db: Database, *, filters: BriefingFilters, include_drafts: bool) -> int:
    query = _briefing_count_query(_briefing_shape(filters), include_drafts)
    row = await db.fetch_one(query, **_briefing_params(filters))
    assert row is not None  # an aggregate without GROUP BY always returns one row
    return int(row[0])


async def briefings_by_ids(session: AsyncSession, *, ids: Sequence[int]) -> list[Briefing]:
    """ORM instances, for the subscription (it primes the loaders with them)."""
    return list((await session.scalars(select(Briefing).where(Briefing.id.in_(ids)))).all())


_BRIEFINGS_BY_IDS = prepare(
    select(*BRIEFING_COLUMNS).where(Briefing.id == any_(ids_param("ids"))), BriefingRow
)


async def briefing_rows_by_ids(db: Database, *, ids: Sequence[int]) -> list[BriefingRow]:
    return await db.fetch(_BRIEFINGS_BY_IDS, ids=ids)


# The briefing of the day, its related cases and its terms: read by every visitor of the
# day's page, changed only by upsertBriefing (R15).
_BRIEFINGS_BY_DATES = prepare(
    select(*BRIEFING_COLUMNS).where(Briefing.date == any_(array_param("dates", Date()))),
    BriefingRow,
    cached=True,
)


async def briefings_by_dates(db: Database, *, dates: Sequence[date]) -> list[BriefingRow]:
    """Briefings of these days, drafts included: visibility is the caller's decision."""
    return await db.fetch(_BRIEFINGS_BY_DATES, dates=dates)


def related_cases_statement(
    *, briefing_ids: Sequence[int] | None = None, limit: int | None = None
) -> AnySelect:
    """(briefing id, case columns) rows: each briefing's `limit` best cases, in rank order.

    A case is related when its keywords overlap the briefing's top keyword keys; cases rank
    by the number of shared keywords, then by recency (occurred_on, id, both descending).
    One statement for any number of briefings: a LATERAL subquery per briefing whose filter
    ``keywords ?| <the briefing's keys>`` can use the GIN index on historical_cases.keywords.
    Parameters `briefing_ids` and `limit`; values given here are bound (for EXPLAIN).
    """
    key = func.jsonb_object_keys(Briefing.top_keywords).table_valued(
        column("key", Text), joins_implicitly=True
    )
    key = key.render_derived(name="k")
    ids = ids_param("briefing_ids", None if briefing_ids is None else list(briefing_ids))
    parents = (
        select(Briefing.id.label("briefing_id"), func.array_agg(key.c.key).label("briefing_keys"))
        .select_from(Briefing)
        .join(key, true())
        .where(Briefing.id == any_(ids))
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
        select(*CASE_COLUMNS, overlap)
        .where(HistoricalCase.keywords.has_any(keys))
        .order_by(overlap.desc(), HistoricalCase.occurred_on.desc(), HistoricalCase.id.desc())
        .limit(bindparam("limit", limit))
        .lateral("c")
    )
    return (
        select(
            *(ranked.c[name] for name in HistoricalCaseRow.__annotations__),
            parents.c.briefing_id.label("for_briefing_id"),
        )
        .select_from(parents)
        .join(ranked, true())
        .order_by(
            parents.c.briefing_id,
            ranked.c.overlap.desc(),
            ranked.c.occurred_on.desc(),
            ranked.c.id.desc(),
        )
    )


_RELATED_CASES = prepare(related_cases_statement(), RelatedCaseRow, cached=True)


async def related_cases_by_briefing_ids(
    db: Database, *, briefing_ids: Sequence[int], limit: int
) -> dict[int, list[RelatedCaseRow]]:
    grouped: dict[int, list[RelatedCaseRow]] = {bid: [] for bid in briefing_ids}
    if not briefing_ids or limit <= 0:
        return grouped
    for case in await db.fetch(_RELATED_CASES, briefing_ids=briefing_ids, limit=limit):
        grouped[case.for_briefing_id].append(case)
    return grouped


_TERMS_BY_BRIEFING_IDS = prepare(
    select(*TERM_COLUMNS, BriefingGlossaryTerm.briefing_id.label("for_briefing_id"))
    .join(GlossaryTerm, GlossaryTerm.id == BriefingGlossaryTerm.glossary_term_id)
    .where(BriefingGlossaryTerm.briefing_id == any_(ids_param("briefing_ids")))
    .order_by(BriefingGlossaryTerm.briefing_id, *GLOSSARY_SORT.order_by()),
    MentionedTermRow,
    cached=True,
)


async def glossary_terms_by_briefing_ids(
    db: Database, *, briefing_ids: Sequence[int]
) -> dict[int, list[MentionedTermRow]]:
    """The glossary terms each briefing mentions, alphabetically (case-insensitive)."""
    grouped: dict[int, list[MentionedTermRow]] = {bid: [] for bid in briefing_ids}
    for term in await db.fetch(_TERMS_BY_BRIEFING_IDS, briefing_ids=briefing_ids):
        grouped[term.for_briefing_id].append(term)
    return grouped


# --- Historical cases ----------------------------------------------------------------


def _filtered_cases(stmt: Select[Any], *, keywords_any: Sequence[str] | None) -> Select[Any]:
    if keywords_any is not None:
        # keywords ?| text[]: the array holds at least one of them (GIN, jsonb_ops).
        keywords = _text_array("keywords_any", keywords_any)
        stmt = stmt.where(HistoricalCase.keywords.has_any(keywords))
    return stmt


def _cases_select(
    keywords_any: Sequence[str] | None, *, where: Seek, params: Mapping[str, Any]
) -> AnySelect:
    stmt = _filtered_cases(select(*CASE_COLUMNS), keywords_any=keywords_any)
    return keyset(stmt, CASE_SORT, where, params)


def historical_cases_statement(
    *, keywords_any: Sequence[str] | None, first: int, after: str | None
) -> AnySelect:
    """The page query of `list_historical_cases` (first + 1 rows, most recent first)."""
    where, params = seek(CASE_SORT, first=first, after=after)
    return _cases_select(keywords_any, where=where, params=params)


@lru_cache(maxsize=16)
def _cases_query(filtered: bool, where: Seek) -> Query[HistoricalCaseRow]:
    return prepare(
        _cases_select(() if filtered else None, where=where, params={}), HistoricalCaseRow
    )


_OCCURRED_ID = attrgetter("occurred_on", "id")


def _keywords_params(keywords_any: Sequence[str] | None) -> dict[str, Any]:
    return {} if keywords_any is None else {"keywords_any": list(keywords_any)}


async def list_historical_cases(
    db: Database, *, keywords_any: Sequence[str] | None, first: int, after: str | None
) -> Page[HistoricalCaseRow]:
    where, params = seek(CASE_SORT, first=first, after=after)
    query = _cases_query(keywords_any is not None, where)
    rows = await db.fetch(query, **params, **_keywords_params(keywords_any))
    return build_page(rows, CASE_SORT, first=first, after=after, key=_OCCURRED_ID)


_CASE_COUNTS = {
    filtered: prepare(
        _filtered_cases(
            select(func.count().label("count")).select_from(HistoricalCase),
            keywords_any=() if filtered else None,
        ),
        Row,
    )
    for filtered in (False, True)
}


async def count_historical_cases(db: Database, *, keywords_any: Sequence[str] | None) -> int:
    query = _CASE_COUNTS[keywords_any is not None]
    row = await db.fetch_one(query, **_keywords_params(keywords_any))
    assert row is not None  # an aggregate without GROUP BY always returns one row
    return int(row[0])


_CASES_BY_IDS = prepare(
    select(*CASE_COLUMNS).where(HistoricalCase.id == any_(ids_param("ids"))), HistoricalCaseRow
)


async def historical_cases_by_ids(db: Database, *, ids: Sequence[int]) -> list[HistoricalCaseRow]:
    return await db.fetch(_CASES_BY_IDS, ids=ids)


# --- Glossary ------------------------------------------------------------------------

# What `icontains(..., autoescape=True)` escapes, done by hand so the text is a parameter.
_LIKE_ESCAPES = str.maketrans({"/": "//", "%": "/%", "_": "/_"})


def _filtered_terms(stmt: Select[Any], *, search: str | None) -> Select[Any]:
    if search:
        # lower(term) LIKE '%' || lower(:search) || '%' ESCAPE '/', with %, _ and / in the
        # user's text escaped: a literal, case-insensitive substring (so also prefix) match.
        text = bindparam("search", search.translate(_LIKE_ESCAPES), String())
        stmt = stmt.where(GlossaryTerm.term.icontains(text, escape="/"))
    return stmt


@lru_cache(maxsize=16)
def _terms_query(searched: bool, where: Seek) -> Query[GlossaryTermRow]:
    # The sort key comes from SQL so that cursors use PostgreSQL's lower(), not Python's.
    stmt = select(*TERM_COLUMNS, _TERM_KEY.label("sort_key"))
    stmt = _filtered_terms(stmt, search="?" if searched else None)
    # The glossary's pages: warmed at start-up (R15), changed only by hand. Not searches:
    # free text would only push the pages out.
    return prepare(keyset(stmt, GLOSSARY_SORT, where), GlossaryTermRow, cached=not searched)


_SORT_KEY_ID = attrgetter("sort_key", "id")


def _search_params(search: str | None) -> dict[str, Any]:
    return {"search": search.translate(_LIKE_ESCAPES)} if search else {}


async def list_glossary_terms(
    db: Database, *, search: str | None, first: int, after: str | None
) -> Page[GlossaryTermRow]:
    where, params = seek(GLOSSARY_SORT, first=first, after=after)
    rows = await db.fetch(_terms_query(bool(search), where), **params, **_search_params(search))
    return build_page(rows, GLOSSARY_SORT, first=first, after=after, key=_SORT_KEY_ID)


_TERM_COUNTS = {
    searched: prepare(
        _filtered_terms(
            select(func.count().label("count")).select_from(GlossaryTerm),
            search="?" if searched else None,
        ),
        Row,
        cached=not searched,
    )
    for searched in (False, True)
}


async def count_glossary_terms(db: Database, *, search: str | None) -> int:
    row = await db.fetch_one(_TERM_COUNTS[bool(search)], **_search_params(search))
    assert row is not None  # an aggregate without GROUP BY always returns one row
    return int(row[0])


async def warm_glossary(db: Database) -> None:
    """Keep the glossary's first page and size in the query cache (at start-up, R15)."""

    async def read() -> None:
        await list_glossary_terms(db, search=None, first=DEFAULT_PAGE_SIZE, after=None)
        await count_glossary_terms(db, search=None)

    await warm(read)


_TERMS_BY_IDS = prepare(
    select(*TERM_COLUMNS).where(GlossaryTerm.id == any_(ids_param("ids"))),
    GlossaryTermRow,
    cached=True,
)


async def glossary_terms_by_ids(db: Database, *, ids: Sequence[int]) -> list[GlossaryTermRow]:
    return await db.fetch(_TERMS_BY_IDS, ids=ids)
