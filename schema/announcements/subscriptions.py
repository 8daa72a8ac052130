"""announcementPublished: calls as they are published, narrowed like the list query (R1, R17)."""

from __future__ import annotations

from collections.abc import AsyncGenerator, Hashable
from dataclasses import fields
from datetime import datetime
from typing import Annotated

import strawberry

from graphql_api.core.db import models
from graphql_api.core.db.queries.announcements import AnnouncementFilters, matching_announcement
from graphql_api.core.events import ANNOUNCEMENT_PUBLISHED
from schema.announcements.queries import _filters
from schema.announcements.types import AnnouncementFilter, AnnouncementType
from schema.subscriptions import LiveOperation
from schema.types import Info


def _filters_key(filters: AnnouncementFilters) -> Hashable:
    """A hashable identity of `filters`: subscribers with equal filters share one query."""
    parts: list[Hashable] = []
    for item in fields(filters):
        value = getattr(filters, item.name)
        parts.append(tuple(value) if isinstance(value, list | tuple) else value)
    return tuple(parts)


async def _published(
    live: LiveOperation, filters: AnnouncementFilters
) -> AsyncGenerator[models.Announcement, None]:
    key = _filters_key(filters)
    db = live.context.db
    async with live:
        while True:
            event = await live.next_event()
            announcement_id = event.payload.get("id")
            if not isinstance(announcement_id, int):
                continue
            # Public data: no per-delivery credential lookup (see schema.subscriptions).
            principal = await live.begin_delivery(reauthenticate=False)
            include_drafts = principal.can_see_drafts_of_announcements

            async def load(
                announcement_id: int = announcement_id,
                include_drafts: bool = include_drafts,
                now: datetime = live.context.now,
            ) -> models.Announcement | None:
                # The clock of the delivery that computes it, shared with the others (the
                # same event, microseconds apart), so the filter and `status` agree.
                async with db.read() as session:
                    return await matching_announcement(
                        session,
                        announcement_id=announcement_id,
                        filters=filters,
                        include_drafts=include_drafts,
                        now=now,
                    )

            # The filter is evaluated in SQL by the list query's own predicate, once per
            # event for all subscribers on this instance with the same filter.
            row = await event.shared(("announcement", key, include_drafts), load)
            if row is None:
                continue
            live.context.loaders.announcement_by_id.prime(row.id, row)
            yield row


@strawberry.type
class AnnouncementSubscriptions:
    @strawberry.subscription(
        description="Announcements as they are published (DRAFT -> PUBLISHED), each once, "
        "when it passes `filter`. The filter means exactly what it means for the "
        "`announcements` list, evaluated when the event is delivered.",
        graphql_type=AnnouncementType,
    )
    async def announcement_published(
        self,
        info: Info,
        filter: Annotated[
            AnnouncementFilter | None,
            strawberry.argument(
                description="Criteria a published announcement must meet to be sent; "
                "the same input as the `announcements` list query."
            ),
        ] = None,
    ) -> AsyncGenerator[models.Announcement, None]:
        filters = _filters(filter)
        live = await LiveOperation.open(info, (ANNOUNCEMENT_PUBLISHED,))
        return _published(live, filters)
