"""Keyset helpers shared by every connection (issue 2/3)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from graphql_api.core.db.models import Announcement
from graphql_api.core.db.queries.announcements import SORTS, AnnouncementSort
from graphql_api.core.pagination import windowed_pages
from tests.factories import make_announcements, make_businesses


async def test_windowed_pages_gives_each_parent_its_own_page(engine: AsyncEngine) -> None:
    businesses = await make_businesses(engine, 3)
    # 7 announcements round-robin over 3 businesses: 3, 2, 2 each.
    await make_announcements(engine, 7, business_ids=businesses)
    sort = SORTS[AnnouncementSort.CLOSES_AT_ASC]
    async with AsyncSession(engine) as session:
        pages = await windowed_pages(
            session, model=Announcement, stmt=select(Announcement), sort=sort,
            parent_column=Announcement.business_id, parent_ids=businesses, first=2, after=None,
        )  # fmt: skip
        first_parent = pages[businesses[0]]
        assert [a.title for a in first_parent.items] == ["Call 0", "Call 3"]
        assert first_parent.has_next_page is True
        assert pages[businesses[1]].has_next_page is False
        assert len(pages[businesses[2]].items) == 2
        rest = await windowed_pages(
            session, model=Announcement, stmt=select(Announcement), sort=sort,
            parent_column=Announcement.business_id, parent_ids=[businesses[0]], first=2,
            after=first_parent.cursors[-1],
        )  # fmt: skip
        assert [a.title for a in rest[businesses[0]].items] == ["Call 6"]
