"""Announcement reads: the public list with filters and keyset pagination, lookups by id.

Reads return `AnnouncementRow`s (graphql_api.core.db.rows); `matching_announcement` still
returns the ORM instance for the subscription, which primes loaders with it, so both
classes resolve as the GraphQL `Announcement` (`ANNOUNCEMENT_CLASSES`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from enum import StrEnum
from functools import lru_cache
from operator import attrgetter
from typing import Any

from sqlalchemy import (
    BigInteger,
    ColumnElement,
    DateTime,
    Select,
    String,
    and_,
    any_,
    bindparam,
    func,
    or_,
    select,
)
from sqlalchemy.ext.asyncio import AsyncSession

from graphql_api.core.db.engine import Database
from graphql_api.core.db.enums import AnnouncementStatus, BusinessSize
from graphql_api.core.db.models import Announcement, Application
from graphql_api.core.db.models.announcements import SEARCH_CONFIG
from graphql_api.core.db.rows import Query, Row, array_param, ids_param, prepare, project
from graphql_api.core.pagination import (
    Page,
    Seek,
    SortSpec,
    build_page,
    keyset,
    parse_datetime,
    seek,
)
from graphql_api.core.rules import has_closed_sql, is_open_sql


class AnnouncementRow(Row):
    """An announcement as reads return it: the columns the API exposes."""

    __slots__ = ()
    id: int
    title: str
    body: str
    organization: str
    category: str
    target_industries: list[str]
    target_sizes: list[str]
    regions: list[str]
    budget: Decimal | None
    opens_at: datetime | None
    closes_at: datetime | None
    status: AnnouncementStatus
    source_url: str | None
    keywords: list[str]
    business_id: int | None
    published_at: datetime | None
    created_at: datetime
    updated_at: datetime


# What the GraphQL `Announcement` type resolves from: a read row or, after a write or in a
# subscription, the ORM instance.
ANNOUNCEMENT_CLASSES = (Announcement, AnnouncementRow)
AnyAnnouncement = Announcement | AnnouncementRow

# Not `search_vector` (large, internal) nor `created_by_id` (not exposed).
ANNOUNCEMENT_COLUMNS = tuple(
    getattr(Announcement, name) for name in AnnouncementRow.__annotations__
)


class AnnouncementSort(StrEnum):
    PUBLISHED_AT_DESC = "PUBLISHED_AT_DESC"
    PUBLISHED_AT_ASC = "PUBLISHED_AT_ASC"
    CLOSES_AT_ASC = "CLOSES_AT_ASC"
    CLOSES_AT_DESC = "CLOSES_AT_DESC"


SORTS: dict[AnnouncementSort, SortSpec] = {
    AnnouncementSort.PUBLISHED_AT_DESC: SortSpec(
        "pd", Announcement.published_at, Announcement.id, True, parse_datetime
    ),
    AnnouncementSort.PUBLISHED_AT_ASC: SortSpec(
        "pa", Announcement.published_at, Announcement.id, False, parse_datetime
    ),
    AnnouncementSort.CLOSES_AT_ASC: SortSpec(
        "ca", Announcement.closes_at, Announcement.id, False, parse_datetime
    ),
    AnnouncementSort.CLOSES_AT_DESC: SortSpec(
        "cd", Announcement.closes_at, Announcement.id, True, parse_datetime
    ),
}


@dataclass(frozen=True, slots=True)
class AnnouncementFilters:
    """What a list may be narrowed by; None means no restriction."""

    statuses: Sequence[AnnouncementStatus] | None = None
    categories: Sequence[str] | None = None
    regions: Sequence[str] | None = None
    industries: Sequence[str] | None = None
    sizes: Sequence[BusinessSize] | None = None
    open_now: bool | None = None
    closing_before: datetime | None = None
    search: str | None = None
    business_ids: Sequence[int] | None = None


def _status_condition(status: AnnouncementStatus, now: ColumnElement[Any]) -> ColumnElement[bool]:
    """Rows whose effective status (core.rules.effective_status) is `status` at `now`."""
    published = Announcement.status == AnnouncementStatus.PUBLISHED
    if status is AnnouncementStatus.PUBLISHED:
        return and_(published, ~has_closed_sql(now))
    if status is AnnouncementStatus.CLOSED:
        closed = Announcement.status == AnnouncementStatus.CLOSED
        return or_(closed, and_(published, has_closed_sql(now)))
    return Announcement.status == status


def _uses_clock(filters: AnnouncementFilters) -> bool:
    """Whether the filter compares with the request's clock (the `now` parameter)."""
    if filters.open_now is not None:
        return True
    return filters.statuses is not None and any(
        status is not AnnouncementStatus.DRAFT for status in filters.statuses
    )


