"""Dashboard aggregates (R5): each function is exactly one SQL statement.

Every count, sum and grouping happens in PostgreSQL; Python only turns the handful of
aggregate rows into values. ``now`` is passed in (the request's single clock reading) so the
aggregates of one response agree with each other and with ``Announcement.status``, which
derives the effective status from the same instant. Statements are compiled once
(graphql_api.core.db.rows); the instants and limits are their parameters.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from enum import StrEnum
from typing import Any, TypeVar

from sqlalchemy import (
    ColumnElement,
    Date,
    DateTime,
    Integer,
    Numeric,
    String,
    and_,
    bindparam,
    cast,
    column,
    func,
    select,
    true,
    values,
)
from sqlalchemy.dialects.postgresql import JSONB

from graphql_api.core.db.engine import Database
from graphql_api.core.db.enums import AnnouncementStatus, BriefingStatus, BusinessSize
from graphql_api.core.db.models import Announcement, Briefing, Business
from graphql_api.core.db.queries.announcements import ANNOUNCEMENT_COLUMNS, AnnouncementRow
from graphql_api.core.db.rows import AnySelect, Query, Row, prepare
from graphql_api.core.rules import effective_status_sql, is_open_sql

E = TypeVar("E", bound=StrEnum)

# Upper bound of the `openCallsClosingSoon` list; the count field gives the full number.
CLOSING_SOON_LIMIT = 50

_NOW = bindparam("now", type_=DateTime(timezone=True))


@dataclass(frozen=True, slots=True)
class KeywordTotal:
    """One keyword's summed score over a window of briefings."""

    keyword: str
    score: float
    briefings: int


def _counts_for_every_member(members: Sequence[StrEnum], grouped: AnySelect) -> Query[Row]:
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
        select(keys.c.key, func.coalesce(counts.c.n, 0).label("n"))
        .select_from(keys.outerjoin(counts, counts.c.key == keys.c.key))
        .order_by(keys.c.position)
    )
    return prepare(stmt, Row)


def _by_member(rows: Sequence[Row], members: Sequence[E]) -> list[tuple[E, int]]:
    by_value = {member.value: member for member in members}
    return [(by_value[key], int(n)) for key, n in rows]


def _status_members(include_drafts: bool) -> list[AnnouncementStatus]:
    members = list(AnnouncementStatus)
    if not include_drafts:
        members.remove(AnnouncementStatus.DRAFT)
    return members


def _by_status_query(include_drafts: bool) -> Query[Row]:
    status = effective_status_sql(_NOW)
    grouped = select(status.label("key"), func.count().label("n")).group_by(status)
    if not include_drafts:
        grouped = grouped.where(Announcement.status != AnnouncementStatus.DRAFT)
    return _counts_for_every_member(_status_members(include_drafts), grouped)


_BY_STATUS = {flag: _by_status_query(flag) for flag in (False, True)}


async def announcements_by_status(
    db: Database, *, now: datetime, include_drafts: bool
) -> list[tuple[AnnouncementStatus, int]]:
    """Count per effective status; every visible status is listed, in lifecycle order."""
    rows = await db.fetch(_BY_STATUS[include_drafts], now=now)
    return _by_member(rows, _status_members(include_drafts))


def _by_category_query() -> Query[Row]:
    n = func.count().label("n")
    stmt = (
        select(Announcement.category, n)
        .where(Announcement.status != AnnouncementStatus.DRAFT)
        .group_by(Announcement.category)
        .order_by(n.desc(), Announcement.category.collate("C"))
    )
    return prepare(stmt, Row)


_BY_CATEGORY = _by_category_query()


async def announcements_by_category(db: Database) -> list[tuple[str, int]]:
    """Non-draft announcements per category, most frequent first, then by name.

    Names tie-break in code-point order, independent of the database's collation.
    """
    return [(category, int(count)) for category, count in await db.fetch(_BY_CATEGORY)]


def _closing_soon() -> ColumnElement[bool]:
    """Open at `:now` (core.rules) and closing within the window (`:now`, `:until`].

    The window is one range on ``closes_at``, which the (status, closes_at, id) index
    serves in the list's order.
    """
    until = bindparam("until", type_=DateTime(timezone=True))
    return and_(
        is_open_sql(_NOW),
        Announcement.closes_at > _NOW,
        Announcement.closes_at <= until,
    )


