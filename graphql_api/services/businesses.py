"""Businesses: register and change a company, and who may manage one (R2, R7, R11).

Members register businesses for themselves and change only their own (another member's
business is NOT_FOUND, exactly like a missing one); editors and admins manage any. The
registration number is unique: the database decides (ON CONFLICT, a savepoint on update),
so two concurrent registrations of one number never both succeed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, fields
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from graphql_api.core import audit
from graphql_api.core.actor import Actor
from graphql_api.core.auth.principal import Principal
from graphql_api.core.db.engine import Database
from graphql_api.core.db.enums import BusinessSize, Role
from graphql_api.core.db.models import Business
from graphql_api.core.db.queries.accounts import users_by_ids
from graphql_api.core.db.writes import businesses as writes
from graphql_api.core.errors import DomainError, Rejected, UserErrorCode
from graphql_api.core.validation import Checks
from graphql_api.services.inputs import NOT_GIVEN, Invalid, Maybe, accept

MAX_NAME = 200
MAX_LABEL = 64
MAX_EMPLOYEES = 10_000_000
# annual_revenue is NUMERIC(18, 2).
MAX_MONEY = Decimal("9999999999999999.99")
# "Today" somewhere on Earth: the date may not be later than the date at UTC+14.
_LATEST_OFFSET = timedelta(hours=14)

# Korean business registration number: 3-2-5 digits, dashes optional on input.
_REGISTRATION_NUMBER = re.compile(r"([0-9]{3})-?([0-9]{2})-?([0-9]{5})")
REGISTRATION_HINT = "NNN-NN-NNNNN (10 digits; dashes optional)"


def normalize_registration_number(value: str) -> str | None:
    """`NNN-NN-NNNNN` for a well-formed number (with or without dashes), else None."""
    match = _REGISTRATION_NUMBER.fullmatch(value.strip())
    return "-".join(match.groups()) if match else None


# --- Who may see and manage a business (the permission classes use these too) ----------


def is_staff(principal: Principal) -> bool:
    return principal.has_role(Role.EDITOR, Role.ADMIN)


def can_read_private_business_data(principal: Principal, owner_id: int | None) -> bool:
    """Sensitive fields and applications of a business: its owner, editors and admins."""
    if is_staff(principal):
        return True
    return principal.user_id is not None and principal.user_id == owner_id


def can_manage_businesses(principal: Principal) -> bool:
    """Creating businesses and applying with them: signed-in users (members for their own)."""
    return principal.user_id is not None and principal.role is not None


def can_manage_business(principal: Principal, owner_id: int | None) -> bool:
    """Changing one business or applying with it: its owner, editors and admins."""
    return can_manage_businesses(principal) and can_read_private_business_data(principal, owner_id)


# --- Inputs --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class NewBusiness:
    name: str
    registration_number: str
    industry: str
    size: BusinessSize
    region: str
    founded_on: date | None = None
    employee_count: int | None = None
    annual_revenue: Decimal | None = None
    # The user who will manage it; None: the actor (only staff may name someone else).
    owner_id: int | Invalid | None = None


@dataclass(frozen=True, slots=True)
class BusinessChanges:
    """The fields to change; NOT_GIVEN keeps one, None clears it (where it may be empty)."""

    name: Maybe[str | None] = NOT_GIVEN
    registration_number: Maybe[str | None] = NOT_GIVEN
    industry: Maybe[str | None] = NOT_GIVEN
    size: Maybe[BusinessSize | None] = NOT_GIVEN
    region: Maybe[str | None] = NOT_GIVEN
    founded_on: Maybe[date | None] = NOT_GIVEN
    employee_count: Maybe[int | None] = NOT_GIVEN
    annual_revenue: Maybe[Decimal | None] = NOT_GIVEN


# --- Why a workflow refuses ------------------------------------------------------------


def business_not_found(field: str) -> DomainError:
    """Missing, or another member's business: the same answer, so nothing leaks."""
    return DomainError(UserErrorCode.NOT_FOUND, "No business with this ID.", field)


def registration_number_taken(field: str = "input.registrationNumber") -> DomainError:
    return DomainError(
        UserErrorCode.DUPLICATE, "A business with this registration number exists.", field
    )


def _user_not_found() -> DomainError:
    return DomainError(UserErrorCode.NOT_FOUND, "No user with this ID.", "input.ownerId")


# --- Checks ------------------------------------------------------------------------------


