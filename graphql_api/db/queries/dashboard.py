"""Dashboard aggregates (R5): each function is exactly one SQL statement.

Every count, sum and grouping happens in PostgreSQL; Python only turns the handful of
aggregate rows into values. ``now`` is passed in (the request's single clock reading) so the
aggregates of one response agree with each other and with ``Announcement.status``, which
derives the effective status from the same instant.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from enum import StrEnum
from typing import Any, TypeVar

from sqlalchemy import (
    ColumnElement,
    Integer,
    Numeric,
    Select,
    String,
    and_,
    case,
    cast,
    column,
    func,
    literal,
    or_,
    select,
    true,
    values,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.ext.asyncio import AsyncSession

from graphql_api.db.enums import AnnouncementStatus, BriefingStatus, BusinessSize
from graphql_api.db.models import Announcement, Briefing, Business

E = TypeVar("E", bound=StrEnum)

# Upper bound of the `openCallsClosingSoon` list; the count field gives the full number.
CLOSING_SOON_LIMIT = 50


@dataclass(frozen=True, slots=True)
class KeywordTotal:
    """One keyword's summed score over a window of briefings."""

    keyword: str
    score: float
    briefings: int


def _effective_status(now: datetime) -> ColumnElement[str]:
    """SQL twin of ``announcements.effective_status``: an expired PUBLISHED call is CLOSED."""
    return case(
        (
            and_(
                Announcement.status == AnnouncementStatus.PUBLISHED,
                Announcement.closes_at.is_not(None),
                Announcement.closes_at <= now,
            ),
            literal(AnnouncementStatus.CLOSED.value, String),
        ),
        else_=cast(Announcement.status, String),
    )


async def _counts_for_every_member(
    session: AsyncSession, members: Sequence[E], grouped: Select[Any, int]
) -> list[tuple[E, int]]:
    """Left-join ``grouped`` (columns ``key``, ``n``) onto a VALUES list of ``members``.

    Every member appears, in the given order, with 0 when no row has it: one statement.
    """
    keys = (
        values(column("key", String), column("position", Integer), name="keys")
        .data([(member.value, position) for position, member in enumerate(members)])
        .alias("keys")
    )
    counts = grouped.subquery("counts")
    stmt = (
        select(keys.c.key, func.coalesce(counts.c.n, 0))
        .select_from(keys.outerjoin(counts, counts.c.key == keys.c.key))
        .order_by(keys.c.position)
    )
    by_value = {member.value: member for member in members}
    return [(by_value[key], int(n)) for key, n in (await session.execute(stmt)).all()]


async def announcements_by_status(
    session: AsyncSession, *, now: datetime, include_drafts: bool
) -> list[tuple[AnnouncementStatus, int]]:
    """Count per effective status; every visible status is listed, in lifecycle order."""
    status = _effective_status(now)
    grouped = select(status.label("key"), func.count().label("n")).group_by(status)
    members = list(AnnouncementStatus)
    if not include_drafts:
        grouped = grouped.where(Announcement.status != AnnouncementStatus.DRAFT)
        members.remove(AnnouncementStatus.DRAFT)
    return await _counts_for_every_member(session, members, grouped)


async def announcements_by_category(session: AsyncSession) -> list[tuple[str, int]]:
    """Non-draft announcements per category, most frequent first, then by name.

    Names tie-break in code-point order, independent of the database's collation.
    """
    n = func.count().label("n")
    stmt = (
        select(Announcement.category, n)
        .where(Announcement.status != AnnouncementStatus.DRAFT)
        .group_by(Announcement.category)
        .order_by(n.desc(), Announcement.category.collate("C"))
    )
    return [(category, int(count)) for category, count in (await session.execute(stmt)).all()]


def _closing_soon(now: datetime, days: int) -> ColumnElement[bool]:
    """Open at ``now`` (published, opened, not closed) and closing within ``days`` days.

    The closing bounds form one range on ``closes_at``, which the (status, closes_at, id)
    index serves in the list's order.
    """
    return and_(
        Announcement.status == AnnouncementStatus.PUBLISHED,
        Announcement.closes_at > now,
        Announcement.closes_at <= now + timedelta(days=days),
        or_(Announcement.opens_at.is_(None), Announcement.opens_at <= now),
    )


async def open_calls_closing_soon(
    session: AsyncSession, *, now: datetime, days: int, limit: int = CLOSING_SOON_LIMIT
) -> list[Announcement]:
    """Calls open at ``now`` that close within ``days`` days, soonest first (then by id)."""
    stmt = (
        select(Announcement)
        .where(_closing_soon(now, days))
        .order_by(Announcement.closes_at, Announcement.id)
        .limit(limit)
    )
    return list((await session.scalars(stmt)).all())


async def count_open_calls_closing_soon(session: AsyncSession, *, now: datetime, days: int) -> int:
    stmt = select(func.count()).select_from(Announcement).where(_closing_soon(now, days))
    return int((await session.execute(stmt)).scalar_one())


async def businesses_by_size(session: AsyncSession) -> list[tuple[BusinessSize, int]]:
    """Count per size; every BusinessSize is listed, smallest first, 0 when none."""
    grouped = select(Business.size.label("key"), func.count().label("n")).group_by(Business.size)
    return await _counts_for_every_member(session, list(BusinessSize), grouped)


def month_bounds(now: datetime) -> tuple[date, date]:
    """First day of ``now``'s calendar month in UTC and the first day of the next one."""
    today = now.astimezone(UTC).date()
    start = today.replace(day=1)
    return start, (start + timedelta(days=32)).replace(day=1)


async def published_briefings_in_month(session: AsyncSession, *, now: datetime) -> int:
    """Published briefings dated within ``now``'s calendar month (UTC)."""
    start, end = month_bounds(now)
    stmt = (
        select(func.count())
        .select_from(Briefing)
        .where(
            Briefing.status == BriefingStatus.PUBLISHED,
            Briefing.date >= start,
            Briefing.date < end,
        )
    )
    return int((await session.execute(stmt)).scalar_one())


def keyword_window(now: datetime, days: int) -> tuple[date, date]:
    """The ``days`` calendar days (UTC) ending with today, as inclusive first and last dates."""
    today = now.astimezone(UTC).date()
    return today - timedelta(days=days - 1), today


async def top_keywords(
    session: AsyncSession, *, now: datetime, days: int, first: int
) -> list[KeywordTotal]:
    """Scores summed per keyword over the published briefings of the last ``days`` days.

    ``top_keywords`` is a JSONB object ``{keyword: score}``; ``jsonb_each`` turns it into
    rows. Non-numeric scores are ignored. Highest total first, ties by keyword (code-point
    order, independent of the database's collation).
    """
    since, until = keyword_window(now, days)
    entry = func.jsonb_each(Briefing.top_keywords).table_valued(
        column("key", String), column("value", JSONB)
    )
    total = func.sum(cast(entry.c.value, Numeric)).label("total")
    keyword = entry.c.key.collate("C")
    stmt = (
        select(entry.c.key, total, func.count().label("briefings"))
        .select_from(Briefing)
        .join(entry, true())
        .where(
            Briefing.status == BriefingStatus.PUBLISHED,
            Briefing.date >= since,
            Briefing.date <= until,
            func.jsonb_typeof(entry.c.value) == "number",
        )
        .group_by(entry.c.key)
        .order_by(total.desc(), keyword)
        .limit(first)
    )
    return [
        KeywordTotal(keyword=key, score=float(score), briefings=int(count))
        for key, score, count in (await session.execute(stmt)).all()
    ]
