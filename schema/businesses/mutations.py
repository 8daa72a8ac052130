"""Business and application mutations (R2, R11, R12).

The workflows and their rules are `graphql_api.services.businesses` (register and change a
business, who may manage one) and `graphql_api.services.applications` (apply, decide);
these resolvers read the GraphQL input into plain values, call the service, and return its
row or its refusal as `UserError`s (then nothing was written).
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Annotated

import strawberry

from graphql_api.core.db.enums import ApplicationStatus, BusinessSize
from graphql_api.core.db.models import Application, Business
from graphql_api.core.errors import Rejected
from graphql_api.services import applications, businesses
from graphql_api.services.businesses import (
    MAX_EMPLOYEES,
    MAX_LABEL,
    MAX_NAME,
    REGISTRATION_HINT,
    BusinessChanges,
    NewBusiness,
)
from graphql_api.services.inputs import Invalid, decode_global_id
from loaders.written import refresh
from schema.businesses.permissions import CanDecideApplications, CanManageBusinesses
from schema.businesses.types import ApplicationType, BusinessType
from schema.errors import UserError
from schema.payloads import Payload
from schema.types import Info, given


@strawberry.input(description="A new business. A member becomes its owner.")
class CreateBusinessInput:
    name: str = strawberry.field(description=f"Registered company name, 1 to {MAX_NAME} chars.")
    registration_number: str = strawberry.field(
        description=f"Business registration number, {REGISTRATION_HINT}; unique. Stored and "
        "shown with dashes."
    )
    industry: str = strawberry.field(description=f"Industry, 1 to {MAX_LABEL} characters.")
    size: BusinessSize = strawberry.field(description="Company size class.")
    region: str = strawberry.field(description=f"Region, 1 to {MAX_LABEL} characters.")
    founded_on: date | None = strawberry.field(
        default=None, description="Date the company was founded; not in the future."
    )
    employee_count: int | None = strawberry.field(
        default=None, description=f"Number of employees, 0 to {MAX_EMPLOYEES:,}."
    )
    annual_revenue: Decimal | None = strawberry.field(
        default=None, description="Annual revenue: at least 0, at most 2 decimals."
    )
    owner_id: strawberry.ID | None = strawberry.field(
        default=None,
        description="Editors and admins: the user who will manage it (default: the caller). "
        "A member may only name themself.",
    )


@strawberry.input(
    description="Changes to a business: only the fields given change; a nullable field "
    "given as null is cleared."
)
class UpdateBusinessInput:
    name: str | None = strawberry.field(
        default=strawberry.UNSET, description=f"Registered company name, 1 to {MAX_NAME} chars."
    )
    registration_number: str | None = strawberry.field(
        default=strawberry.UNSET,
        description=f"Business registration number, {REGISTRATION_HINT}; unique.",
    )
    industry: str | None = strawberry.field(
        default=strawberry.UNSET, description=f"Industry, 1 to {MAX_LABEL} characters."
    )
    size: BusinessSize | None = strawberry.field(
        default=strawberry.UNSET, description="Company size class."
    )
    region: str | None = strawberry.field(
        default=strawberry.UNSET, description=f"Region, 1 to {MAX_LABEL} characters."
    )
    founded_on: date | None = strawberry.field(
        default=strawberry.UNSET, description="Date the company was founded; not in the future."
    )
    employee_count: int | None = strawberry.field(
        default=strawberry.UNSET, description=f"Number of employees, 0 to {MAX_EMPLOYEES:,}."
    )
    annual_revenue: Decimal | None = strawberry.field(
        default=strawberry.UNSET, description="Annual revenue: at least 0, at most 2 decimals."
    )


@strawberry.type(
    description="Result of a business mutation: the business as saved, or the errors that "
    "stopped it (then nothing was written)."
)
class BusinessPayload(Payload):
    business: BusinessType | None = strawberry.field(
        description="The business after the change; null when `errors` is not empty."
    )
    errors: list[UserError] = strawberry.field(
        description="Why the mutation did nothing; empty on success."
    )


@strawberry.type(
    description="Result of an application mutation: the application as saved, or the "
    "errors that stopped it (then nothing was written)."
)
class ApplicationPayload(Payload):
    application: ApplicationType | None = strawberry.field(
        description="The application after the change; null when `errors` is not empty."
    )
    errors: list[UserError] = strawberry.field(
        description="Why the mutation did nothing; empty on success."
    )


def _owner_id(value: strawberry.ID | None) -> int | Invalid | None:
    """None leaves the owner to the service: the caller."""
    return None if value is None else decode_global_id(value, "input.ownerId", type_name="User")


def _new(data: CreateBusinessInput) -> NewBusiness:
    return NewBusiness(
        name=data.name,
        registration_number=data.registration_number,
        industry=data.industry,
        size=data.size,
        region=data.region,
        founded_on=data.founded_on,
        employee_count=data.employee_count,
        annual_revenue=data.annual_revenue,
        owner_id=_owner_id(data.owner_id),
    )


def _changes(data: UpdateBusinessInput) -> BusinessChanges:
    return BusinessChanges(
        name=given(data.name),
        registration_number=given(data.registration_number),
        industry=given(data.industry),
        size=given(data.size),
        region=given(data.region),
        founded_on=given(data.founded_on),
        employee_count=given(data.employee_count),
        annual_revenue=given(data.annual_revenue),
    )


def _business_saved(info: Info, row: Business) -> BusinessPayload:
    refresh(info.context.loaders, row)
    return BusinessPayload.ok(business=row)


def _application_saved(info: Info, row: Application) -> ApplicationPayload:
    refresh(info.context.loaders, row)
    return ApplicationPayload.ok(application=row)


_BUSINESS_ID = "Global ID of the business."


@strawberry.type
class BusinessMutations:
    @strawberry.mutation(
        description="Register a business. Members own what they create; editors and admins "
        "may name another owner. DUPLICATE when the registration number is taken. Signed-in "
        "users only (FORBIDDEN otherwise).",
        permission_classes=[CanManageBusinesses],
    )
    async def create_business(
        self,
        info: Info,
        input: Annotated[CreateBusinessInput, strawberry.argument(description="The business.")],
    ) -> BusinessPayload:
        ctx = info.context
        try:
            row = await businesses.create_business(db=ctx.db, actor=ctx.actor, business=_new(input))
        except Rejected as refusal:
            return BusinessPayload.failed(refusal)
        return _business_saved(info, row)

    @strawberry.mutation(
        description="Change a business: members their own (another's is NOT_FOUND), editors "
        "and admins any. DUPLICATE when the new registration number is taken.",
        permission_classes=[CanManageBusinesses],
    )
    async def update_business(
        self,
        info: Info,
        id: Annotated[strawberry.ID, strawberry.argument(description=_BUSINESS_ID)],
        input: Annotated[
            UpdateBusinessInput,
            strawberry.argument(description="The fields to change; others stay as they are."),
        ],
    ) -> BusinessPayload:
        ctx = info.context
        try:
            row = await businesses.update_business(
                db=ctx.db,
                actor=ctx.actor,
                business_id=decode_global_id(id, "id", type_name="Business"),
                changes=_changes(input),
            )
        except Rejected as refusal:
            return BusinessPayload.failed(refusal)
        return _business_saved(info, row)

    @strawberry.mutation(
        description="Apply with a business to a call: the caller must own the business (or "
        "be an editor or admin); the call must be PUBLISHED and open now (NOT_OPEN), its "
        "targets must admit the business (NOT_ELIGIBLE), once per business and call "
        "(ALREADY_APPLIED).",
        permission_classes=[CanManageBusinesses],
    )
    async def apply_to_announcement(
        self,
        info: Info,
        business_id: Annotated[strawberry.ID, strawberry.argument(description=_BUSINESS_ID)],
        announcement_id: Annotated[
            strawberry.ID, strawberry.argument(description="Global ID of the announcement.")
        ],
    ) -> ApplicationPayload:
        ctx = info.context
        try:
            row = await applications.apply_to_announcement(
                db=ctx.db,
                actor=ctx.actor,
                business_id=decode_global_id(business_id, "businessId", type_name="Business"),
                announcement_id=decode_global_id(
                    announcement_id, "announcementId", type_name="Announcement"
                ),
            )
        except Rejected as refusal:
            return ApplicationPayload.failed(refusal)
        return _application_saved(info, row)

    @strawberry.mutation(
        description="Approve or reject a SUBMITTED application (INVALID_TRANSITION once "
        "decided); the business's successRate reflects it. Editors and admins only.",
        permission_classes=[CanDecideApplications],
    )
    async def decide_application(
        self,
        info: Info,
        id: Annotated[
            strawberry.ID, strawberry.argument(description="Global ID of the application.")
        ],
        status: Annotated[
            ApplicationStatus,
            strawberry.argument(description="The decision: APPROVED or REJECTED."),
        ],
    ) -> ApplicationPayload:
        ctx = info.context
        try:
            row = await applications.decide_application(
                db=ctx.db,
                actor=ctx.actor,
                application_id=decode_global_id(id, "id", type_name="Application"),
                decision=status,
            )
        except Rejected as refusal:
            return ApplicationPayload.failed(refusal)
        return _application_saved(info, row)
