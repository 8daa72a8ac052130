"""Business and application mutations (R2, R11, R12).

Members create businesses for themselves and change only their own (another member's
business is NOT_FOUND, exactly like a missing one); editors and admins manage any.
Applications go to PUBLISHED, open calls whose targets admit the business, once per pair;
editors and admins decide them. Every expected failure is a `UserError` and writes nothing.
"""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Annotated, Any

import strawberry
from sqlalchemy.ext.asyncio import AsyncSession

from graphql_api.core import audit
from graphql_api.core.auth.principal import Principal
from graphql_api.core.db import models
from graphql_api.core.db.enums import AnnouncementStatus, Role
from graphql_api.core.db.enums import ApplicationStatus as ApplicationStatusEnum
from graphql_api.core.db.queries.accounts import users_by_ids
from graphql_api.core.db.writes.announcements import lock_announcement
from graphql_api.core.db.writes.applications import (
    decide_application,
    insert_application,
    lock_application,
)
from graphql_api.core.db.writes.businesses import insert_business, lock_business, update_business
from graphql_api.core.validation import Checks
from schema.businesses.errors import (
    already_applied,
    already_decided,
    announcement_not_found,
    application_not_found,
    business_not_found,
    not_eligible,
    not_open,
    registration_number_taken,
)
from schema.businesses.permissions import (
    CanDecideApplications,
    CanManageBusinesses,
    can_manage_business,
)
from schema.businesses.types import ApplicationType, BusinessType
from schema.enums import ApplicationStatus, BusinessSize
from schema.errors import UserError, UserErrorCode, user_error
from schema.types import Info

MAX_NAME = 200
MAX_LABEL = 64
MAX_EMPLOYEES = 10_000_000
# annual_revenue is NUMERIC(18, 2).
MAX_MONEY = Decimal("9999999999999999.99")
# "Today" somewhere on Earth: the date may not be later than the date at UTC+14.
_LATEST_OFFSET = timedelta(hours=14)

# Korean business registration number: 3-2-5 digits, dashes optional on input.
_REGISTRATION_NUMBER = re.compile(r"([0-9]{3})-?([0-9]{2})-?([0-9]{5})")
_REGISTRATION_HINT = "NNN-NN-NNNNN (10 digits; dashes optional)"


def normalize_registration_number(value: str) -> str | None:
    """`NNN-NN-NNNNN` for a well-formed number (with or without dashes), else None."""
    match = _REGISTRATION_NUMBER.fullmatch(value.strip())
    return "-".join(match.groups()) if match else None


