"""Business reads: the public list with filters and keyset pagination, relations by business."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import ColumnElement, Select, any_, case, func, or_, select, true
from sqlalchemy.ext.asyncio import AsyncSession

from graphql_api.db.enums import AnnouncementStatus, BusinessSize
from graphql_api.db.models import Announcement, Business
from graphql_api.db.queries.announcements import SORTS as ANNOUNCEMENT_SORTS
from graphql_api.db.queries.announcements import AnnouncementSort
from graphql_api.pagination import (
    Page,
    SortSpec,
    apply_keyset,
    build_page,
    parse_datetime,
    parse_int,
    parse_str,
    windowed_pages,
)


class BusinessSort(StrEnum):
    NAME_ASC = "NAME_ASC"
    CREATED_AT_DESC = "CREATED_AT_DESC"
    EMPLOYEE_COUNT_DESC = "EMPLOYEE_COUNT_DESC"


# lower(name) is what ix_businesses_lower_name indexes, so NAME_ASC reads it in index order.
_LOWER_NAME = func.lower(Business.name)

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


def _name_like(pattern: str) -> ColumnElement[bool]:
    # lower() on both sides in SQL, so input and column fold case by the same rules; the
    # pattern is a bound parameter, constant-folded by the planner (custom plans).
    return _LOWER_NAME.like(func.lower(pattern), escape="\\")


def _filtered(stmt: Select[Any], filters: BusinessFilters) -> Select[Any]:
    if filters.industries is not None:
        stmt = stmt.where(Business.industry.in_(filters.industries))
    if filters.sizes is not None:
        stmt = stmt.where(Business.size.in_(filters.sizes))
    if filters.regions is not None:
        stmt = stmt.where(Business.region.in_(filters.regions))
    if filters.name_prefix:
        stmt = stmt.where(_name_like(escape_like(filters.name_prefix) + "%"))
    if filters.name_contains:
        stmt = stmt.where(_name_like("%" + escape_like(filters.name_contains) + "%"))
    return stmt


async def list_businesses(
    session: AsyncSession,
    *,
    filters: BusinessFilters,
    sort: BusinessSort,
    first: int,
    after: str | None,
) -> Page[Business]:
    spec = SORTS[sort]
    # The sort value is selected next to the row, so the cursor carries exactly what the
    # database compares (lower() in SQL and in Python disagree outside ASCII).
    stmt = _filtered(select(Business, spec.column.label("sort_value")), filters)
    rows = (await session.execute(apply_keyset(stmt, spec, first=first, after=after))).all()
    page = build_page(rows, spec, first=first, after=after, key=lambda r: (r[1], r[0].id))
    return Page(
        items=[row[0] for row in page.items],
        cursors=page.cursors,
        has_next_page=page.has_next_page,
        has_previous_page=page.has_previous_page,
    )


async def count_businesses(session: AsyncSession, *, filters: BusinessFilters) -> int:
    stmt = _filtered(select(func.count()).select_from(Business), filters)
    return int((await session.execute(stmt)).scalar_one())


async def businesses_by_ids(session: AsyncSession, *, ids: Sequence[int]) -> list[Business]:
    return list((await session.scalars(select(Business).where(Business.id.in_(ids)))).all())


async def businesses_by_owner_ids(
    session: AsyncSession, *, owner_ids: Sequence[int]
) -> list[Business]:
    """Every business of these owners, by name within an owner (ix_businesses_owner_id)."""
    stmt = (
        select(Business)
        .where(Business.owner_id.in_(owner_ids))
        .order_by(Business.owner_id, _LOWER_NAME, Business.id)
    )
    return list((await session.scalars(stmt)).all())


def _posted(*, include_drafts: bool) -> Select[Any]:
    stmt = select(Announcement)
    if not include_drafts:
        stmt = stmt.where(Announcement.status != AnnouncementStatus.DRAFT)
    return stmt


async def posted_announcement_pages(
    session: AsyncSession,
    *,
    business_ids: Sequence[int],
    first: int,
    after: str | None,
    include_drafts: bool,
) -> dict[int, Page[Announcement]]:
    """A page of the announcements each business posted, for many businesses in ONE query."""
    return await windowed_pages(
        session,
        model=Announcement,
        stmt=_posted(include_drafts=include_drafts),
        sort=POSTED_ANNOUNCEMENTS_SORT,
        parent_column=Announcement.business_id,
        parent_ids=business_ids,
        first=first,
        after=after,
    )


async def posted_announcement_counts(
    session: AsyncSession, *, business_ids: Sequence[int], include_drafts: bool
) -> dict[int, int]:
    """How many announcements each business posted (one GROUP BY for many businesses)."""
    stmt = (
        _posted(include_drafts=include_drafts)
        .with_only_columns(Announcement.business_id, func.count())
        .where(Announcement.business_id.in_(business_ids))
        .group_by(Announcement.business_id)
    )
    rows = (await session.execute(stmt)).all()
    return {bid: int(n) for bid, n in rows if bid is not None}


def _open_to(column: Any, value: Any) -> ColumnElement[bool]:
    """An announcement criterion holds: the array is empty (anyone) or contains the value."""
    return or_(func.cardinality(column) == 0, value == any_(column))


def _specificity() -> ColumnElement[int]:
    """How many of the three criteria an announcement restricts (all of them matched)."""
    columns = (Announcement.target_industries, Announcement.target_sizes, Announcement.regions)
    terms = [case((func.cardinality(c) > 0, 1), else_=0) for c in columns]
    return terms[0] + terms[1] + terms[2]


async def matching_announcements(
    session: AsyncSession, *, business_ids: Sequence[int], first: int, now: datetime
) -> dict[int, list[Announcement]]:
    """Open published calls each business is eligible for, best first, in ONE query.

    A LATERAL subquery ranks the calls per business: more restricting criteria (all of which
    the business meets) first, then the soonest closing, then id; LIMIT applies per business.
    """
    specificity = _specificity().label("specificity")
    # The lateral ranks narrow tuples only; the full rows are joined to the few winners.
    ranked = (
        select(Announcement.id, Announcement.closes_at, specificity)
        .where(
            Announcement.status == AnnouncementStatus.PUBLISHED,
            or_(Announcement.opens_at.is_(None), Announcement.opens_at <= now),
            or_(Announcement.closes_at.is_(None), Announcement.closes_at > now),
            _open_to(Announcement.target_industries, Business.industry),
            _open_to(Announcement.target_sizes, Business.size),
            _open_to(Announcement.regions, Business.region),
        )
        .order_by(
            specificity.desc(), Announcement.closes_at.asc().nulls_last(), Announcement.id.asc()
        )
        .limit(first)
        # Only the business is outer: the announcements joined below must not correlate.
        .correlate(Business)
        .lateral("ranked")
    )
    stmt = (
        select(Business.id, Announcement)
        .select_from(Business)
        .join(ranked, true())
        .join(Announcement, Announcement.id == ranked.c.id)
        .where(Business.id.in_(business_ids))
        .order_by(
            Business.id,
            ranked.c.specificity.desc(),
            ranked.c.closes_at.asc().nulls_last(),
            ranked.c.id.asc(),
        )
    )
    result: dict[int, list[Announcement]] = {bid: [] for bid in business_ids}
    for business_id, announcement in (await session.execute(stmt)).all():
        result[business_id].append(announcement)
    return result
