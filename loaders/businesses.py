"""Business loaders: businesses by id and by owner, and a business's per-business relations."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from aiodataloader import DataLoader
from sqlalchemy.ext.asyncio import AsyncSession

from graphql_api.db.engine import Database
from graphql_api.db.models import Announcement, Business
from graphql_api.db.queries.businesses import (
    businesses_by_ids,
    businesses_by_owner_ids,
    matching_announcements,
    posted_announcement_counts,
    posted_announcement_pages,
)
from graphql_api.pagination import Page
from loaders.base import ByIdLoader, grouped
from loaders.pages import GroupedLoader, PageKey, ParentOnlyKey, TopKey


class BusinessByIdLoader(ByIdLoader[Business]):
    fetch = staticmethod(businesses_by_ids)


class BusinessesByOwnerIdLoader(DataLoader[int, list[Business]]):
    """Every business a user owns (`User.businesses`), by name."""

    def __init__(self, db: Database, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.db = db

    async def batch_load_fn(self, keys: Sequence[int]) -> list[list[Business]]:
        async with self.db.read() as session:
            rows = await businesses_by_owner_ids(session, owner_ids=keys)
        return grouped(rows, keys, key=lambda row: row.owner_id)  # type: ignore[arg-type,return-value]


class AnnouncementsByBusinessIdLoader(GroupedLoader[PageKey, Page[Announcement]]):
    """A page of the announcements a business posted (`Business.announcements`)."""

    async def fetch(
        self, session: AsyncSession, parent_ids: list[int], args: PageKey
    ) -> dict[int, Page[Announcement]]:
        return await posted_announcement_pages(
            session,
            business_ids=parent_ids,
            first=args.first,
            after=args.after,
            include_drafts=args.include_drafts,
        )


class AnnouncementCountByBusinessIdLoader(GroupedLoader[ParentOnlyKey, int]):
    """How many announcements a business posted (`totalCount` of `Business.announcements`)."""

    async def fetch(
        self, session: AsyncSession, parent_ids: list[int], args: ParentOnlyKey
    ) -> dict[int, int]:
        counts = await posted_announcement_counts(
            session, business_ids=parent_ids, include_drafts=args.include_drafts
        )
        return {pid: counts.get(pid, 0) for pid in parent_ids}


class MatchingAnnouncementsByBusinessIdLoader(GroupedLoader[TopKey, list[Announcement]]):
    """The open calls a business is eligible for, best first (`matchingAnnouncements`)."""

    async def fetch(
        self, session: AsyncSession, parent_ids: list[int], args: TopKey
    ) -> dict[int, list[Announcement]]:
        return await matching_announcements(
            session, business_ids=parent_ids, first=args.first, now=args.now
        )
