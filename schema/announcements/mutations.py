"""Announcement mutations: create, update and the DRAFT -> PUBLISHED -> CLOSED lifecycle (R1).

Editors, admins and services with announcements:write only (FORBIDDEN otherwise). Every
expected failure is a `UserError` in the payload and nothing is written; transitions lock
the row (FOR UPDATE) so concurrent calls apply one after the other, never both.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any

import strawberry
from sqlalchemy.ext.asyncio import AsyncSession

from graphql_api.core import audit
from graphql_api.core.db import models
from graphql_api.core.db.enums import AnnouncementStatus
from graphql_api.core.db.enums import BusinessSize as BusinessSizeEnum
from graphql_api.core.db.queries.announcements import effective_status
from graphql_api.core.db.queries.businesses import businesses_by_ids
from graphql_api.core.db.writes.announcements import (
    insert_announcement,
    lock_announcement,
    update_announcement,
)
from graphql_api.core.events import ANNOUNCEMENT_PUBLISHED, emit
from graphql_api.core.validation import Checks
from schema.announcements.errors import (
    announcement_not_found,
    closing_time_passed,
    invalid_transition,
)
from schema.announcements.permissions import CanWriteAnnouncements
from schema.announcements.types import AnnouncementType
from schema.enums import BusinessSize
from schema.errors import UserError, UserErrorCode, user_error
from schema.types import Info

MAX_TITLE = 200
MAX_BODY = 20_000
MAX_ORGANIZATION = 200
MAX_CATEGORY = 64
MAX_LIST_ITEMS = 50
MAX_LIST_ITEM = 64
# budget is NUMERIC(18, 2).
MAX_MONEY = Decimal("9999999999999999.99")

_LIST_HINT = f"At most {MAX_LIST_ITEMS} items of 1 to {MAX_LIST_ITEM} characters"


@strawberry.input(description="A new announcement; it starts as a DRAFT.")
class CreateAnnouncementInput:
    title: str = strawberry.field(description=f"Title, 1 to {MAX_TITLE} characters.")
    body: str = strawberry.field(description=f"Full text, 1 to {MAX_BODY} characters.")
    organization: str = strawberry.field(
        description=f"Issuing organisation, 1 to {MAX_ORGANIZATION} characters."
    )
    category: str = strawberry.field(
        description=f"Programme category (funding, export, R&D ...), 1 to {MAX_CATEGORY} "
        "characters."
    )
    target_industries: list[str] | None = strawberry.field(
        default=None, description=f"Industries the call is open to; empty means any. {_LIST_HINT}."
    )
    target_sizes: list[BusinessSize] | None = strawberry.field(  # type: ignore[valid-type]
        default=None, description="Company sizes the call is open to; empty means any."
    )
    regions: list[str] | None = strawberry.field(
        default=None, description=f"Regions the call targets; empty means any. {_LIST_HINT}."
    )
    budget: Decimal | None = strawberry.field(
        default=None, description="Total programme budget: at least 0, at most 2 decimals."
    )
    opens_at: datetime | None = strawberry.field(
        default=None, description="When applications open (with a UTC offset); null: at once."
    )
    closes_at: datetime | None = strawberry.field(
        default=None,
        description="When applications close (with a UTC offset); after opensAt. Null: no "
        "deadline.",
    )
    source_url: str | None = strawberry.field(
        default=None, description="Link to the original notice: an http(s) URL."
    )
    keywords: list[str] | None = strawberry.field(
        default=None, description=f"Keywords for search and matching. {_LIST_HINT}."
    )
    business_id: strawberry.ID | None = strawberry.field(
        default=None, description="The business posting the call, if any."
    )


@strawberry.input(
    description="Changes to an announcement: only the fields given change. A nullable field "
    "given as null is cleared (a list given as null becomes empty: open to any)."
)
class UpdateAnnouncementInput:
    title: str | None = strawberry.field(
        default=strawberry.UNSET, description=f"Title, 1 to {MAX_TITLE} characters."
    )
    body: str | None = strawberry.field(
        default=strawberry.UNSET, description=f"Full text, 1 to {MAX_BODY} characters."
    )
    organization: str | None = strawberry.field(
        default=strawberry.UNSET,
        description=f"Issuing organisation, 1 to {MAX_ORGANIZATION} characters.",
    )
    category: str | None = strawberry.field(
        default=strawberry.UNSET, description=f"Programme category, 1 to {MAX_CATEGORY} characters."
    )
    target_industries: list[str] | None = strawberry.field(
        default=strawberry.UNSET,
        description=f"Industries the call is open to; empty means any. {_LIST_HINT}.",
    )
    target_sizes: list[BusinessSize] | None = strawberry.field(  # type: ignore[valid-type]
        default=strawberry.UNSET, description="Company sizes the call is open to; empty: any."
    )
    regions: list[str] | None = strawberry.field(
        default=strawberry.UNSET,
        description=f"Regions the call targets; empty means any. {_LIST_HINT}.",
    )
    budget: Decimal | None = strawberry.field(
        default=strawberry.UNSET, description="Total programme budget: at least 0, 2 decimals."
    )
    opens_at: datetime | None = strawberry.field(
        default=strawberry.UNSET, description="When applications open (with a UTC offset)."
    )
    closes_at: datetime | None = strawberry.field(
        default=strawberry.UNSET,
        description="When applications close (with a UTC offset); after opensAt, and in the "
        "future for a published call (close it with closeAnnouncement instead).",
    )
    source_url: str | None = strawberry.field(
        default=strawberry.UNSET, description="Link to the original notice: an http(s) URL."
    )
    keywords: list[str] | None = strawberry.field(
        default=strawberry.UNSET, description=f"Keywords for search and matching. {_LIST_HINT}."
    )
    business_id: strawberry.ID | None = strawberry.field(
        default=strawberry.UNSET, description="The business posting the call; null: none."
    )


@strawberry.type(
    description="Result of an announcement mutation: the announcement as saved, or the "
    "errors that stopped it (then nothing was written)."
)
class AnnouncementPayload:
    announcement: AnnouncementType | None = strawberry.field(
        description="The announcement after the change; null when `errors` is not empty."
    )
    errors: list[UserError] = strawberry.field(
        description="Why the mutation did nothing; empty on success."
    )


def _ok(row: models.Announcement) -> AnnouncementPayload:
    # Resolvers hand ORM rows to the Strawberry types (AnnouncementType.is_type_of).
    return AnnouncementPayload(announcement=row, errors=[])  # type: ignore[arg-type]


def _failed(errors: list[UserError]) -> AnnouncementPayload:
    return AnnouncementPayload(announcement=None, errors=errors)


def _given(value: Any) -> bool:
    return value is not strawberry.UNSET


def _validate(
    check: Checks, data: CreateAnnouncementInput | UpdateAnnouncementInput
) -> dict[str, Any]:
    """Column values for every field given, each checked; errors are collected in `check`."""
    values: dict[str, Any] = {}
    for attr, path, limit in (
        ("title", "input.title", MAX_TITLE),
        ("body", "input.body", MAX_BODY),
        ("organization", "input.organization", MAX_ORGANIZATION),
        ("category", "input.category", MAX_CATEGORY),
    ):
        if _given(value := getattr(data, attr)):
            values[attr] = check.text(value, path, max_length=limit)
    for attr, path in (
        ("target_industries", "input.targetIndustries"),
        ("regions", "input.regions"),
        ("keywords", "input.keywords"),
    ):
        if _given(value := getattr(data, attr)):
            values[attr] = check.strings(
                value, path, max_items=MAX_LIST_ITEMS, max_length=MAX_LIST_ITEM
            )
    if _given(data.target_sizes):
        sizes = (BusinessSizeEnum(size).value for size in data.target_sizes or ())
        values["target_sizes"] = list(dict.fromkeys(sizes))
    if _given(data.budget):
        values["budget"] = check.decimal(
            data.budget, "input.budget", minimum=Decimal(0), maximum=MAX_MONEY, places=2
        )
    if _given(data.opens_at):
        values["opens_at"] = check.instant(data.opens_at, "input.opensAt")
    if _given(data.closes_at):
        values["closes_at"] = check.instant(data.closes_at, "input.closesAt")
    if _given(data.source_url):
        values["source_url"] = check.url(data.source_url, "input.sourceUrl")
    if _given(data.business_id):
        values["business_id"] = check.global_id(
            data.business_id, "input.businessId", type_name="Business"
        )
    return values


def _check_window(
    check: Checks,
    values: dict[str, Any],
    current: models.Announcement | None,
    *,
    now: datetime,
    published: bool,
) -> None:
    """The application window after the change: closesAt after opensAt; still open if live."""
    opens: datetime | None = current.opens_at if current else None
    closes: datetime | None = current.closes_at if current else None
    opens = values.get("opens_at", opens)
    closes = values.get("closes_at", closes)
    if opens is not None and closes is not None and closes <= opens:
        path = "input.closesAt" if "closes_at" in values else "input.opensAt"
        check.fail(UserErrorCode.OUT_OF_RANGE, "closesAt must be after opensAt.", path)
    if published and values.get("closes_at") is not None and values["closes_at"] <= now:
        check.fail(
            UserErrorCode.OUT_OF_RANGE,
            "Must be in the future for a published announcement (close it with closeAnnouncement).",
            "input.closesAt",
        )


def _business_not_found() -> UserError:
    return user_error(UserErrorCode.NOT_FOUND, "No business with this ID.", "input.businessId")


async def _business_exists(session: AsyncSession, business_id: int | None) -> bool:
    return business_id is None or bool(await businesses_by_ids(session, ids=[business_id]))


async def _audit(
    session: AsyncSession,
    info: Info,
    action: str,
    row: models.Announcement,
    details: dict[str, Any] | None = None,
) -> None:
    await audit.record_request(
        session,
        info.context.actor,
        action=action,
        target_type="Announcement",
        target_id=row.id,
        details=details,
    )


def _refresh_loaders(info: Info, row: models.Announcement) -> None:
    """Make this request's loaders show the row as written (R14 caches, issue 5)."""
    loaders = info.context.loaders
    loaders.announcement_by_id.clear(row.id).prime(row.id, row)
    # Relations that list announcements (keys carry paging arguments): drop them all.
    loaders.announcements_by_business_id.clear_all()
    loaders.announcement_count_by_business_id.clear_all()
    loaders.matching_announcements_by_business_id.clear_all()


