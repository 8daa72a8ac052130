"""GraphQL types of the announcements domain."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Annotated

import strawberry

from graphql_api.core.db.queries.announcements import (
    ANNOUNCEMENT_CLASSES,
    AnnouncementSort,
    AnyAnnouncement,
)
from graphql_api.core.db.queries.businesses import AnyBusiness
from graphql_api.core.rules import effective_status
from schema.cache import CLOCK_MAX_AGE, Scope, cache_hint
from schema.enums import AnnouncementStatus, BusinessSize
from schema.projection import reads
from schema.types import Connection, Info, Node, described_enum, later, node_type

described_enum(
    AnnouncementSort,
    name="AnnouncementOrder",
    description="Orderings of announcement lists; ties are broken by id. "
    "Rows with no value for the sort key come last.",
    values={
        "PUBLISHED_AT_DESC": "Most recently published first.",
        "PUBLISHED_AT_ASC": "Oldest publication first.",
        "CLOSES_AT_ASC": "Soonest closing first.",
        "CLOSES_AT_DESC": "Latest closing first.",
    },
)

if TYPE_CHECKING:
    from schema.businesses.types import BusinessType

BusinessRef = Annotated["BusinessType", strawberry.lazy("schema.businesses.types")]


@strawberry.input(description="Narrows an announcement list; every given criterion must hold.")
class AnnouncementFilter:
    status: list[AnnouncementStatus] | None = strawberry.field(
        default=None,
        description="Any of these statuses (drafts only for editors). A published call past "
        "its closing time counts as CLOSED.",
    )
    category: list[str] | None = strawberry.field(
        default=None, description="Any of these categories."
    )
    region: list[str] | None = strawberry.field(
        default=None,
        description="Targets at least one of these regions (calls open to all regions match).",
    )
    industry: list[str] | None = strawberry.field(
        default=None,
        description="Open to at least one of these industries (calls open to all match).",
    )
    size: list[BusinessSize] | None = strawberry.field(
        default=None,
        description="Open to at least one of these company sizes (calls open to all match).",
    )
    open_now: bool | None = strawberry.field(
        default=None,
        description="true: published, already open and not yet closed; false: anything else.",
    )
    closing_before: datetime | None = strawberry.field(
        default=None, description="Closes strictly before this instant."
    )
    search: str | None = strawberry.field(
        default=None,
        description="Words to find in title, organisation and keywords (web-search syntax: "
        '"quoted phrase", -excluded, or).',
    )


@node_type(
    "Announcement",
    ANNOUNCEMENT_CLASSES,
    description="A public support-programme call for applications.",
)
class AnnouncementType(Node):
    title: str = strawberry.field(description="Title of the call.")
    body: str = strawberry.field(description="Full text of the call.")
    organization: str = strawberry.field(description="Organisation issuing the call.")
    category: str = strawberry.field(description="Programme category (funding, export, R&D ...).")
    target_industries: list[str] = strawberry.field(
        description="Industries the call is open to; empty means any."
    )
    target_sizes: list[str] = strawberry.field(
        description="Company sizes (BusinessSize values) the call is open to; empty means any."
    )
    regions: list[str] = strawberry.field(description="Regions the call targets; empty means any.")
    budget: Decimal | None = strawberry.field(description="Total programme budget.")
    opens_at: datetime | None = strawberry.field(description="When applications open.")
    closes_at: datetime | None = strawberry.field(description="When applications close.")
    source_url: str | None = strawberry.field(description="Link to the original notice.")
    keywords: list[str] = strawberry.field(description="Keywords for search and matching.")
    published_at: datetime | None = strawberry.field(description="When it was published.")
    created_at: datetime = strawberry.field(description="When it was created.")
    updated_at: datetime = strawberry.field(description="When it was last changed.")

    @strawberry.field(
        description="Lifecycle status; a published call past its closing time reads as CLOSED.",
        metadata=reads("status", "closes_at"),
    )
    @staticmethod
    @cache_hint(Scope.PUBLIC, max_age=CLOCK_MAX_AGE)
    def status(root: strawberry.Parent[AnyAnnouncement], info: Info) -> AnnouncementStatus:
        return effective_status(root, info.context.now)

    @strawberry.field(
        description="The business that posted the call, if any.",
        graphql_type=BusinessRef | None,
        metadata=reads("business_id"),
    )
    @staticmethod
    def business(root: strawberry.Parent[AnyAnnouncement], info: Info) -> AnyBusiness | None:
        if root.business_id is None:
            return None
        return later(info.context.loaders.business_by_id.load(root.business_id))

    @strawberry.field(
        description="Number of applications submitted to this call.", metadata=reads("id")
    )
    @staticmethod
    def application_count(root: strawberry.Parent[AnyAnnouncement], info: Info) -> int:
        return later(info.context.loaders.application_count_by_announcement_id.load(root.id))


AnnouncementConnection = Connection[AnnouncementType]
