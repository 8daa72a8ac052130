"""GraphQL types of the businesses domain."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Annotated, Any

import strawberry

from graphql_api.core.db.queries.applications import APPLICATION_CLASSES, AnyApplication
from graphql_api.core.db.queries.businesses import BUSINESS_CLASSES, AnyBusiness, BusinessSort
from graphql_api.core.ids import encode_id
from graphql_api.core.pagination import page_size
from loaders.pages import PageKey, ParentOnlyKey, TopKey
from schema.businesses.permissions import CanReadSensitiveBusinessFields
from schema.enums import ApplicationStatus, BusinessSize
from schema.types import Connection, Info, Node, described_enum, later, then

if TYPE_CHECKING:
    from schema.accounts.types import UserType
    from schema.announcements.types import AnnouncementType

# Lazy: both modules import this one (Announcement.business, User.businesses).
UserRef = Annotated["UserType", strawberry.lazy("schema.accounts.types")]
AnnouncementRef = Annotated["AnnouncementType", strawberry.lazy("schema.announcements.types")]

MATCHES_DEFAULT = 10


BusinessOrder = described_enum(
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

_FIRST = "Page size: default 20, at most 100."
_AFTER = "Cursor of the row after which the page starts."


@strawberry.input(description="Narrows a business list; every given criterion must hold.")
class BusinessFilter:
    industry: list[str] | None = strawberry.field(
        default=None, description="Any of these industries (exact match)."
    )
    size: list[BusinessSize] | None = strawberry.field(  # type: ignore[valid-type]
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


@strawberry.type(name="Business", description="A company that applies to support programmes.")
class BusinessType(Node):
    name: str = strawberry.field(description="Registered company name.")
    industry: str = strawberry.field(description="Industry code or label.")
    size: BusinessSize = strawberry.field(description="Company size class.")  # type: ignore[valid-type]
    region: str = strawberry.field(description="Region where the company is based.")
    founded_on: date | None = strawberry.field(description="Date the company was founded.")
    employee_count: int | None = strawberry.field(description="Number of employees.")
    registration_number: str | None = strawberry.field(
        description="Business registration number. Sensitive: owner, editors and admins only.",
        permission_classes=[CanReadSensitiveBusinessFields],
    )
    annual_revenue: Decimal | None = strawberry.field(
        description="Annual revenue. Sensitive: owner, editors and admins only.",
        permission_classes=[CanReadSensitiveBusinessFields],
    )
    created_at: datetime = strawberry.field(description="When the business was registered here.")

    # A resolver replaces the interface's plain attribute, which mypy's dataclass model rejects.
    @strawberry.field(description="Globally unique, opaque identifier.")  # type: ignore[misc]
    @staticmethod
    def id(
        root: strawberry.Parent[AnyBusiness],
    ) -> strawberry.ID:
        return strawberry.ID(encode_id("Business", root.id))

    @strawberry.field(description="The user who manages this business, if any.")
    @staticmethod
    def owner(root: strawberry.Parent[AnyBusiness], info: Info) -> UserRef | None:
        if root.owner_id is None:
            return None
        return later(info.context.loaders.user_by_id.load(root.owner_id))  # type: ignore[return-value]

    @strawberry.field(
        description="Announcements this business posted, newest published first. Drafts "
        "appear only for editors, admins and services with announcements:write."
    )
    @staticmethod
    def announcements(
        root: strawberry.Parent[AnyBusiness],
        info: Info,
        first: Annotated[int | None, strawberry.argument(description=_FIRST)] = None,
        after: Annotated[str | None, strawberry.argument(description=_AFTER)] = None,
    ) -> Connection[AnnouncementRef]:
        loaders = info.context.loaders
        include_drafts = info.context.principal.can_see_drafts_of_announcements
        page = loaders.announcements_by_business_id.load(
            PageKey(root.id, page_size(first), after, include_drafts)
        )

        async def count() -> int:
            key = ParentOnlyKey(root.id, include_drafts)
            return await loaders.announcement_count_by_business_id.load(key)

        return then(page, lambda loaded: Connection.from_page(loaded, count))

    @strawberry.field(
        description="Open published calls this business is eligible for (each of industry, "
        "size and region is unrestricted or includes the business's). Best first: calls "
        "restricting more of the three criteria, then the soonest closing."
    )
    @staticmethod
    def matching_announcements(
        root: strawberry.Parent[AnyBusiness],
        info: Info,
        first: Annotated[
            int | None,
            strawberry.argument(description="How many: default 10, at most 100."),
        ] = None,
    ) -> list[AnnouncementRef]:
        limit = MATCHES_DEFAULT if first is None else page_size(first)
        key = TopKey(root.id, limit, info.context.now)
        return later(info.context.loaders.matching_announcements_by_business_id.load(key))  # type: ignore[arg-type]

    @strawberry.field(
        description="This business's applications, newest first. Owner, editors and admins "
        "only: null with a FORBIDDEN error for anyone else.",
        permission_classes=[CanReadSensitiveBusinessFields],
    )
    @staticmethod
    async def applications(
        root: strawberry.Parent[AnyBusiness],
        info: Info,
        first: Annotated[int | None, strawberry.argument(description=_FIRST)] = None,
        after: Annotated[str | None, strawberry.argument(description=_AFTER)] = None,
    ) -> Connection[ApplicationType] | None:
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
        "+ rejected), from 0 to 1; null when none has been decided yet."
    )
    @staticmethod
    def success_rate(root: strawberry.Parent[AnyBusiness], info: Info) -> float | None:
        key = ParentOnlyKey(root.id)
        return later(info.context.loaders.success_rate_by_business_id.load(key))

    @classmethod
    def is_type_of(cls, obj: Any, info: Info) -> bool:
        return isinstance(obj, BUSINESS_CLASSES)


@strawberry.type(
    name="Application",
    description="A business's application to one announcement; visible to the business's "
    "owner, editors and admins.",
)
class ApplicationType(Node):
    status: ApplicationStatus = strawberry.field(description="Where the application stands.")  # type: ignore[valid-type]
    submitted_at: datetime = strawberry.field(description="When it was submitted.")
    decided_at: datetime | None = strawberry.field(
        description="When it was approved or rejected; null while undecided."
    )

    # A resolver replaces the interface's plain attribute, which mypy's dataclass model rejects.
    @strawberry.field(description="Globally unique, opaque identifier.")  # type: ignore[misc]
    @staticmethod
    def id(
        root: strawberry.Parent[AnyApplication],
    ) -> strawberry.ID:
        return strawberry.ID(encode_id("Application", root.id))

    @strawberry.field(description="The business that applied.")
    @staticmethod
    def business(root: strawberry.Parent[AnyApplication], info: Info) -> BusinessType:
        return later(info.context.loaders.business_by_id.load(root.business_id))  # type: ignore[return-value]

    @strawberry.field(description="The announcement applied to.")
    @staticmethod
    def announcement(root: strawberry.Parent[AnyApplication], info: Info) -> AnnouncementRef:
        return later(info.context.loaders.announcement_by_id.load(root.announcement_id))  # type: ignore[return-value]

    @classmethod
    def is_type_of(cls, obj: Any, info: Info) -> bool:
        return isinstance(obj, APPLICATION_CLASSES)


BusinessConnection = Connection[BusinessType]
ApplicationConnection = Connection[ApplicationType]
