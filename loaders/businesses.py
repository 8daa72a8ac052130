"""Business loaders: businesses by id and by owner, and a business's per-business relations."""

from __future__ import annotations

from collections.abc import Sequence
from operator import attrgetter
from typing import Any

from aiodataloader import DataLoader

from graphql_api.core.db.engine import Database
from graphql_api.core.db.queries.announcements import AnnouncementRow
from graphql_api.core.db.queries.businesses import (
    AnyBusiness,
    BusinessRow,
    MatchedAnnouncementRow,
    business_rows_by_ids,
    businesses_by_owner_ids,
    matching_announcements,
    posted_announcement_counts,
    posted_announcement_pages,
)
from graphql_api.core.pagination import Page
from loaders.base import ByIdLoader, grouped
from loaders.pages import GroupedLoader, PageKey, ParentOnlyKey, TopKey


# Writes prime it with ORM instances; reads fill it with rows.
class BusinessByIdLoader(ByIdLoader[AnyBusiness]):
    fetch = staticmethod(business_rows_by_ids)


_OWNER_ID = attrgetter("owner_id")


class BusinessesByOwnerIdLoader(DataLoader[int, list[BusinessRow]]):
    """Every business a user owns (`User.businesses`), by name."""

    def __init__(self, db: Database, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.db = db

    async def batch_load_fn(self, keys: Sequence[int]) -> list[list[BusinessRow]]:
        rows = await businesses_by_owner_ids(self.db, owner_ids=keys)
        return grouped(rows, keys, key=_OWNER_ID)


class AnnouncementsByBusinessIdLoader(GroupedLoader[PageKey, Page[AnnouncementRow]]):
    """A page of the announcements a business posted (`Business.announcements`)."""

    async def fetch(self, parent_ids: list[int], args: PageKey) -> dict[int, Page[AnnouncementRow]]:
        return await posted_announcement_pages(
            self.db,
            business_ids=parent_ids,
            first=args.first,
            after=args.after,
            include_drafts=args.include_drafts,
            columns=args.columns,
        )


class AnnouncementCountByBusinessIdLoader(GroupedLoader[ParentOnlyKey, int]):
    """How many announcements a business posted (`totalCount` of `Business.announcements`)."""

    async def fetch(self, parent_ids: list[int], args: ParentOnlyKey) -> dict[int, int]:
        counts = await posted_announcement_counts(
            self.db, business_ids=parent_ids, include_drafts=args.include_drafts
        )
        return {pid: counts.get(pid, 0) for pid in parent_ids}


class MatchingAnnouncementsByBusinessIdLoader(GroupedLoader[TopKey, list[MatchedAnnouncementRow]]):
    """The open calls a business is eligible for, best first (`matchingAnnouncements`)."""

    async def fetch(
        self, parent_ids: list[int], args: TopKey
    ) -> dict[int, list[MatchedAnnouncementRow]]:
        return await matching_announcements(
            self.db, business_ids=parent_ids, first=args.first, now=args.now
        )