def _filtered(
    stmt: Select[Any],
    filters: AnnouncementFilters,
    *,
    include_drafts: bool,
    now: datetime | None = None,
) -> Select[Any]:
    """`stmt` narrowed by `filters`; `now` is the request's clock, a parameter of the
    statement (None when it is compiled once per shape and given at execution)."""
    clock = bindparam("now", now, DateTime(timezone=True))
    if not include_drafts:
        stmt = stmt.where(Announcement.status != AnnouncementStatus.DRAFT)
    if filters.statuses is not None:
        stmt = stmt.where(or_(*(_status_condition(s, clock) for s in filters.statuses)))
    # Values are named parameters (see _params); the statement's structure depends only on
    # which criteria are present, so one compiled statement serves every value.
    if filters.categories is not None:
        categories = array_param("categories", String(), filters.categories)
        stmt = stmt.where(Announcement.category == any_(categories))
    # Array criteria use && (overlap) on GIN-indexed columns; an empty target array means
    # "open to all", so such calls match any requested value.
    if filters.regions is not None:
        stmt = stmt.where(_open_to(Announcement.regions, "regions", filters.regions))
    if filters.industries is not None:
        stmt = stmt.where(
            _open_to(Announcement.target_industries, "industries", filters.industries)
        )
    if filters.sizes is not None:
        sizes = [size.value for size in filters.sizes]
        stmt = stmt.where(_open_to(Announcement.target_sizes, "sizes", sizes))
    if filters.open_now is not None:
        is_open = is_open_sql(clock)
        stmt = stmt.where(is_open if filters.open_now else ~is_open)
    if filters.closing_before is not None:
        before = bindparam("closing_before", filters.closing_before, Announcement.closes_at.type)
        stmt = stmt.where(Announcement.closes_at < before)
    if filters.search:
        text = bindparam("search", filters.search, String())
        query = func.websearch_to_tsquery(SEARCH_CONFIG, text)
        stmt = stmt.where(Announcement.search_vector.op("@@")(query))
    if filters.business_ids is not None:
        ids = array_param("business_ids", BigInteger(), filters.business_ids)
        stmt = stmt.where(Announcement.business_id == any_(ids))
    return stmt


def _open_to(column: Any, name: str, values: Sequence[str]) -> ColumnElement[bool]:
    param = array_param(name, String(), list(values))
    return or_(column.overlap(param), func.cardinality(column) == 0)


def _params(filters: AnnouncementFilters, now: datetime) -> dict[str, Any]:
    """The parameter values `_filtered` names, for the statement compiled from `_shape`."""
    params: dict[str, Any] = {}
    if _uses_clock(filters):
        params["now"] = now
    if filters.categories is not None:
        params["categories"] = list(filters.categories)
    if filters.regions is not None:
        params["regions"] = list(filters.regions)
    if filters.industries is not None:
        params["industries"] = list(filters.industries)
    if filters.sizes is not None:
        params["sizes"] = [size.value for size in filters.sizes]
    if filters.closing_before is not None:
        params["closing_before"] = filters.closing_before
    if filters.search:
        params["search"] = filters.search
    if filters.business_ids is not None:
        params["business_ids"] = list(filters.business_ids)
    return params


_PLACEHOLDER_TIME = datetime(2000, 1, 1)