_CLOSING_SOON = prepare(
    select(*ANNOUNCEMENT_COLUMNS)
    .where(_closing_soon())
    .order_by(Announcement.closes_at, Announcement.id)
    .limit(bindparam("limit", type_=Integer)),
    AnnouncementRow,
)


async def open_calls_closing_soon(
    db: Database, *, now: datetime, days: int, limit: int = CLOSING_SOON_LIMIT
) -> list[AnnouncementRow]:
    """Calls open at ``now`` that close within ``days`` days, soonest first (then by id)."""
    until = now + timedelta(days=days)
    return await db.fetch(_CLOSING_SOON, now=now, until=until, limit=limit)


_CLOSING_SOON_COUNT = prepare(
    select(func.count().label("count")).select_from(Announcement).where(_closing_soon()), Row
)


async def _count(db: Database, query: Query[Row], **params: Any) -> int:
    row = await db.fetch_one(query, **params)
    assert row is not None  # an aggregate without GROUP BY always returns one row
    return int(row[0])


async def count_open_calls_closing_soon(db: Database, *, now: datetime, days: int) -> int:
    return await _count(db, _CLOSING_SOON_COUNT, now=now, until=now + timedelta(days=days))


_BY_SIZE = _counts_for_every_member(
    list(BusinessSize),
    select(Business.size.label("key"), func.count().label("n")).group_by(Business.size),
)


async def businesses_by_size(db: Database) -> list[tuple[BusinessSize, int]]:
    """Count per size; every BusinessSize is listed, smallest first, 0 when none."""
    return _by_member(await db.fetch(_BY_SIZE), list(BusinessSize))


def month_bounds(now: datetime) -> tuple[date, date]:
    """First day of ``now``'s calendar month in UTC and the first day of the next one."""
    today = now.astimezone(UTC).date()
    start = today.replace(day=1)
    return start, (start + timedelta(days=32)).replace(day=1)


_BRIEFINGS_IN_RANGE = prepare(
    select(func.count().label("count"))
    .select_from(Briefing)
    .where(
        Briefing.status == BriefingStatus.PUBLISHED,
        Briefing.date >= bindparam("start", type_=Date()),
        Briefing.date < bindparam("end", type_=Date()),
    ),
    Row,
)


async def published_briefings_in_month(db: Database, *, now: datetime) -> int:
    """Published briefings dated within ``now``'s calendar month (UTC)."""
    start, end = month_bounds(now)
    return await _count(db, _BRIEFINGS_IN_RANGE, start=start, end=end)


def keyword_window(now: datetime, days: int) -> tuple[date, date]:
    """The ``days`` calendar days (UTC) ending with today, as inclusive first and last dates."""
    today = now.astimezone(UTC).date()
    return today - timedelta(days=days - 1), today


def _top_keywords_query() -> Query[Row]:
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
            Briefing.date >= bindparam("since", type_=Date()),
            Briefing.date <= bindparam("until", type_=Date()),
            func.jsonb_typeof(entry.c.value) == "number",
        )
        .group_by(entry.c.key)
        .order_by(total.desc(), keyword)
        .limit(bindparam("limit", type_=Integer))
    )
    return prepare(stmt, Row)


_TOP_KEYWORDS = _top_keywords_query()


async def top_keywords(db: Database, *, now: datetime, days: int, first: int) -> list[KeywordTotal]:
    """Scores summed per keyword over the published briefings of the last ``days`` days.

    ``top_keywords`` is a JSONB object ``{keyword: score}``; ``jsonb_each`` turns it into
    rows. Non-numeric scores are ignored. Highest total first, ties by keyword (code-point
    order, independent of the database's collation).
    """
    since, until = keyword_window(now, days)
    rows = await db.fetch(_TOP_KEYWORDS, since=since, until=until, limit=first)
    return [
        KeywordTotal(keyword=key, score=float(score), briefings=int(count))
        for key, score, count in rows
    ]
