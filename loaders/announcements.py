"""Announcement loaders."""

from __future__ import annotations

from graphql_api.db.models import Announcement
from graphql_api.db.queries.announcements import announcements_by_ids
from loaders.base import ByIdLoader


class AnnouncementByIdLoader(ByIdLoader[Announcement]):
    fetch = staticmethod(announcements_by_ids)
