"""GraphQL types of the dashboard: small count rows and the Dashboard object itself."""

from __future__ import annotations

from typing import Annotated

import strawberry

from graphql_api.core.db.queries import dashboard as queries
from graphql_api.core.db.queries.announcements import AnnouncementRow
from graphql_api.core.errors import BadUserInput
from schema.announcements.types import AnnouncementType
from schema.briefings.types import KeywordScore
from schema.cache import CLOCK_MAX_AGE, Scope, cache_hint
from schema.enums import AnnouncementStatus, BusinessSize
from schema.types import Info

MIN_DAYS = 1
DEFAULT_CLOSING_DAYS = 7
DEFAULT_KEYWORD_DAYS = 30
DEFAULT_KEYWORDS = 10
# A dashboard looks ahead about a quarter at most.
MAX_CLOSING_DAYS = 90
MAX_KEYWORD_DAYS = 366
MAX_KEYWORDS = 100


@strawberry.type(description="Number of announcements in one (effective) status.")
class StatusCount:
    status: AnnouncementStatus = strawberry.field(
        description="The status; a published call past its closing time counts as CLOSED."
    )
    count: int = strawberry.field(description="Number of announcements in this status.")


@strawberry.type(description="Number of announcements in one category.")
class CategoryCount:
    category: str = strawberry.field(description="Programme category.")
    count: int = strawberry.field(description="Number of non-draft announcements in it.")


@strawberry.type(description="Number of businesses of one size class.")
class SizeCount:
    size: BusinessSize = strawberry.field(description="Company size class.")
    count: int = strawberry.field(description="Number of businesses of this size (0 when none).")


def _in_range(value: int | None, *, default: int, field: str, low: int, high: int) -> int:
    """``value`` checked against [low, high]; an explicit null means the default."""
    if value is None:
        return default
    if not low <= value <= high:
        raise BadUserInput(f"`{field}` must be between {low} and {high}.", field=field)
    return value


@strawberry.type(
    name="Dashboard",
    description="Statistics across the domains, computed in the database; each field is one "
    "SQL statement, run only when selected. Draft briefings never count; draft announcements "
    "count only in announcementsByStatus, for callers who may see drafts.",
)
class DashboardType:
    @strawberry.field(
        description="Announcements per effective status (a published call past its closing "
        "time counts as CLOSED), every status listed in lifecycle order, 0 when none. DRAFT "
        "appears only for editors, admins and services with announcements:write."
    )
    @cache_hint(Scope.ROLE, max_age=CLOCK_MAX_AGE)
    async def announcements_by_status(self, info: Info) -> list[StatusCount]:
        ctx = info.context
        rows = await queries.announcements_by_status(
            ctx.db, now=ctx.now, include_drafts=ctx.principal.can_see_drafts_of_announcements
        )
        return [StatusCount(status=status, count=count) for status, count in rows]

    @strawberry.field(
        description="Non-draft announcements per category, most frequent first, then by name."
    )
    async def announcements_by_category(self, info: Info) -> list[CategoryCount]:
        rows = await queries.announcements_by_category(info.context.db)
        return [CategoryCount(category=category, count=count) for category, count in rows]

    @strawberry.field(
        description="Calls open now that close within the next `days` days, soonest first "
        f"(ties by id); at most {queries.CLOSING_SOON_LIMIT}, see openCallsClosingSoonCount "
        "for the full number.",
        graphql_type=list[AnnouncementType],
    )
    @cache_hint(Scope.PUBLIC, max_age=CLOCK_MAX_AGE)
    async def open_calls_closing_soon(
        self,
        info: Info,
        days: Annotated[
            int | None,
            strawberry.argument(
                description=f"Window length in days, {MIN_DAYS} to {MAX_CLOSING_DAYS}."
            ),
        ] = DEFAULT_CLOSING_DAYS,
    ) -> list[AnnouncementRow]:
        ctx = info.context
        window = _in_range(
            days, default=DEFAULT_CLOSING_DAYS, field="days", low=MIN_DAYS, high=MAX_CLOSING_DAYS
        )
        return await queries.open_calls_closing_soon(ctx.db, now=ctx.now, days=window)

    @strawberry.field(
        description="Number of calls open now that close within the next `days` days."
    )
    @cache_hint(Scope.PUBLIC, max_age=CLOCK_MAX_AGE)
    async def open_calls_closing_soon_count(
        self,
        info: Info,
        days: Annotated[
            int | None,
            strawberry.argument(
                description=f"Window length in days, {MIN_DAYS} to {MAX_CLOSING_DAYS}."
            ),
        ] = DEFAULT_CLOSING_DAYS,
    ) -> int:
        ctx = info.context
        window = _in_range(
            days, default=DEFAULT_CLOSING_DAYS, field="days", low=MIN_DAYS, high=MAX_CLOSING_DAYS
        )
        return await queries.count_open_calls_closing_soon(ctx.db, now=ctx.now, days=window)

    @strawberry.field(
        description="Businesses per size class, every size listed smallest first, 0 when none."
    )
    async def businesses_by_size(self, info: Info) -> list[SizeCount]:
        rows = await queries.businesses_by_size(info.context.db)
        return [SizeCount(size=size, count=count) for size, count in rows]

    @strawberry.field(description="Published briefings dated in the current calendar month (UTC).")
    @cache_hint(Scope.PUBLIC, max_age=CLOCK_MAX_AGE)
    async def briefings_this_month(self, info: Info) -> int:
        ctx = info.context
        return await queries.published_briefings_in_month(ctx.db, now=ctx.now)

    @strawberry.field(
        description="Keywords of the published briefings of the last `days` days (UTC, today "
        "included); each score is the sum of the keyword's scores over those briefings. "
        "Highest total first, ties by keyword."
    )
    @cache_hint(Scope.PUBLIC, max_age=CLOCK_MAX_AGE)
    async def top_keywords(
        self,
        info: Info,
        days: Annotated[
            int | None,
            strawberry.argument(
                description=f"Window length in calendar days, {MIN_DAYS} to "
                f"{MAX_KEYWORD_DAYS}; 1 means today only."
            ),
        ] = DEFAULT_KEYWORD_DAYS,
        first: Annotated[
            int | None,
            strawberry.argument(description=f"How many keywords to return, 1 to {MAX_KEYWORDS}."),
        ] = DEFAULT_KEYWORDS,
    ) -> list[KeywordScore]:
        ctx = info.context
        window = _in_range(
            days, default=DEFAULT_KEYWORD_DAYS, field="days", low=MIN_DAYS, high=MAX_KEYWORD_DAYS
        )
        limit = _in_range(first, default=DEFAULT_KEYWORDS, field="first", low=1, high=MAX_KEYWORDS)
        rows = await queries.top_keywords(ctx.db, now=ctx.now, days=window, first=limit)
        return [KeywordScore(keyword=row.keyword, score=row.score) for row in rows]
