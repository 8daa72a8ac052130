"""Announcement mutations: create, update and the DRAFT -> PUBLISHED -> CLOSED lifecycle (R1).

Editors, admins and services with announcements:write only (FORBIDDEN otherwise). The
workflows and their rules are `graphql_api.services.announcements`; these resolvers read
the GraphQL input into its plain values, call the service, and return its row or its
refusal as `UserError`s (then nothing was written).
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated

import strawberry

from graphql_api.core.db.enums import BusinessSize
from graphql_api.core.db.models import Announcement
from graphql_api.core.errors import Rejected
from graphql_api.services import announcements
from graphql_api.services.announcements import (
    MAX_BODY,
    MAX_CATEGORY,
    MAX_LIST_ITEM,
    MAX_LIST_ITEMS,
    MAX_ORGANIZATION,
    MAX_TITLE,
    AnnouncementChanges,
    NewAnnouncement,
)
from graphql_api.services.inputs import NOT_GIVEN, Invalid, decode_global_id
from loaders.written import refresh
from schema.announcements.permissions import CanWriteAnnouncements
from schema.announcements.types import AnnouncementType
from schema.errors import UserError
from schema.payloads import Payload
from schema.types import Info, given

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
    target_sizes: list[BusinessSize] | None = strawberry.field(
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
    target_sizes: list[BusinessSize] | None = strawberry.field(
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
class AnnouncementPayload(Payload):
    announcement: AnnouncementType | None = strawberry.field(
        description="The announcement after the change; null when `errors` is not empty."
    )
    errors: list[UserError] = strawberry.field(
        description="Why the mutation did nothing; empty on success."
    )


def _business_id(value: strawberry.ID | None) -> int | Invalid | None:
    if value is None:
        return None
    return decode_global_id(value, "input.businessId", type_name="Business")


def _new(data: CreateAnnouncementInput) -> NewAnnouncement:
    return NewAnnouncement(
        title=data.title,
        body=data.body,
        organization=data.organization,
        category=data.category,
        target_industries=data.target_industries,
        target_sizes=data.target_sizes,
        regions=data.regions,
        budget=data.budget,
        opens_at=data.opens_at,
        closes_at=data.closes_at,
        source_url=data.source_url,
        keywords=data.keywords,
        business_id=_business_id(data.business_id),
    )


def _changes(data: UpdateAnnouncementInput) -> AnnouncementChanges:
    business_id = given(data.business_id)
    return AnnouncementChanges(
        title=given(data.title),
        body=given(data.body),
        organization=given(data.organization),
        category=given(data.category),
        target_industries=given(data.target_industries),
        target_sizes=given(data.target_sizes),
        regions=given(data.regions),
        budget=given(data.budget),
        opens_at=given(data.opens_at),
        closes_at=given(data.closes_at),
        source_url=given(data.source_url),
        keywords=given(data.keywords),
        business_id=business_id if business_id is NOT_GIVEN else _business_id(business_id),
    )


def _saved(info: Info, row: Announcement) -> AnnouncementPayload:
    refresh(info.context.loaders, row)
    return AnnouncementPayload.ok(announcement=row)


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
        ctx = info.context
        try:
            row = await announcements.create_announcement(
                db=ctx.db, actor=ctx.actor, announcement=_new(input)
            )
        except Rejected as refusal:
            return AnnouncementPayload.failed(refusal)
        return _saved(info, row)

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
        ctx = info.context
        try:
            row = await announcements.update_announcement(
                db=ctx.db,
                actor=ctx.actor,
                announcement_id=decode_global_id(id, "id", type_name="Announcement"),
                changes=_changes(input),
            )
        except Rejected as refusal:
            return AnnouncementPayload.failed(refusal)
        return _saved(info, row)

    @strawberry.mutation(
        description="Publish a DRAFT: it becomes public and publishedAt is set. "
        "INVALID_TRANSITION unless it is a draft; INVALID_VALUE when its closesAt has passed. "
        "Subscribers of announcementPublished are notified.",
        permission_classes=[CanWriteAnnouncements],
    )
    async def publish_announcement(
        self, info: Info, id: Annotated[strawberry.ID, strawberry.argument(description=_ID)]
    ) -> AnnouncementPayload:
        ctx = info.context
        try:
            row = await announcements.publish_announcement(
                db=ctx.db,
                actor=ctx.actor,
                announcement_id=decode_global_id(id, "id", type_name="Announcement"),
            )
        except Rejected as refusal:
            return AnnouncementPayload.failed(refusal)
        return _saved(info, row)

    @strawberry.mutation(
        description="Close a PUBLISHED announcement: it stops accepting applications. "
        "INVALID_TRANSITION for a draft or one already closed (also by its closesAt).",
        permission_classes=[CanWriteAnnouncements],
    )
    async def close_announcement(
        self, info: Info, id: Annotated[strawberry.ID, strawberry.argument(description=_ID)]
    ) -> AnnouncementPayload:
        ctx = info.context
        try:
            row = await announcements.close_announcement(
                db=ctx.db,
                actor=ctx.actor,
                announcement_id=decode_global_id(id, "id", type_name="Announcement"),
            )
        except Rejected as refusal:
            return AnnouncementPayload.failed(refusal)
        return _saved(info, row)
