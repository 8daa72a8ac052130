"""GraphQL types of the businesses domain."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Annotated

import strawberry

from graphql_api.core.db.queries.accounts import AnyUser
from graphql_api.core.db.queries.announcements import AnnouncementRow, AnyAnnouncement
from graphql_api.core.db.queries.applications import (
    APPLICATION_CLASSES,
    AnyApplication,
    ApplicationRow,
)
from graphql_api.core.db.queries.businesses import (
    BUSINESS_CLASSES,
    AnyBusiness,
    BusinessSort,
    MatchedAnnouncementRow,
)
from graphql_api.core.pagination import page_size
from loaders.pages import PageKey, ParentOnlyKey, TopKey
from schema.businesses.permissions import CanReadSensitiveBusinessFields
from schema.cache import CLOCK_MAX_AGE, Scope, cache_hint
from schema.enums import ApplicationStatus, BusinessSize
from schema.projection import reads, selected_columns
from schema.types import (
    AfterArg,
    Connection,
    FirstArg,
    Info,
    Node,
    described_enum,
    later,
    node_type,
    then,
)

if TYPE_CHECKING:
    from schema.accounts.types import UserType
    from schema.announcements.types import AnnouncementType

# Lazy: both modules import this one (Announcement.business, User.businesses).
UserRef = Annotated["UserType", strawberry.lazy("schema.accounts.types")]
AnnouncementRef = Annotated["AnnouncementType", strawberry.lazy("schema.announcements.types")]

MATCHES_DEFAULT = 10


described_enum(
    BusinessSort,
    name="BusinessOrder",
    description="Orderings of business lists; ties are broken by id. "
    "Rows with no value for the sort key come last.",
    values={
        "NAME_ASC": "By name, case-insensitively, A to Z.",
        "CREATED_AT_DESC": "Most recently registered first.",
        "EMPLOYEE_COUNT_DESC": "Most employees first.",
    },
)


@strawberry.input(description="Narrows a business list; every given criterion must hold.")
class BusinessFilter:
    industry: list[str] | None = strawberry.field(
        default=None, description="Any of these industries (exact match)."
    )
    size: list[BusinessSize] | None = strawberry.field(
        default=None, description="Any of these size classes."
    )
    region: list[str] | None = strawberry.field(
        default=None, description="Any of these regions (exact match)."
    )
    name: str | None = strawberry.field(
        default=None,
        description="Case-insensitive substring of the name; `%` and `_` match literally.",
    )
    name_prefix: str | None = strawberry.field(
        default=None,
        description="Case-insensitive prefix of the name (index-served; prefer it over `name` "
        "for type-ahead); `%` and `_` match literally.",
    )


@node_type(
    "Business", BUSINESS_CLASSES, description="A company that applies to support programmes."
)
class BusinessType(Node):
    name: str = strawberry.field(description="Registered company name.")
    industry: str = strawberry.field(description="Industry code or label.")
    size: BusinessSize = strawberry.field(description="Company size class.")
    region: str = strawberry.field(description="Region where the company is based.")
    founded_on: date | None = strawberry.field(description="Date the company was founded.")
    employee_count: int | None = strawberry.field(description="Number of employees.")
    registration_number: str | None = strawberry.field(
        description="Business registration number. Sensitive: owner, editors and admins only.",
        permission_classes=[CanReadSensitiveBusinessFields],
        metadata=reads("registration_number", "owner_id"),
    )
    annual_revenue: Decimal | None = strawberry.field(
        description="Annual revenue. Sensitive: owner, editors and admins only.",
        permission_classes=[CanReadSensitiveBusinessFields],
        metadata=reads("annual_revenue", "owner_id"),
    )
    created_at: datetime = strawberry.field(description="When the business was registered here.")

    @strawberry.field(
        description="The user who manages this business, if any.",
        graphql_type=UserRef | None,
        metadata=reads("owner_id"),
    )
    @staticmethod
    def owner(root: strawberry.Parent[AnyBusiness], info: Info) -> AnyUser | None:
        if root.owner_id is None:
            return None
        return later(info.context.loaders.user_by_id.load(root.owner_id))

    @strawberry.field(
        description="Announcements this business posted, newest published first. Drafts "
        "appear only for editors, admins and services with announcements:write.",
        graphql_type=Connection[AnnouncementRef],
        metadata=reads("id"),
    )
    @staticmethod
    @cache_hint(Scope.ROLE)
    def announcements(
        root: strawberry.Parent[AnyBusiness],
        info: Info,
        first: FirstArg = None,
        after: AfterArg = None,
    ) -> Connection[AnnouncementRow]:
        loaders = info.context.loaders
        include_drafts = info.context.principal.can_see_drafts_of_announcements
        columns = selected_columns(info, "Announcement")
        page = loaders.announcements_by_business_id.load(
            PageKey(root.id, page_size(first), after, include_drafts, columns)
        )

        async def count() -> int:
            key = ParentOnlyKey(root.id, include_drafts)
            return await loaders.announcement_count_by_business_id.load(key)

        return then(page, lambda loaded: Connection.from_page(loaded, count))

    @strawberry.field(
        description="Open published calls this business is eligible for (each of industry, "
        "size and region is unrestricted or includes the business's). Best first: calls "
        "restricting more of the three criteria, then the soonest closing.",
        graphql_type=list[AnnouncementRef],
        metadata=reads("id"),
    )
    @staticmethod
    @cache_hint(Scope.PUBLIC, max_age=CLOCK_MAX_AGE)
    def matching_announcements(
        root: strawberry.Parent[AnyBusiness],
        info: Info,
        first: Annotated[
            int | None,
            strawberry.argument(description="How many: default 10, at most 100."),
        ] = None,
    ) -> list[MatchedAnnouncementRow]:
        limit = MATCHES_DEFAULT if first is None else page_size(first)
        key = TopKey(root.id, limit, info.context.now)
        return later(info.context.loaders.matching_announcements_by_business_id.load(key))

    @strawberry.field(
        description="This business's applications, newest first. Owner, editors and admins "
        "only: null with a FORBIDDEN error for anyone else.",
        permission_classes=[CanReadSensitiveBusinessFields],
        # A string: ApplicationType is defined below.
        graphql_type="Connection[ApplicationType] | None",
        metadata=reads("id", "owner_id"),
    )
    @staticmethod
    async def applications(
        root: strawberry.Parent[AnyBusiness],
        info: Info,
        first: FirstArg = None,
        after: AfterArg = None,
    ) -> Connection[ApplicationRow] | None:
        loaders = info.context.loaders
        page = await loaders.applications_by_business_id.load(
            PageKey(root.id, page_size(first), after)
        )

        async def count() -> int:
            key = ParentOnlyKey(root.id)
            return await loaders.application_count_by_business_id.load(key)

        return Connection.from_page(page, count)

    @strawberry.field(
        description="Share of decided applications that were approved: approved / (approved "
        "+ rejected), from 0 to 1; null when none has been decided yet.",
        metadata=reads("id"),
    )
    @staticmethod
    def success_rate(root: strawberry.Parent[AnyBusiness], info: Info) -> float | None:
        key = ParentOnlyKey(root.id)
        return later(info.context.loaders.success_rate_by_business_id.load(key))


@cache_hint(Scope.USER)
@node_type(
    "Application",
    APPLICATION_CLASSES,
    description="A business's application to one announcement; visible to the business's "
    "owner, editors and admins.",
)
class ApplicationType(Node):
    status: ApplicationStatus = strawberry.field(description="Where the application stands.")
    submitted_at: datetime = strawberry.field(description="When it was submitted.")
    decided_at: datetime | None = strawberry.field(
        description="When it was approved or rejected; null while undecided."
    )

    # None (a row deleted meanwhile) fails these non-null fields, as it always has.
    @strawberry.field(description="The business that applied.", graphql_type=BusinessType)
    @staticmethod
    def business(root: strawberry.Parent[AnyApplication], info: Info) -> AnyBusiness | None:
        return later(info.context.loaders.business_by_id.load(root.business_id))

    @strawberry.field(description="The announcement applied to.", graphql_type=AnnouncementRef)
    @staticmethod
    def announcement(root: strawberry.Parent[AnyApplication], info: Info) -> AnyAnnouncement | None:
        return later(info.context.loaders.announcement_by_id.load(root.announcement_id))


BusinessConnection = Connection[BusinessType]
ApplicationConnection = Connection[ApplicationType]
