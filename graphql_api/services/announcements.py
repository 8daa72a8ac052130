"""Announcements: create and change a call, and its DRAFT -> PUBLISHED -> CLOSED lifecycle (R1).

Who may call these (editors, admins, services with announcements:write) is the caller's
check (the schema's permission class). Transitions lock the row FOR UPDATE so concurrent
calls apply one after the other, never both; every time comparison uses the actor's clock.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from graphql_api.core import audit
from graphql_api.core.actor import Actor
from graphql_api.core.db.engine import Database
from graphql_api.core.db.enums import AnnouncementStatus, BusinessSize
from graphql_api.core.db.models import Announcement
from graphql_api.core.db.queries.businesses import businesses_by_ids
from graphql_api.core.db.writes import announcements as writes
from graphql_api.core.errors import DomainError, Rejected, UserErrorCode
from graphql_api.core.events import ANNOUNCEMENT_PUBLISHED, emit
from graphql_api.core.rules import effective_status, has_closed
from graphql_api.core.validation import Checks
from graphql_api.services.inputs import NOT_GIVEN, Invalid, Maybe, accept, or_reject

MAX_TITLE = 200
MAX_BODY = 20_000
MAX_ORGANIZATION = 200
MAX_CATEGORY = 64
MAX_LIST_ITEMS = 50
MAX_LIST_ITEM = 64
# budget is NUMERIC(18, 2).
MAX_MONEY = Decimal("9999999999999999.99")


@dataclass(frozen=True, slots=True)
class NewAnnouncement:
    """A call to create as a DRAFT; empty target lists mean "open to any"."""

    title: str
    body: str
    organization: str
    category: str
    target_industries: Sequence[str] | None = None
    target_sizes: Sequence[BusinessSize] | None = None
    regions: Sequence[str] | None = None
    budget: Decimal | None = None
    opens_at: datetime | None = None
    closes_at: datetime | None = None
    source_url: str | None = None
    keywords: Sequence[str] | None = None
    # The posting business, if any (Invalid: the caller could not read the ID it was given).
    business_id: int | Invalid | None = None


@dataclass(frozen=True, slots=True)
class AnnouncementChanges:
    """The fields to change; NOT_GIVEN keeps one, None clears it (a list: open to any)."""

    title: Maybe[str | None] = NOT_GIVEN
    body: Maybe[str | None] = NOT_GIVEN
    organization: Maybe[str | None] = NOT_GIVEN
    category: Maybe[str | None] = NOT_GIVEN
    target_industries: Maybe[Sequence[str] | None] = NOT_GIVEN
    target_sizes: Maybe[Sequence[BusinessSize] | None] = NOT_GIVEN
    regions: Maybe[Sequence[str] | None] = NOT_GIVEN
    budget: Maybe[Decimal | None] = NOT_GIVEN
    opens_at: Maybe[datetime | None] = NOT_GIVEN
    closes_at: Maybe[datetime | None] = NOT_GIVEN
    source_url: Maybe[str | None] = NOT_GIVEN
    keywords: Maybe[Sequence[str] | None] = NOT_GIVEN
    business_id: Maybe[int | Invalid | None] = NOT_GIVEN


# --- Why a workflow refuses ------------------------------------------------------------


def announcement_not_found(field: str = "id") -> DomainError:
    return DomainError(UserErrorCode.NOT_FOUND, "No announcement with this ID.", field)


def invalid_transition(current: AnnouncementStatus, action: str) -> DomainError:
    """`action` (publish, close, update) is not allowed from the call's effective status."""
    return DomainError(
        UserErrorCode.INVALID_TRANSITION,
        f"Cannot {action} an announcement that is {current.value}.",
        None,
    )


def closing_time_passed() -> DomainError:
    """Publishing a draft whose closesAt is already past: it would read as CLOSED at once."""
    return DomainError(
        UserErrorCode.INVALID_VALUE,
        "Its closesAt has passed; move it with updateAnnouncement before publishing.",
        None,
    )


def _business_not_found() -> DomainError:
    return DomainError(UserErrorCode.NOT_FOUND, "No business with this ID.", "input.businessId")


# --- Checks ------------------------------------------------------------------------------


def _validate(check: Checks, data: AnnouncementChanges) -> dict[str, Any]:
    """Column values for every field given, each checked; errors are collected in `check`."""
    values: dict[str, Any] = {}
    texts = (
        ("title", data.title, "input.title", MAX_TITLE),
        ("body", data.body, "input.body", MAX_BODY),
        ("organization", data.organization, "input.organization", MAX_ORGANIZATION),
        ("category", data.category, "input.category", MAX_CATEGORY),
    )
    for column, text, path, limit in texts:
        if text is not NOT_GIVEN:
            values[column] = check.text(text, path, max_length=limit)
    lists = (
        ("target_industries", data.target_industries, "input.targetIndustries"),
        ("regions", data.regions, "input.regions"),
        ("keywords", data.keywords, "input.keywords"),
    )
    for column, items, path in lists:
        if items is not NOT_GIVEN:
            values[column] = check.strings(
                None if items is None else list(items),
                path,
                max_items=MAX_LIST_ITEMS,
                max_length=MAX_LIST_ITEM,
            )
    if data.target_sizes is not NOT_GIVEN:
        sizes = (BusinessSize(size).value for size in data.target_sizes or ())
        values["target_sizes"] = list(dict.fromkeys(sizes))
    if data.budget is not NOT_GIVEN:
        values["budget"] = check.decimal(
            data.budget, "input.budget", minimum=Decimal(0), maximum=MAX_MONEY, places=2
        )
    if data.opens_at is not NOT_GIVEN:
        values["opens_at"] = check.instant(data.opens_at, "input.opensAt")
    if data.closes_at is not NOT_GIVEN:
        values["closes_at"] = check.instant(data.closes_at, "input.closesAt")
    if data.source_url is not NOT_GIVEN:
        values["source_url"] = check.url(data.source_url, "input.sourceUrl")
    if data.business_id is not NOT_GIVEN:
        values["business_id"] = accept(check, data.business_id)
    return values


