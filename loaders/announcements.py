"""Announcement loaders."""

from __future__ import annotations

from aiodataloader import DataLoader

from graphql_api.core.db.engine import Database
from graphql_api.core.db.queries.announcements import (
    AnyAnnouncement,
    announcements_by_ids,
    application_counts,
)
from loaders.base import ByIdLoader


# Writes and the subscription prime it with ORM instances; reads fill it with rows.
class AnnouncementByIdLoader(ByIdLoader[AnyAnnouncement]):
    fetch = staticmethod(announcements_by_ids)


class ApplicationCountByAnnouncementIdLoader(DataLoader[int, int]):
    """How many applications each announcement has, one GROUP BY per batch."""

    def __init__(self, db: Database) -> None:
        super().__init__()
        self.db = db

    async def batch_load_fn(self, keys: list[int]) -> list[int]:
        counts = await application_counts(self.db, ids=keys)
        return [counts.get(key, 0) for key in keys]
