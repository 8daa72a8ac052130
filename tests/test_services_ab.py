"""The announcement, business and application services called directly, without GraphQL.

A refused workflow writes nothing (no row, no audit row, no event); an accepted one writes
its audit row with the actor's request id and IP in the same transaction, publishes its
events only after the commit, and judges time by the actor's clock, not the database's.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from graphql_api.core.actor import Actor
from graphql_api.core.auth.principal import Principal
from graphql_api.core.config import Settings
from graphql_api.core.db.engine import Database
from graphql_api.core.db.enums import AnnouncementStatus, ApplicationStatus, BusinessSize, Role
from graphql_api.core.errors import DomainError, Rejected, UserErrorCode
from graphql_api.core.events import ANNOUNCEMENT_PUBLISHED
from graphql_api.core.ids import encode_id
from graphql_api.services import announcements, applications, businesses
from graphql_api.services.announcements import AnnouncementChanges, NewAnnouncement
from graphql_api.services.businesses import BusinessChanges, NewBusiness
from graphql_api.services.inputs import NOT_GIVEN, decode_global_id
from tests.factories import make_announcements
from tests.factories_businesses import make_applications, make_business, make_user
from tests.factories_mutations_ab import audit_rows, snapshot

REQUEST_ID = "service-test-request-0001"
IP = "203.0.113.7"


class Published:
    """A publisher that records what `Database.write` publishes after commit."""

    def __init__(self) -> None:
        self.events: list[tuple[str, dict[str, Any]]] = []

    async def __call__(self, topic: str, payload: dict[str, Any]) -> None:
        self.events.append((topic, payload))


@pytest.fixture
async def db(settings: Settings, db_url: str) -> AsyncIterator[Database]:
    database = Database(settings, url=db_url)
    try:
        yield database
    finally:
        await database.dispose()


@pytest.fixture
def published(db: Database) -> Published:
    publisher = Published()
    db.publisher = publisher
    return publisher


def actor(principal: Principal, now: datetime | None = None) -> Actor:
    return Actor(principal, REQUEST_ID, IP, now or datetime.now(UTC))


def codes(refusal: pytest.ExceptionInfo[Rejected]) -> list[tuple[UserErrorCode, str | None]]:
    return [(error.code, error.field) for error in refusal.value.errors]


def new_announcement(**overrides: Any) -> NewAnnouncement:
    now = datetime.now(UTC)
    values: dict[str, Any] = {
        "title": "Export voucher",
        "body": "Support for first-time exporters.",
        "organization": "Ministry of SMEs and Startups",
        "category": "export",
        "target_sizes": [BusinessSize.SMALL],
        "opens_at": now - timedelta(days=1),
        "closes_at": now + timedelta(days=30),
    }
    values.update(overrides)
    return NewAnnouncement(**values)


async def test_a_refused_create_writes_nothing_and_lists_errors_in_input_order(
    db: Database, engine: AsyncEngine, published: Published
) -> None:
    editor = await make_user(engine, Role.EDITOR)
    before = await snapshot(engine)
    now = datetime.now(UTC)
    with pytest.raises(Rejected) as refusal:
        await announcements.create_announcement(
            db=db,
            actor=actor(editor),
            announcement=new_announcement(
                title="  ",
                opens_at=now,
                closes_at=now - timedelta(days=1),
                business_id=decode_global_id("not-an-id", "input.businessId", type_name="Business"),
            ),
        )
    assert codes(refusal) == [
        (UserErrorCode.REQUIRED, "input.title"),
        (UserErrorCode.INVALID_FORMAT, "input.businessId"),
        (UserErrorCode.OUT_OF_RANGE, "input.closesAt"),
    ]
    assert await snapshot(engine) == before
    assert published.events == []


async def test_a_refusal_found_inside_the_transaction_rolls_it_back(
    db: Database, engine: AsyncEngine
) -> None:
    editor = await make_user(engine, Role.EDITOR)
    before = await snapshot(engine)
    with pytest.raises(Rejected) as refusal:
        await announcements.create_announcement(
            db=db, actor=actor(editor), announcement=new_announcement(business_id=999_999)
        )
    assert refusal.value.errors == (
        DomainError(UserErrorCode.NOT_FOUND, "No business with this ID.", "input.businessId"),
    )
    assert await snapshot(engine) == before


async def test_an_accepted_create_is_audited_with_the_actors_request_and_ip(
    db: Database, engine: AsyncEngine
) -> None:
    editor = await make_user(engine, Role.EDITOR)
    row = await announcements.create_announcement(
        db=db, actor=actor(editor), announcement=new_announcement()
    )
    assert row.status is AnnouncementStatus.DRAFT
    assert row.created_by_id == editor.user_id
    assert row.target_sizes == ["SMALL"]
    [log] = await audit_rows(engine, "announcement.created")
    assert (log.actor_user_id, log.target_type, log.target_id) == (
        editor.user_id,
        "Announcement",
        str(row.id),
    )
    assert (log.request_id, str(log.ip), log.details) == (REQUEST_ID, IP, {})


async def test_an_update_that_changes_nothing_writes_no_audit_row(
    db: Database, engine: AsyncEngine
) -> None:
    editor = await make_user(engine, Role.EDITOR)
    row = await announcements.create_announcement(
        db=db, actor=actor(editor), announcement=new_announcement()
    )
    same = await announcements.update_announcement(
        db=db,
        actor=actor(editor),
        announcement_id=row.id,
        changes=AnnouncementChanges(title=row.title, closes_at=NOT_GIVEN),
    )
    assert same.id == row.id
    assert await audit_rows(engine, "announcement.updated") == []
    changed = await announcements.update_announcement(
        db=db,
        actor=actor(editor),
        announcement_id=row.id,
        changes=AnnouncementChanges(title="Export voucher 2027", regions=None),
    )
    assert changed.title == "Export voucher 2027"
    [log] = await audit_rows(engine, "announcement.updated")
    assert log.details == {"fields": ["title"]}


async def test_publish_judges_the_closing_time_by_the_actors_clock(
    db: Database, engine: AsyncEngine, published: Published
) -> None:
    editor = await make_user(engine, Role.EDITOR)
    now = datetime.now(UTC)
    [call_id] = await make_announcements(
        engine, 1, status=AnnouncementStatus.DRAFT, closes_at=now + timedelta(days=1)
    )
    before = await snapshot(engine)
    # The database's clock says the call still has a day to run; the request's says not.
    later = actor(editor, now + timedelta(days=2))
    with pytest.raises(Rejected) as refusal:
        await announcements.publish_announcement(db=db, actor=later, announcement_id=call_id)
    assert codes(refusal) == [(UserErrorCode.INVALID_VALUE, None)]
    assert await snapshot(engine) == before
    assert published.events == []

    row = await announcements.publish_announcement(
        db=db, actor=actor(editor, now), announcement_id=call_id
    )
    assert (row.status, row.published_at) == (AnnouncementStatus.PUBLISHED, now)
    assert published.events == [(ANNOUNCEMENT_PUBLISHED, {"id": call_id})]
    [log] = await audit_rows(engine, "announcement.published")
    assert (log.request_id, str(log.ip)) == (REQUEST_ID, IP)

    with pytest.raises(Rejected) as again:
        await announcements.publish_announcement(
            db=db, actor=actor(editor), announcement_id=call_id
        )
    assert codes(again) == [(UserErrorCode.INVALID_TRANSITION, None)]
    assert len(published.events) == 1


async def test_close_reads_a_call_past_its_closing_time_as_closed(
    db: Database, engine: AsyncEngine
) -> None:
    editor = await make_user(engine, Role.EDITOR)
    now = datetime.now(UTC)
    [call_id] = await make_announcements(engine, 1, closes_at=now + timedelta(hours=1))
    with pytest.raises(Rejected) as refusal:
        await announcements.close_announcement(
            db=db, actor=actor(editor, now + timedelta(hours=2)), announcement_id=call_id
        )
    assert [error.message for error in refusal.value.errors] == [
        "Cannot close an announcement that is CLOSED."
    ]
    row = await announcements.close_announcement(
        db=db, actor=actor(editor, now), announcement_id=call_id
    )
    assert row.status is AnnouncementStatus.CLOSED
    assert len(await audit_rows(engine, "announcement.closed")) == 1


def new_business(**overrides: Any) -> NewBusiness:
    values: dict[str, Any] = {
        "name": "Hanbit Software",
        "registration_number": "1234567890",
        "industry": "software",
        "size": BusinessSize.SMALL,
        "region": "Seoul",
    }
    values.update(overrides)
    return NewBusiness(**values)


async def test_a_duplicate_registration_number_writes_nothing(
    db: Database, engine: AsyncEngine
) -> None:
    member = await make_user(engine)
    first = await businesses.create_business(db=db, actor=actor(member), business=new_business())
    assert (first.registration_number, first.owner_id) == ("123-45-67890", member.user_id)
    [log] = await audit_rows(engine, "business.created")
    assert (log.request_id, str(log.ip), log.details) == (
        REQUEST_ID,
        IP,
        {"owner_id": member.user_id},
    )
    before = await snapshot(engine)
    with pytest.raises(Rejected) as refusal:
        await businesses.create_business(
            db=db, actor=actor(member), business=new_business(registration_number="123-45-67890")
        )
    assert codes(refusal) == [(UserErrorCode.DUPLICATE, "input.registrationNumber")]
    assert await snapshot(engine) == before


async def test_a_member_may_not_register_for_or_change_anothers_business(
    db: Database, engine: AsyncEngine
) -> None:
    member = await make_user(engine)
    other = await make_user(engine)
    assert other.user_id is not None
    business_id = await make_business(engine, owner_id=other.user_id)
    before = await snapshot(engine)
    with pytest.raises(Rejected) as for_other:
        await businesses.create_business(
            db=db,
            actor=actor(member),
            business=new_business(name="", owner_id=other.user_id),
        )
    assert codes(for_other) == [
        (UserErrorCode.REQUIRED, "input.name"),
        (UserErrorCode.INVALID_VALUE, "input.ownerId"),
    ]
    with pytest.raises(Rejected) as change:
        await businesses.update_business(
            db=db,
            actor=actor(member),
            business_id=business_id,
            changes=BusinessChanges(name="Mine now"),
        )
    assert codes(change) == [(UserErrorCode.NOT_FOUND, "id")]
    assert await snapshot(engine) == before


async def test_business_checks_use_the_actors_clock_for_today(
    db: Database, engine: AsyncEngine
) -> None:
    admin = await make_user(engine, Role.ADMIN)
    business_id = await make_business(engine, owner_id=admin.user_id)
    now = datetime.now(UTC)
    next_week = (now + timedelta(days=7)).date()
    with pytest.raises(Rejected) as refusal:
        await businesses.update_business(
            db=db,
            actor=actor(admin, now),
            business_id=business_id,
            changes=BusinessChanges(founded_on=next_week, size=None),
        )
    assert codes(refusal) == [
        (UserErrorCode.REQUIRED, "input.size"),
        (UserErrorCode.OUT_OF_RANGE, "input.foundedOn"),
    ]
    row = await businesses.update_business(
        db=db,
        actor=actor(admin, now + timedelta(days=8)),
        business_id=business_id,
        changes=BusinessChanges(founded_on=next_week),
    )
    assert row.founded_on == next_week
    [log] = await audit_rows(engine, "business.updated")
    assert (log.request_id, str(log.ip), log.details) == (
        REQUEST_ID,
        IP,
        {"fields": ["founded_on"]},
    )


async def test_apply_is_judged_by_the_actors_clock_and_refusals_write_nothing(
    db: Database, engine: AsyncEngine
) -> None:
    member = await make_user(engine)
    business_id = await make_business(engine, owner_id=member.user_id)
    now = datetime.now(UTC)
    [call_id] = await make_announcements(
        engine, 1, regions=["Seoul"], closes_at=now + timedelta(days=1)
    )
    before = await snapshot(engine)
    with pytest.raises(Rejected) as refusal:
        await applications.apply_to_announcement(
            db=db,
            actor=actor(member, now + timedelta(days=2)),
            business_id=business_id,
            announcement_id=call_id,
        )
    assert codes(refusal) == [(UserErrorCode.NOT_OPEN, "announcementId")]
    assert await snapshot(engine) == before

    row = await applications.apply_to_announcement(
        db=db, actor=actor(member, now), business_id=business_id, announcement_id=call_id
    )
    assert (row.status, row.submitted_at) == (ApplicationStatus.SUBMITTED, now)
    [log] = await audit_rows(engine, "application.submitted")
    assert (log.request_id, str(log.ip), log.target_id) == (REQUEST_ID, IP, str(row.id))

    after_first = await snapshot(engine)
    with pytest.raises(Rejected) as again:
        await applications.apply_to_announcement(
            db=db, actor=actor(member, now), business_id=business_id, announcement_id=call_id
        )
    assert codes(again) == [(UserErrorCode.ALREADY_APPLIED, "announcementId")]
    assert await snapshot(engine) == after_first


async def test_decide_lists_an_unreadable_id_before_a_wrong_decision(
    db: Database, engine: AsyncEngine
) -> None:
    editor = await make_user(engine, Role.EDITOR)
    business_id = await make_business(engine)
    [call_id] = await make_announcements(engine, 1)
    [application_id] = await make_applications(engine, business_id, [call_id])
    before = await snapshot(engine)
    with pytest.raises(Rejected) as refusal:
        await applications.decide_application(
            db=db,
            actor=actor(editor),
            application_id=decode_global_id(
                encode_id("Business", 1), "id", type_name="Application"
            ),
            decision=ApplicationStatus.SUBMITTED,
        )
    assert codes(refusal) == [
        (UserErrorCode.NOT_FOUND, "id"),
        (UserErrorCode.INVALID_VALUE, "status"),
    ]
    assert await snapshot(engine) == before

    row = await applications.decide_application(
        db=db,
        actor=actor(editor),
        application_id=application_id,
        decision=ApplicationStatus.APPROVED,
    )
    assert (row.status, row.decided_by_id) == (ApplicationStatus.APPROVED, editor.user_id)
    [log] = await audit_rows(engine, "application.decided")
    assert (log.request_id, str(log.ip), log.details) == (
        REQUEST_ID,
        IP,
        {"status": "APPROVED", "business_id": business_id},
    )
    with pytest.raises(Rejected) as again:
        await applications.decide_application(
            db=db,
            actor=actor(editor),
            application_id=application_id,
            decision=ApplicationStatus.REJECTED,
        )
    assert codes(again) == [(UserErrorCode.INVALID_TRANSITION, None)]