def _shape(filters: AnnouncementFilters) -> AnnouncementFilters:
    """A hashable stand-in with the structure of `filters` (values are parameters)."""
    return AnnouncementFilters(
        # Statuses shape the SQL itself (each is its own condition).
        statuses=None if filters.statuses is None else tuple(sorted(set(filters.statuses))),
        categories=None if filters.categories is None else (),
        regions=None if filters.regions is None else (),
        industries=None if filters.industries is None else (),
        sizes=None if filters.sizes is None else (),
        open_now=filters.open_now,
        closing_before=None if filters.closing_before is None else _PLACEHOLDER_TIME,
        search="?" if filters.search else None,
        business_ids=None if filters.business_ids is None else (),
    )


def _cursor_key(spec: SortSpec) -> Callable[[Any], tuple[Any, int]]:
    return attrgetter(spec.column.key, "id")


@lru_cache(maxsize=512)
def _list_query(
    shape: AnnouncementFilters,
    sort: AnnouncementSort,
    where: Seek,
    include_drafts: bool,
    columns: frozenset[str] | None,
) -> Query[AnnouncementRow]:
    spec = SORTS[sort]
    # The cursor reads the sort column and the id (build_page).
    selected = project(ANNOUNCEMENT_COLUMNS, columns, "id", spec.column.key)
    stmt = _filtered(select(*selected), shape, include_drafts=include_drafts)
    return prepare(keyset(stmt, spec, where), AnnouncementRow, partial=columns is not None)


@lru_cache(maxsize=256)
def _count_query(shape: AnnouncementFilters, include_drafts: bool) -> Query[Row]:
    stmt = select(func.count().label("count")).select_from(Announcement)
    return prepare(_filtered(stmt, shape, include_drafts=include_drafts), Row)


async def list_announcements(
    db: Database,
    *,
    filters: AnnouncementFilters,
    sort: AnnouncementSort,
    first: int,
    after: str | None,
    include_drafts: bool,
    now: datetime,
    columns: frozenset[str] | None = None,
) -> Page[AnnouncementRow]:
    """A page of announcements; `columns` (None: all) narrows what each row carries."""
    spec = SORTS[sort]
    where, params = seek(spec, first=first, after=after)
    query = _list_query(_shape(filters), sort, where, include_drafts, columns)
    rows = await db.fetch(query, **params, **_params(filters, now))
    return build_page(rows, spec, first=first, after=after, key=_cursor_key(spec))


async def count_announcements(
    db: Database, *, filters: AnnouncementFilters, include_drafts: bool, now: datetime
) -> int:
    query = _count_query(_shape(filters), include_drafts)
    row = await db.fetch_one(query, **_params(filters, now))
    assert row is not None  # an aggregate without GROUP BY always returns one row
    return int(row[0])


async def matching_announcement(
    session: AsyncSession,
    *,
    announcement_id: int,
    filters: AnnouncementFilters,
    include_drafts: bool,
    now: datetime | None = None,
) -> Announcement | None:
    """The announcement when the list query's own filter accepts it, else None.

    `announcementPublished(filter)` decides with this, so a subscription and the list
    query can never disagree about what a filter means. `now` defaults to the moment of
    delivery: the filter is evaluated when the event is delivered.
    """
    stmt = _filtered(
        select(Announcement).where(Announcement.id == announcement_id),
        filters,
        include_drafts=include_drafts,
        now=datetime.now(UTC) if now is None else now,
    )
    return (await session.scalars(stmt)).first()


_BY_IDS = prepare(
    select(*ANNOUNCEMENT_COLUMNS).where(Announcement.id == any_(ids_param("ids"))),
    AnnouncementRow,
)


async def announcements_by_ids(db: Database, *, ids: Sequence[int]) -> list[AnnouncementRow]:
    return await db.fetch(_BY_IDS, ids=ids)


_APPLICATION_COUNTS = prepare(
    select(Application.announcement_id, func.count().label("count"))
    .where(Application.announcement_id == any_(ids_param("ids")))
    .group_by(Application.announcement_id),
    Row,
)


async def application_counts(db: Database, *, ids: Sequence[int]) -> dict[int, int]:
    return {row[0]: row[1] for row in await db.fetch(_APPLICATION_COUNTS, ids=ids)}
