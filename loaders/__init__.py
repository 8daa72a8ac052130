"""DataLoaders, named <Thing>By<Key>Loader and created fresh for every request."""

from __future__ import annotations

from dataclasses import dataclass

from graphql_api.db.engine import Database
from loaders.announcements import AnnouncementByIdLoader, ApplicationCountByAnnouncementIdLoader
from loaders.businesses import BusinessByIdLoader


@dataclass(slots=True)
class Loaders:
    announcement_by_id: AnnouncementByIdLoader
    application_count_by_announcement_id: ApplicationCountByAnnouncementIdLoader
    business_by_id: BusinessByIdLoader


def create_loaders(db: Database) -> Loaders:
    return Loaders(
        announcement_by_id=AnnouncementByIdLoader(db),
        application_count_by_announcement_id=ApplicationCountByAnnouncementIdLoader(db),
        business_by_id=BusinessByIdLoader(db),
    )