def _validate(check: Checks, data: BusinessChanges, *, now: datetime) -> dict[str, Any]:
    """Column values for every field given, each checked; errors are collected in `check`."""
    values: dict[str, Any] = {}
    texts = (
        ("name", data.name, "input.name", MAX_NAME),
        ("industry", data.industry, "input.industry", MAX_LABEL),
        ("region", data.region, "input.region", MAX_LABEL),
    )
    for column, text, path, limit in texts:
        if text is not NOT_GIVEN:
            values[column] = check.text(text, path, max_length=limit)
    if data.registration_number is not NOT_GIVEN:
        path = "input.registrationNumber"
        errors_before = len(check.errors)
        raw = check.text(data.registration_number, path, max_length=32)
        if raw is not None and len(check.errors) == errors_before:
            values["registration_number"] = normalize_registration_number(raw)
            if values["registration_number"] is None:
                check.fail(UserErrorCode.INVALID_FORMAT, f"Expected {REGISTRATION_HINT}.", path)
    if data.size is not NOT_GIVEN:
        # Null cannot mean anything for a size class.
        if data.size is None:
            check.fail(UserErrorCode.REQUIRED, "A value is required.", "input.size")
        values["size"] = data.size
    if data.founded_on is not NOT_GIVEN:
        values["founded_on"] = data.founded_on
        latest_today = (now + _LATEST_OFFSET).date()
        if data.founded_on is not None and data.founded_on > latest_today:
            check.fail(UserErrorCode.OUT_OF_RANGE, "Must not be in the future.", "input.foundedOn")
    if data.employee_count is not NOT_GIVEN:
        values["employee_count"] = check.integer(
            data.employee_count, "input.employeeCount", minimum=0, maximum=MAX_EMPLOYEES
        )
    if data.annual_revenue is not NOT_GIVEN:
        values["annual_revenue"] = check.decimal(
            data.annual_revenue,
            "input.annualRevenue",
            minimum=Decimal(0),
            maximum=MAX_MONEY,
            places=2,
        )
    return values


def _owner_id(check: Checks, principal: Principal, owner: int | Invalid | None) -> int | None:
    """The owner of a new business: the actor unless staff name someone else."""
    if owner is None:
        return principal.user_id
    owner_id = accept(check, owner)
    if owner_id is not None and owner_id != principal.user_id and not is_staff(principal):
        check.fail(
            UserErrorCode.INVALID_VALUE,
            "Only editors and admins may register a business for another user.",
            "input.ownerId",
        )
    return owner_id


async def _audit(
    session: AsyncSession, actor: Actor, action: str, row: Business, details: dict[str, Any]
) -> None:
    await audit.record_request(
        session, actor, action=action, target_type="Business", target_id=row.id, details=details
    )


# --- Workflows ---------------------------------------------------------------------------


async def create_business(*, db: Database, actor: Actor, business: NewBusiness) -> Business:
    """The new business; DUPLICATE when its registration number is taken."""
    check = Checks()
    given = {field.name: getattr(business, field.name) for field in fields(BusinessChanges)}
    values = _validate(check, BusinessChanges(**given), now=actor.now)
    owner_id = _owner_id(check, actor.principal, business.owner_id)
    check.reject_if_failed()
    async with db.write() as session:
        if owner_id != actor.principal.user_id and not await users_by_ids(
            session, ids=[owner_id] if owner_id is not None else []
        ):
            raise Rejected(_user_not_found())
        row = await writes.insert_business(session, values={**values, "owner_id": owner_id})
        if row is None:
            raise Rejected(registration_number_taken())
        await _audit(session, actor, "business.created", row, {"owner_id": owner_id})
    return row


async def update_business(
    *, db: Database, actor: Actor, business_id: int | Invalid, changes: BusinessChanges
) -> Business:
    """The business with the given fields changed (audited only when something did change);
    NOT_FOUND unless the actor may manage it, DUPLICATE for a registration number taken."""
    check = Checks()
    pk = accept(check, business_id)
    values = _validate(check, changes, now=actor.now)
    if pk is None or not check.ok:
        raise Rejected(*check.errors)
    async with db.write() as session:
        row = await writes.lock_business(session, business_id=pk)
        if row is None or not can_manage_business(actor.principal, row.owner_id):
            raise Rejected(business_not_found("id"))
        changed = {key: value for key, value in values.items() if getattr(row, key) != value}
        if changed:
            updated = await writes.update_business(session, business_id=pk, values=changed)
            if updated is None:
                raise Rejected(registration_number_taken())
            row = updated
            # Field names only: the values may be sensitive (registration number).
            await _audit(session, actor, "business.updated", row, {"fields": sorted(changed)})
    return row