def _changed(row: models.Announcement, values: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in values.items() if getattr(row, key) != value}


_ID = "Global ID of the announcement."


@strawberry.type
class AnnouncementMutations:
    @strawberry.mutation(
        description="Create an announcement as a DRAFT. Editors, admins and services with "
        "announcements:write only (FORBIDDEN otherwise).",
        permission_classes=[CanWriteAnnouncements],
    )
    async def create_announcement(
        self,
        info: Info,
        input: Annotated[
            CreateAnnouncementInput, strawberry.argument(description="The new announcement.")
        ],
    ) -> AnnouncementPayload:
        check = Checks()
        values = _validate(check, input)
        _check_window(check, values, None, now=info.context.now, published=False)
        if not check.ok:
            return _failed(check.errors)
        async with info.context.db.write() as session:
            if not await _business_exists(session, values.get("business_id")):
                return _failed([_business_not_found()])
            row = await insert_announcement(
                session,
                values={
                    **values,
                    "status": AnnouncementStatus.DRAFT,
                    "created_by_id": info.context.principal.user_id,
                },
            )
            await _audit(session, info, "announcement.created", row)
        _refresh_loaders(info, row)
        return _ok(row)

    @strawberry.mutation(
        description="Change a DRAFT or PUBLISHED announcement (a CLOSED one is final: "
        "INVALID_TRANSITION). Editors, admins and services with announcements:write only.",
        permission_classes=[CanWriteAnnouncements],
    )
    async def update_announcement(
        self,
        info: Info,
        id: Annotated[strawberry.ID, strawberry.argument(description=_ID)],
        input: Annotated[
            UpdateAnnouncementInput,
            strawberry.argument(description="The fields to change; others stay as they are."),
        ],
    ) -> AnnouncementPayload:
        now = info.context.now
        check = Checks()
        pk = check.global_id(id, "id", type_name="Announcement")
        values = _validate(check, input)
        if not check.ok or pk is None:
            return _failed(check.errors)
        async with info.context.db.write() as session:
            row = await lock_announcement(session, announcement_id=pk)
            if row is None:
                return _failed([announcement_not_found()])
            status = effective_status(row, now)
            if status is AnnouncementStatus.CLOSED:
                return _failed([invalid_transition(status, "update")])
            _check_window(
                check, values, row, now=now, published=status is AnnouncementStatus.PUBLISHED
            )
            if "business_id" in values and not await _business_exists(
                session, values["business_id"]
            ):
                check.errors.append(_business_not_found())
            if not check.ok:
                return _failed(check.errors)
            changes = _changed(row, values)
            if changes:
                row = await update_announcement(session, announcement_id=pk, values=changes)
                await _audit(
                    session, info, "announcement.updated", row, {"fields": sorted(changes)}
                )
        _refresh_loaders(info, row)
        return _ok(row)

    @strawberry.mutation(
        description="Publish a DRAFT: it becomes public and publishedAt is set. "
        "INVALID_TRANSITION unless it is a draft; INVALID_VALUE when its closesAt has passed. "
        "Subscribers of announcementPublished are notified.",
        permission_classes=[CanWriteAnnouncements],
    )
    async def publish_announcement(
        self, info: Info, id: Annotated[strawberry.ID, strawberry.argument(description=_ID)]
    ) -> AnnouncementPayload:
        now = info.context.now
        check = Checks()
        pk = check.global_id(id, "id", type_name="Announcement")
        if pk is None:
            return _failed(check.errors)
        async with info.context.db.write() as session:
            row = await lock_announcement(session, announcement_id=pk)
            if row is None:
                return _failed([announcement_not_found()])
            status = effective_status(row, now)
            if status is not AnnouncementStatus.DRAFT:
                return _failed([invalid_transition(status, "publish")])
            if row.closes_at is not None and row.closes_at <= now:
                return _failed([closing_time_passed()])
            row = await update_announcement(
                session,
                announcement_id=pk,
                values={"status": AnnouncementStatus.PUBLISHED, "published_at": now},
            )
            await _audit(session, info, "announcement.published", row)
            emit(session, ANNOUNCEMENT_PUBLISHED, {"id": row.id})
        _refresh_loaders(info, row)
        return _ok(row)

    @strawberry.mutation(
        description="Close a PUBLISHED announcement: it stops accepting applications. "
        "INVALID_TRANSITION for a draft or one already closed (also by its closesAt).",
        permission_classes=[CanWriteAnnouncements],
    )
    async def close_announcement(
        self, info: Info, id: Annotated[strawberry.ID, strawberry.argument(description=_ID)]
    ) -> AnnouncementPayload:
        check = Checks()
        pk = check.global_id(id, "id", type_name="Announcement")
        if pk is None:
            return _failed(check.errors)
        async with info.context.db.write() as session:
            row = await lock_announcement(session, announcement_id=pk)
            if row is None:
                return _failed([announcement_not_found()])
            status = effective_status(row, info.context.now)
            if status is not AnnouncementStatus.PUBLISHED:
                return _failed([invalid_transition(status, "close")])
            row = await update_announcement(
                session, announcement_id=pk, values={"status": AnnouncementStatus.CLOSED}
            )
            await _audit(session, info, "announcement.closed", row)
        _refresh_loaders(info, row)
        return _ok(row)
