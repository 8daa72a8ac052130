"""Announcement queries: thin resolvers over graphql_api.core.db.queries.announcements."""

from __future__ import annotations

from typing import Annotated

import strawberry

from graphql_api.core.db.enums import AnnouncementStatus
from graphql_api.core.db.queries.announcements import (
    AnnouncementFilters,
    AnnouncementRow,
    AnnouncementSort,
    AnyAnnouncement,
    count_announcements,
    list_announcements,
)
from graphql_api.core.errors import BadUserInput
from schema.announcements.types import AnnouncementConnection, AnnouncementFilter
from schema.cache import CLOCK_MAX_AGE, Scope, cache_hint
from schema.node import register
from schema.projection import selected_columns
from schema.types import AfterArg, Connection, FirstArg, Info, paginate


def _visible(info: Info, row: AnyAnnouncement) -> bool:
    return (
        row.status is not AnnouncementStatus.DRAFT
        or info.context.principal.can_see_drafts_of_announcements
    )


register(
    "Announcement", lambda info, pk: info.context.loaders.announcement_by_id.load(pk), _visible
)


def _filters(value: AnnouncementFilter | None) -> AnnouncementFilters:
    if value is None:
        return AnnouncementFilters()
    if value.search is not None and len(value.search) > 200:
        raise BadUserInput("Search text is limited to 200 characters.", field="filter.search")
    return AnnouncementFilters(
        statuses=value.status,
        categories=value.category,
        regions=value.region,
        industries=value.industry,
        sizes=value.size,
        open_now=value.open_now,
        closing_before=value.closing_before,
        search=value.search.strip() or None if value.search is not None else None,
    )


@strawberry.type
class AnnouncementQueries:
    @strawberry.field(
        description="Announcements, newest published first by default. Drafts appear only "
        "for editors, admins and services with announcements:write.",
        graphql_type=AnnouncementConnection,
    )
    @cache_hint(Scope.ROLE, max_age=CLOCK_MAX_AGE)
    async def announcements(
        self,
        info: Info,
        first: FirstArg = None,
        after: AfterArg = None,
        filter: Annotated[
            AnnouncementFilter | None,
            strawberry.argument(description="Criteria every returned row meets."),
        ] = None,
        order_by: Annotated[
            AnnouncementSort | None,
            strawberry.argument(description="Ordering; default PUBLISHED_AT_DESC."),
        ] = None,
    ) -> Connection[AnnouncementRow]:
        ctx = info.context
        filters = _filters(filter)
        include_drafts = ctx.principal.can_see_drafts_of_announcements
        sort = order_by or AnnouncementSort.PUBLISHED_AT_DESC
        return await paginate(
            first,
            lambda size: list_announcements(
                ctx.db,
                filters=filters,
                sort=sort,
                first=size,
                after=after,
                include_drafts=include_drafts,
                now=ctx.now,
                columns=selected_columns(info, "Announcement"),
            ),
            lambda: count_announcements(
                ctx.db, filters=filters, include_drafts=include_drafts, now=ctx.now
            ),
        )