@strawberry.input(description="A new business. A member becomes its owner.")
class CreateBusinessInput:
    name: str = strawberry.field(description=f"Registered company name, 1 to {MAX_NAME} chars.")
    registration_number: str = strawberry.field(
        description=f"Business registration number, {_REGISTRATION_HINT}; unique. Stored and "
        "shown with dashes."
    )
    industry: str = strawberry.field(description=f"Industry, 1 to {MAX_LABEL} characters.")
    size: BusinessSize = strawberry.field(description="Company size class.")  # type: ignore[valid-type]
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
        description=f"Business registration number, {_REGISTRATION_HINT}; unique.",
    )
    industry: str | None = strawberry.field(
        default=strawberry.UNSET, description=f"Industry, 1 to {MAX_LABEL} characters."
    )
    size: BusinessSize | None = strawberry.field(  # type: ignore[valid-type]
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
class BusinessPayload:
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
class ApplicationPayload:
    application: ApplicationType | None = strawberry.field(
        description="The application after the change; null when `errors` is not empty."
    )
    errors: list[UserError] = strawberry.field(
        description="Why the mutation did nothing; empty on success."
    )


def _given(value: Any) -> bool:
    return value is not strawberry.UNSET


def _required(check: Checks, value: Any, path: str) -> Any:
    """A non-text field given as null in an update, where null cannot mean anything."""
    if value is None:
        check.fail(UserErrorCode.REQUIRED, "A value is required.", path)
    return value


def _validate(
    check: Checks, data: CreateBusinessInput | UpdateBusinessInput, *, today: date
) -> dict[str, Any]:
    """Column values for every field given, each checked; errors are collected in `check`."""
    values: dict[str, Any] = {}
    for attr, path, limit in (
        ("name", "input.name", MAX_NAME),
        ("industry", "input.industry", MAX_LABEL),
        ("region", "input.region", MAX_LABEL),
    ):
        if _given(value := getattr(data, attr)):
            values[attr] = check.text(value, path, max_length=limit)
    if _given(data.registration_number):
        path = "input.registrationNumber"
        errors_before = len(check.errors)
        raw = check.text(data.registration_number, path, max_length=32)
        if raw is not None and len(check.errors) == errors_before:
            values["registration_number"] = normalize_registration_number(raw)
            if values["registration_number"] is None:
                check.fail(UserErrorCode.INVALID_FORMAT, f"Expected {_REGISTRATION_HINT}.", path)
    if _given(data.size):
        values["size"] = _required(check, data.size, "input.size")
    if _given(data.founded_on):
        values["founded_on"] = data.founded_on
        if data.founded_on is not None and data.founded_on > today:
            check.fail(UserErrorCode.OUT_OF_RANGE, "Must not be in the future.", "input.foundedOn")
    if _given(data.employee_count):
        values["employee_count"] = check.integer(
            data.employee_count, "input.employeeCount", minimum=0, maximum=MAX_EMPLOYEES
        )
    if _given(data.annual_revenue):
        values["annual_revenue"] = check.decimal(
            data.annual_revenue,
            "input.annualRevenue",
            minimum=Decimal(0),
            maximum=MAX_MONEY,
            places=2,
        )
    return values


def _latest_today(info: Info) -> date:
    return (info.context.now + _LATEST_OFFSET).date()


async def _audit(
    session: AsyncSession,
    info: Info,
    action: str,
    target_type: str,
    target_id: int,
    details: dict[str, Any] | None = None,
) -> None:
    await audit.record_request(
        session,
        info.context.actor,
        action=action,
        target_type=target_type,
        target_id=target_id,
        details=details,
    )


def _business_payload(row: models.Business) -> BusinessPayload:
    # Resolvers hand ORM rows to the Strawberry types (BusinessType.is_type_of).
    return BusinessPayload(business=row, errors=[])  # type: ignore[arg-type]


def _application_payload(row: models.Application) -> ApplicationPayload:
    return ApplicationPayload(application=row, errors=[])  # type: ignore[arg-type]


def _refresh_business(info: Info, row: models.Business, *owner_ids: int | None) -> None:
    """Make this request's loaders show the business as written."""
    loaders = info.context.loaders
    loaders.business_by_id.clear(row.id).prime(row.id, row)
    for owner_id in {*owner_ids, row.owner_id}:
        if owner_id is not None:
            loaders.businesses_by_owner_id.clear(owner_id)
    # Industry, size or region may have changed what it matches (keys carry arguments).
    loaders.matching_announcements_by_business_id.clear_all()


def _refresh_application(info: Info, row: models.Application) -> None:
    loaders = info.context.loaders
    loaders.application_by_id.clear(row.id).prime(row.id, row)
    loaders.application_count_by_announcement_id.clear(row.announcement_id)
    # Per-business relations are keyed with paging arguments: drop them all.
    loaders.applications_by_business_id.clear_all()
    loaders.application_count_by_business_id.clear_all()
    loaders.success_rate_by_business_id.clear_all()


def _user_not_found() -> UserError:
    return user_error(UserErrorCode.NOT_FOUND, "No user with this ID.", "input.ownerId")


def _is_staff(principal: Principal) -> bool:
    return principal.has_role(Role.EDITOR, Role.ADMIN)


def _owner_id(check: Checks, principal: Principal, owner_gid: strawberry.ID | None) -> int | None:
    """The owner of a new business: the caller unless staff name someone else."""
    if owner_gid is None:
        return principal.user_id
    owner_id = check.global_id(owner_gid, "input.ownerId", type_name="User")
    if owner_id is not None and owner_id != principal.user_id and not _is_staff(principal):
        check.fail(
            UserErrorCode.INVALID_VALUE,
            "Only editors and admins may register a business for another user.",
            "input.ownerId",
        )
    return owner_id


def _is_open(row: models.Announcement, now: datetime) -> bool:
    """Published, already open, and not yet closed (by an editor or by its closesAt)."""
    return (
        row.status is AnnouncementStatus.PUBLISHED
        and (row.opens_at is None or row.opens_at <= now)
        and (row.closes_at is None or row.closes_at > now)
    )


def _unmet_targets(business: models.Business, call: models.Announcement) -> list[str]:
    """The criteria the business fails; an empty target list admits anyone."""
    unmet: list[str] = []
    if call.target_industries and business.industry not in call.target_industries:
        unmet.append("industry")
    if call.target_sizes and business.size.value not in call.target_sizes:
        unmet.append("size")
    if call.regions and business.region not in call.regions:
        unmet.append("region")
    return unmet


def _changed(row: Any, values: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in values.items() if getattr(row, key) != value}


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
        principal = info.context.principal
        check = Checks()
        values = _validate(check, input, today=_latest_today(info))
        owner_id = _owner_id(check, principal, input.owner_id)
        if not check.ok:
            return BusinessPayload(business=None, errors=check.errors)
        async with info.context.db.write() as session:
            if owner_id != principal.user_id and not await users_by_ids(
                session, ids=[owner_id] if owner_id is not None else []
            ):
                return BusinessPayload(business=None, errors=[_user_not_found()])
            row = await insert_business(session, values={**values, "owner_id": owner_id})
            if row is None:
                return BusinessPayload(business=None, errors=[registration_number_taken()])
            await _audit(
                session, info, "business.created", "Business", row.id, {"owner_id": owner_id}
            )
        _refresh_business(info, row)
        return _business_payload(row)

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
        principal = info.context.principal
        check = Checks()
        pk = check.global_id(id, "id", type_name="Business")
        values = _validate(check, input, today=_latest_today(info))
        if not check.ok or pk is None:
            return BusinessPayload(business=None, errors=check.errors)
        async with info.context.db.write() as session:
            row = await lock_business(session, business_id=pk)
            if row is None or not can_manage_business(principal, row.owner_id):
                return BusinessPayload(business=None, errors=[business_not_found("id")])
            changes = _changed(row, values)
            if changes:
                updated = await update_business(session, business_id=pk, values=changes)
                if updated is None:
                    return BusinessPayload(business=None, errors=[registration_number_taken()])
                row = updated
                # Field names only: the values may be sensitive (registration number).
                await _audit(
                    session, info, "business.updated", "Business", pk, {"fields": sorted(changes)}
                )
        _refresh_business(info, row)
        return _business_payload(row)

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
        principal = info.context.principal
        now = info.context.now
        check = Checks()
        business_pk = check.global_id(business_id, "businessId", type_name="Business")
        call_pk = check.global_id(announcement_id, "announcementId", type_name="Announcement")
        if not check.ok or business_pk is None or call_pk is None:
            return ApplicationPayload(application=None, errors=check.errors)
        async with info.context.db.write() as session:
            # FOR SHARE: concurrent applications proceed together, while a concurrent close
            # or business change waits (and vice versa), so the checks below stay true.
            business = await lock_business(session, business_id=business_pk, shared=True)
            if business is None or not can_manage_business(principal, business.owner_id):
                check.errors.append(business_not_found("businessId"))
            call = await lock_announcement(session, announcement_id=call_pk, shared=True)
            if call is None or (
                call.status is AnnouncementStatus.DRAFT
                and not principal.can_see_drafts_of_announcements
            ):
                check.errors.append(announcement_not_found("announcementId"))
            if business is None or call is None or not check.ok:
                return ApplicationPayload(application=None, errors=check.errors)
            if not _is_open(call, now):
                return ApplicationPayload(application=None, errors=[not_open()])
            if unmet := _unmet_targets(business, call):
                return ApplicationPayload(application=None, errors=[not_eligible(unmet)])
            row = await insert_application(
                session, business_id=business.id, announcement_id=call.id, submitted_at=now
            )
            if row is None:
                return ApplicationPayload(application=None, errors=[already_applied()])
            await _audit(
                session,
                info,
                "application.submitted",
                "Application",
                row.id,
                {"business_id": business.id, "announcement_id": call.id},
            )
        _refresh_application(info, row)
        return _application_payload(row)

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
            ApplicationStatus,  # type: ignore[valid-type]
            strawberry.argument(description="The decision: APPROVED or REJECTED."),
        ],
    ) -> ApplicationPayload:
        check = Checks()
        pk = check.global_id(id, "id", type_name="Application")
        decision = ApplicationStatusEnum(status)
        if decision not in (ApplicationStatusEnum.APPROVED, ApplicationStatusEnum.REJECTED):
            check.fail(UserErrorCode.INVALID_VALUE, "Must be APPROVED or REJECTED.", "status")
        if not check.ok or pk is None:
            return ApplicationPayload(application=None, errors=check.errors)
        async with info.context.db.write() as session:
            row = await lock_application(session, application_id=pk)
            if row is None:
                return ApplicationPayload(application=None, errors=[application_not_found()])
            if row.status is not ApplicationStatusEnum.SUBMITTED:
                return ApplicationPayload(application=None, errors=[already_decided(row.status)])
            row = await decide_application(
                session,
                application_id=pk,
                status=decision,
                decided_at=info.context.now,
                decided_by_id=info.context.principal.user_id,
            )
            await _audit(
                session,
                info,
                "application.decided",
                "Application",
                pk,
                {"status": decision.value, "business_id": row.business_id},
            )
        _refresh_application(info, row)
        return _application_payload(row)
