"""Business reads: the public list with filters and keyset pagination, relations by business.

Reads return `BusinessRow`s / `AnnouncementRow`s (graphql_api.core.db.rows). `businesses_by_ids`
keeps the ORM session for the announcement mutations that check a business inside their
transaction.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from functools import lru_cache
from operator import attrgetter
from typing import Any

from sqlalchemy import (
    ColumnElement,
    DateTime,
    Select,
    String,
    any_,
    bindparam,
    case,
    func,
    or_,
    select,
    true,
)
from sqlalchemy.ext.asyncio import AsyncSession

from graphql_api.core.db.engine import Database
from graphql_api.core.db.enums import AnnouncementStatus, BusinessSize
from graphql_api.core.db.models import Announcement, Business
from graphql_api.core.db.queries.announcements import (
    ANNOUNCEMENT_COLUMNS,
    AnnouncementRow,
    AnnouncementSort,
)
from graphql_api.core.db.queries.announcements import SORTS as ANNOUNCEMENT_SORTS
from graphql_api.core.db.rows import (
    AnySelect,
    Query,
    Row,
    array_param,
    ids_param,
    prepare,
    project,
)
from graphql_api.core.pagination import (
    Page,
    Seek,
    SortSpec,
    build_page,
    keyset,
    pages_by_parent,
    parse_datetime,
    parse_int,
    parse_str,
    seek,
    windowed,
)
from graphql_api.core.rules import is_open_sql


class BusinessRow(Row):
    """A business as reads return it: the columns the API exposes."""

    __slots__ = ()
    id: int
    name: str
    registration_number: str
    industry: str
    size: BusinessSize
    region: str
    founded_on: date | None
    employee_count: int | None
    annual_revenue: Decimal | None
    owner_id: int | None
    created_at: datetime
    updated_at: datetime


# What the GraphQL `Business` type resolves from: a read row or, after a write, the ORM
# instance.
BUSINESS_CLASSES = (Business, BusinessRow)
AnyBusiness = Business | BusinessRow

BUSINESS_COLUMNS = tuple(getattr(Business, name) for name in BusinessRow.__annotations__)


class BusinessSort(StrEnum):
    NAME_ASC = "NAME_ASC"
    CREATED_AT_DESC = "CREATED_AT_DESC"
    EMPLOYEE_COUNT_DESC = "EMPLOYEE_COUNT_DESC"


# lower(name) is what ix_businesses_lower_name indexes, so NAME_ASC reads it in index order.
_LOWER_NAME = func.lower(Business.name, type_=String())

SORTS: dict[BusinessSort, SortSpec] = {
    BusinessSort.NAME_ASC: SortSpec("na", _LOWER_NAME, Business.id, False, parse_str),
    BusinessSort.CREATED_AT_DESC: SortSpec(
        "cd", Business.created_at, Business.id, True, parse_datetime
    ),
    BusinessSort.EMPLOYEE_COUNT_DESC: SortSpec(
        "ed", Business.employee_count, Business.id, True, parse_int
    ),
}

# The order of a business's own announcements: newest published first, drafts last.
POSTED_ANNOUNCEMENTS_SORT = ANNOUNCEMENT_SORTS[AnnouncementSort.PUBLISHED_AT_DESC]


@dataclass(frozen=True, slots=True)
class BusinessFilters:
    """What a list may be narrowed by; None means no restriction."""

    industries: Sequence[str] | None = None
    sizes: Sequence[BusinessSize] | None = None
    regions: Sequence[str] | None = None
    # Case-insensitive substring of the name (cannot use a btree index: '%' leads).
    name_contains: str | None = None
    # Case-insensitive prefix of the name: a left-anchored LIKE on lower(name), which the
    # expression index serves under the C collation the clusters are created with.
    name_prefix: str | None = None


def escape_like(value: str) -> str:
    """Make user input match literally inside a LIKE pattern (escape character: backslash)."""
    return value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _name_like(name: str, pattern: str) -> ColumnElement[bool]:
    # lower() on both sides in SQL, so input and column fold case by the same rules; the
    # pattern is a bound parameter, constant-folded by the planner (custom plans).
    param = bindparam(name, pattern, String())
    return _LOWER_NAME.like(func.lower(param), escape="\\")


def _filtered(stmt: Select[Any], filters: BusinessFilters) -> Select[Any]:
    # Values are named parameters (see _params), so the statement's structure depends only
    # on which criteria are present and one compiled statement serves every value.
    if filters.industries is not None:
        industries = array_param("industries", String(), filters.industries)
        stmt = stmt.where(Business.industry == any_(industries))
    if filters.sizes is not None:
        sizes = array_param("sizes", String(), [size.value for size in filters.sizes])
        stmt = stmt.where(Business.size == any_(sizes))
    if filters.regions is not None:
        regions = array_param("regions", String(), filters.regions)
        stmt = stmt.where(Business.region == any_(regions))
    for name, pattern in _patterns(filters).items():
        stmt = stmt.where(_name_like(name, pattern))
    return stmt


def _patterns(filters: BusinessFilters) -> dict[str, str]:
    patterns: dict[str, str] = {}
    if filters.name_prefix:
        patterns["name_prefix"] = escape_like(filters.name_prefix) + "%"
    if filters.name_contains:
        patterns["name_contains"] = "%" + escape_like(filters.name_contains) + "%"
    return patterns


def _params(filters: BusinessFilters) -> dict[str, Any]:
    """The parameter values `_filtered` names, for the statement compiled from `_shape`."""
    params: dict[str, Any] = _patterns(filters)
    if filters.industries is not None:
        params["industries"] = list(filters.industries)
    if filters.sizes is not None:
        params["sizes"] = [size.value for size in filters.sizes]
    if filters.regions is not None:
        params["regions"] = list(filters.regions)
    return params


def _shape(filters: BusinessFilters) -> BusinessFilters:
    """A hashable stand-in with the structure of `filters` (values are parameters)."""
    return BusinessFilters(
        industries=None if filters.industries is None else (),
        sizes=None if filters.sizes is None else (),
        regions=None if filters.regions is None else (),
        name_contains="?" if filters.name_contains else None,
        name_prefix="?" if filters.name_prefix else None,
    )


@lru_cache(maxsize=128)
def _list_query(
    shape: BusinessFilters, sort: BusinessSort, where: Seek, columns: frozenset[str] | None
) -> Query[BusinessRow]:
    spec = SORTS[sort]
    # The sort value is selected next to the row, so the cursor carries exactly what the
    # database compares (lower() in SQL and in Python disagree outside ASCII).
    selected = project(BUSINESS_COLUMNS, columns, "id")
    stmt = _filtered(select(*selected, spec.column.label("sort_value")), shape)
    return prepare(keyset(stmt, spec, where), BusinessRow, partial=columns is not None)


_CURSOR_KEY = attrgetter("sort_value", "id")


async def list_businesses(
    db: Database,
    *,
    filters: BusinessFilters,
    sort: BusinessSort,
    first: int,
    after: str | None,
    columns: frozenset[str] | None = None,
) -> Page[BusinessRow]:
    """A page of businesses; `columns` (None: all) narrows what each row carries."""
    spec = SORTS[sort]
    where, params = seek(spec, first=first, after=after)
    query = _list_query(_shape(filters), sort, where, columns)
    rows = await db.fetch(query, **params, **_params(filters))
    return build_page(rows, spec, first=first, after=after, key=_CURSOR_KEY)


@lru_cache(maxsize=64)
def _count_query(shape: BusinessFilters) -> Query[Row]:
    return prepare(_filtered(select(func.count().label("count")).select_from(Business), shape), Row)


async def count_businesses(db: Database, *, filters: BusinessFilters) -> int:
    row = await db.fetch_one(_count_query(_shape(filters)), **_params(filters))
    assert row is not None  # an aggregate without GROUP BY always returns one row
    return int(row[0])


async def businesses_by_ids(session: AsyncSession, *, ids: Sequence[int]) -> list[Business]:
    """ORM instances, for writes that check businesses inside their own transaction."""
    return list((await session.scalars(select(Business).where(Business.id.in_(ids)))).all())


_BY_IDS = prepare(
    select(*BUSINESS_COLUMNS).where(Business.id == any_(ids_param("ids"))), BusinessRow
)


async def business_rows_by_ids(db: Database, *, ids: Sequence[int]) -> list[BusinessRow]:
    return await db.fetch(_BY_IDS, ids=ids)


_BY_OWNER_IDS = prepare(
    select(*BUSINESS_COLUMNS)
    .where(Business.owner_id == any_(ids_param("owner_ids")))
    .order_by(Business.owner_id, _LOWER_NAME, Business.id),
    BusinessRow,
)


async def businesses_by_owner_ids(db: Database, *, owner_ids: Sequence[int]) -> list[BusinessRow]:
    """Every business of these owners, by name within an owner (ix_businesses_owner_id)."""
    return await db.fetch(_BY_OWNER_IDS, owner_ids=owner_ids)


def _posted(stmt: AnySelect, *, include_drafts: bool) -> AnySelect:
    if not include_drafts:
        stmt = stmt.where(Announcement.status != AnnouncementStatus.DRAFT)
    return stmt


@lru_cache(maxsize=128)
def _posted_pages_query(
    include_drafts: bool, where: Seek, columns: frozenset[str] | None
) -> Query[AnnouncementRow]:
    sort = POSTED_ANNOUNCEMENTS_SORT
    # Pages are split by business and cursors read the sort column and the id.
    selected = project(ANNOUNCEMENT_COLUMNS, columns, "id", "business_id", sort.column.key)
    stmt = _posted(select(*selected), include_drafts=include_drafts)
    stmt = windowed(stmt, sort, where, parent_column=Announcement.business_id)
    return prepare(stmt, AnnouncementRow, partial=columns is not None)


_BY_BUSINESS = attrgetter("business_id")
_POSTED_CURSOR_KEY = attrgetter(POSTED_ANNOUNCEMENTS_SORT.column.key, "id")


async def posted_announcement_pages(
    db: Database,
    *,
    business_ids: Sequence[int],
    first: int,
    after: str | None,
    include_drafts: bool,
    columns: frozenset[str] | None = None,
) -> dict[int, Page[AnnouncementRow]]:
    """A page of the announcements each business posted, for many businesses in ONE query;
    `columns` (None: all) narrows what each row carries."""
    sort = POSTED_ANNOUNCEMENTS_SORT
    where, params = seek(sort, first=first, after=after)
    query = _posted_pages_query(include_drafts, where, columns)
    rows = await db.fetch(query, parent_ids=business_ids, **params)
    return pages_by_parent(
        rows, business_ids, sort, first=first, after=after,
        parent=_BY_BUSINESS, key=_POSTED_CURSOR_KEY,
    )  # fmt: skip


def _posted_counts_query(include_drafts: bool) -> Query[Row]:
    stmt = _posted(
        select(Announcement.business_id, func.count().label("count")),
        include_drafts=include_drafts,
    )
    stmt = stmt.where(Announcement.business_id == any_(ids_param("business_ids")))
    return prepare(stmt.group_by(Announcement.business_id), Row)


_POSTED_COUNTS = {flag: _posted_counts_query(flag) for flag in (False, True)}


async def posted_announcement_counts(
    db: Database, *, business_ids: Sequence[int], include_drafts: bool
) -> dict[int, int]:
    """How many announcements each business posted (one GROUP BY for many businesses)."""
    rows = await db.fetch(_POSTED_COUNTS[include_drafts], business_ids=business_ids)
    return {row[0]: int(row[1]) for row in rows if row[0] is not None}


def _open_to(column: Any, value: Any) -> ColumnElement[bool]:
    """An announcement criterion holds: the array is empty (anyone) or contains the value."""
    return or_(func.cardinality(column) == 0, value == any_(column))


def _specificity() -> ColumnElement[int]:
    """How many of the three criteria an announcement restricts (all of them matched)."""
    columns = (Announcement.target_industries, Announcement.target_sizes, Announcement.regions)
    terms = [case((func.cardinality(c) > 0, 1), else_=0) for c in columns]
    return terms[0] + terms[1] + terms[2]


class MatchedAnnouncementRow(AnnouncementRow):
    """An announcement matched to one business (the business is `for_business_id`)."""

    __slots__ = ()
    for_business_id: int


def _matching_query() -> Query[MatchedAnnouncementRow]:
    """Calls open at `:now` (core.rules) that each business is eligible for, best first.

    A LATERAL subquery ranks the calls per business: more restricting criteria (all of which
    the business meets) first, then the soonest closing, then id; LIMIT applies per business.
    """
    now = bindparam("now", type_=DateTime(timezone=True))
    specificity = _specificity().label("specificity")
    # The lateral ranks narrow tuples only; the full rows are joined to the few winners.
    ranked = (
        select(Announcement.id, Announcement.closes_at, specificity)
        .where(
            is_open_sql(now),
            _open_to(Announcement.target_industries, Business.industry),
            _open_to(Announcement.target_sizes, Business.size),
            _open_to(Announcement.regions, Business.region),
        )
        .order_by(
            specificity.desc(), Announcement.closes_at.asc().nulls_last(), Announcement.id.asc()
        )
        .limit(bindparam("limit"))
        # Only the business is outer: the announcements joined below must not correlate.
        .correlate(Business)
        .lateral("ranked")
    )
    stmt = (
        select(*ANNOUNCEMENT_COLUMNS, Business.id.label("for_business_id"))
        .select_from(Business)
        .join(ranked, true())
        .join(Announcement, Announcement.id == ranked.c.id)
        .where(Business.id == any_(ids_param("business_ids")))
        .order_by(
            Business.id,
            ranked.c.specificity.desc(),
            ranked.c.closes_at.asc().nulls_last(),
            ranked.c.id.asc(),
        )
    )
    return prepare(stmt, MatchedAnnouncementRow)


_MATCHING = _matching_query()


async def matching_announcements(
    db: Database, *, business_ids: Sequence[int], first: int, now: datetime
) -> dict[int, list[MatchedAnnouncementRow]]:
    """Open published calls each business is eligible for, best first, in ONE query."""
    result: dict[int, list[MatchedAnnouncementRow]] = {bid: [] for bid in business_ids}
    for row in await db.fetch(_MATCHING, business_ids=business_ids, limit=first, now=now):
        result[row.for_business_id].append(row)
    return result