def _check_window(
    check: Checks,
    values: dict[str, Any],
    current: Announcement | None,
    *,
    now: datetime,
    published: bool,
) -> None:
    """The application window after the change: closesAt after opensAt; still open if live."""
    opens: datetime | None = values.get("opens_at", current.opens_at if current else None)
    closes: datetime | None = values.get("closes_at", current.closes_at if current else None)
    if opens is not None and closes is not None and closes <= opens:
        path = "input.closesAt" if "closes_at" in values else "input.opensAt"
        check.fail(UserErrorCode.OUT_OF_RANGE, "closesAt must be after opensAt.", path)
    if published and values.get("closes_at") is not None and values["closes_at"] <= now:
        check.fail(
            UserErrorCode.OUT_OF_RANGE,
            "Must be in the future for a published announcement (close it with closeAnnouncement).",
            "input.closesAt",
        )


async def _business_exists(session: AsyncSession, business_id: int | None) -> bool:
    return business_id is None or bool(await businesses_by_ids(session, ids=[business_id]))


async def _locked(session: AsyncSession, announcement_id: int) -> Announcement:
    row = await writes.lock_announcement(session, announcement_id=announcement_id)
    if row is None:
        raise Rejected(announcement_not_found())
    return row


async def _audit(
    session: AsyncSession,
    actor: Actor,
    action: str,
    row: Announcement,
    details: dict[str, Any] | None = None,
) -> None:
    await audit.record_request(
        session, actor, action=action, target_type="Announcement", target_id=row.id, details=details
    )


# --- Workflows ---------------------------------------------------------------------------


async def create_announcement(
    *, db: Database, actor: Actor, announcement: NewAnnouncement
) -> Announcement:
    """The new call, a DRAFT created by the actor's user."""
    check = Checks()
    given = {
        field.name: getattr(announcement, field.name) for field in dataclasses.fields(announcement)
    }
    values = _validate(check, AnnouncementChanges(**given))
    _check_window(check, values, None, now=actor.now, published=False)
    check.reject_if_failed()
    async with db.write() as session:
        if not await _business_exists(session, values.get("business_id")):
            raise Rejected(_business_not_found())
        row = await writes.insert_announcement(
            session,
            values={
                **values,
                "status": AnnouncementStatus.DRAFT,
                "created_by_id": actor.principal.user_id,
            },
        )
        await _audit(session, actor, "announcement.created", row)
    return row


async def update_announcement(
    *, db: Database, actor: Actor, announcement_id: int | Invalid, changes: AnnouncementChanges
) -> Announcement:
    """The call with the given fields changed (audited only when something did change).

    A CLOSED call is final; a published one keeps a closing time in the future (closing it
    is `close_announcement`'s job).
    """
    check = Checks()
    pk = accept(check, announcement_id)
    values = _validate(check, changes)
    if pk is None or not check.ok:
        raise Rejected(*check.errors)
    async with db.write() as session:
        row = await _locked(session, pk)
        status = effective_status(row, actor.now)
        if status is AnnouncementStatus.CLOSED:
            raise Rejected(invalid_transition(status, "update"))
        published = status is AnnouncementStatus.PUBLISHED
        _check_window(check, values, row, now=actor.now, published=published)
        if "business_id" in values and not await _business_exists(session, values["business_id"]):
            check.errors.append(_business_not_found())
        check.reject_if_failed()
        changed = {key: value for key, value in values.items() if getattr(row, key) != value}
        if changed:
            row = await writes.update_announcement(session, announcement_id=pk, values=changed)
            await _audit(session, actor, "announcement.updated", row, {"fields": sorted(changed)})
    return row


async def publish_announcement(
    *, db: Database, actor: Actor, announcement_id: int | Invalid
) -> Announcement:
    """A DRAFT made public now; subscribers of announcementPublished hear of it after commit."""
    pk = or_reject(announcement_id)
    async with db.write() as session:
        row = await _locked(session, pk)
        status = effective_status(row, actor.now)
        if status is not AnnouncementStatus.DRAFT:
            raise Rejected(invalid_transition(status, "publish"))
        if has_closed(row, actor.now):
            raise Rejected(closing_time_passed())
        row = await writes.update_announcement(
            session,
            announcement_id=pk,
            values={"status": AnnouncementStatus.PUBLISHED, "published_at": actor.now},
        )
        await _audit(session, actor, "announcement.published", row)
        emit(session, ANNOUNCEMENT_PUBLISHED, {"id": row.id})
    return row


async def close_announcement(
    *, db: Database, actor: Actor, announcement_id: int | Invalid
) -> Announcement:
    """A PUBLISHED call closed now: it stops accepting applications."""
    pk = or_reject(announcement_id)
    async with db.write() as session:
        row = await _locked(session, pk)
        status = effective_status(row, actor.now)
        if status is not AnnouncementStatus.PUBLISHED:
            raise Rejected(invalid_transition(status, "close"))
        row = await writes.update_announcement(
            session, announcement_id=pk, values={"status": AnnouncementStatus.CLOSED}
        )
        await _audit(session, actor, "announcement.closed", row)
    return row
