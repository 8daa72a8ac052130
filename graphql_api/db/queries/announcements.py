"""Announcement reads: the public list with filters and keyset pagination, lookups by id."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from graphql_api.db.enums import AnnouncementStatus, BusinessSize
from graphql_api.db.models import Announcement, Application
from graphql_api.db.models.announcements import SEARCH_CONFIG
from graphql_api.pagination import Page, SortSpec, apply_keyset, build_page, parse_datetime


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


def effective_status(row: Announcement, now: datetime) -> AnnouncementStatus:
    """A published call past its closing time reads as CLOSED, with no job racing reads."""
    if (
        row.status is AnnouncementStatus.PUBLISHED
        and row.closes_at is not None
        and row.closes_at <= now
    ):
        return AnnouncementStatus.CLOSED
    return row.status


def _status_condition(status: AnnouncementStatus) -> ColumnElement[bool]:
    expired = and_(Announcement.closes_at.is_not(None), Announcement.closes_at <= func.now())
    published = Announcement.status == AnnouncementStatus.PUBLISHED
    if status is AnnouncementStatus.PUBLISHED:
        return and_(published, ~expired)
    if status is AnnouncementStatus.CLOSED:
        return or_(Announcement.status == AnnouncementStatus.CLOSED, and_(published, expired))
    return Announcement.status == status


def _filtered(
    stmt: Select[Any], filters: AnnouncementFilters, *, include_drafts: bool
) -> Select[Any]:
    if not include_drafts:
        stmt = stmt.where(Announcement.status != AnnouncementStatus.DRAFT)
    if filters.statuses is not None:
        stmt = stmt.where(or_(*(_status_condition(s) for s in filters.statuses)))
    if filters.categories is not None:
        stmt = stmt.where(Announcement.category.in_(filters.categories))
    # Array criteria use && (overlap) on GIN-indexed columns; an empty target array means
    # "open to all", so such calls match any requested value.
    if filters.regions is not None:
        stmt = stmt.where(_open_to(Announcement.regions, filters.regions))
    if filters.industries is not None:
        stmt = stmt.where(_open_to(Announcement.target_industries, filters.industries))
    if filters.sizes is not None:
        stmt = stmt.where(_open_to(Announcement.target_sizes, [s.value for s in filters.sizes]))
    if filters.open_now is not None:
        is_open = _status_condition(AnnouncementStatus.PUBLISHED) & or_(
            Announcement.opens_at.is_(None), Announcement.opens_at <= func.now()
        )
        stmt = stmt.where(is_open if filters.open_now else ~is_open)
    if filters.closing_before is not None:
        stmt = stmt.where(Announcement.closes_at < filters.closing_before)
    if filters.search:
        query = func.websearch_to_tsquery(SEARCH_CONFIG, filters.search)
        stmt = stmt.where(Announcement.search_vector.op("@@")(query))
    if filters.business_ids is not None:
        stmt = stmt.where(Announcement.business_id.in_(filters.business_ids))
    return stmt


def _open_to(column: Any, values: Sequence[str]) -> ColumnElement[bool]:
    return or_(column.overlap(list(values)), func.cardinality(column) == 0)


async def list_announcements(
    session: AsyncSession,
    *,
    filters: AnnouncementFilters,
    sort: AnnouncementSort,
    first: int,
    after: str | None,
    include_drafts: bool,
) -> Page[Announcement]:
    spec = SORTS[sort]
    stmt = _filtered(select(Announcement), filters, include_drafts=include_drafts)
    rows = (await session.scalars(apply_keyset(stmt, spec, first=first, after=after))).all()
    return build_page(
        rows, spec, first=first, after=after, key=lambda a: (getattr(a, spec.column.key), a.id)
    )


async def count_announcements(
    session: AsyncSession, *, filters: AnnouncementFilters, include_drafts: bool
) -> int:
    stmt = _filtered(
        select(func.count()).select_from(Announcement), filters, include_drafts=include_drafts
    )
    return int((await session.execute(stmt)).scalar_one())


async def matching_announcement(
    session: AsyncSession,
    *,
    announcement_id: int,
    filters: AnnouncementFilters,
    include_drafts: bool,
) -> Announcement | None:
    """The announcement when the list query's own filter accepts it, else None.

    `announcementPublished(filter)` decides with this, so a subscription and the list
    query can never disagree about what a filter means.
    """
    stmt = _filtered(
        select(Announcement).where(Announcement.id == announcement_id),
        filters,
        include_drafts=include_drafts,
    )
    return (await session.scalars(stmt)).first()


async def announcements_by_ids(session: AsyncSession, *, ids: Sequence[int]) -> list[Announcement]:
    return list((await session.scalars(select(Announcement).where(Announcement.id.in_(ids)))).all())


async def application_counts(session: AsyncSession, *, ids: Sequence[int]) -> dict[int, int]:
    stmt = (
        select(Application.announcement_id, func.count())
        .where(Application.announcement_id.in_(ids))
        .group_by(Application.announcement_id)
    )
    return {row[0]: row[1] for row in (await session.execute(stmt)).all()}
