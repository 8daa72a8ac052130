"""Announcement mutations: permissions, validation, lifecycle, locking, audit, events (R1, R7,
R9, R11, R12, R13; issue 5)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.applications import Starlette

from graphql_api.core.auth.principal import Principal
from graphql_api.core.db.enums import AnnouncementStatus, Role
from graphql_api.core.db.models import Announcement
from graphql_api.core.events import ANNOUNCEMENT_PUBLISHED
from graphql_api.core.ids import encode_id
from tests.conftest import act_as
from tests.factories import make_announcements
from tests.factories_businesses import make_business, make_user
from tests.factories_mutations_ab import (
    CLOSE_ANNOUNCEMENT,
    CREATE_ANNOUNCEMENT,
    PUBLISH_ANNOUNCEMENT,
    UPDATE_ANNOUNCEMENT,
    EventListener,
    announcement_input,
    audit_rows,
    make_service,
    mutate,
    only_error,
    snapshot,
)
from tests.graphql_client import error_codes, gql

TABLES = ("announcements", "audit_logs")


async def _editor(engine: AsyncEngine) -> Principal:
    return await make_user(engine, Role.EDITOR)


async def _principal(engine: AsyncEngine, kind: str) -> Principal:
    if kind == "anonymous":
        return Principal()
    if kind in ("member", "editor", "admin"):
        return await make_user(engine, Role(kind.upper()))
    if kind == "service with announcements:write":
        return await make_service(engine, "announcements:write")
    assert kind == "service without announcements:write"
    return await make_service(engine, "briefings:write", "prices:write")


async def _row(engine: AsyncEngine, pk: int) -> Any:
    async with engine.connect() as conn:
        return (
            await conn.execute(select(Announcement.__table__).where(Announcement.id == pk))
        ).one()


async def _draft(engine: AsyncEngine, **overrides: Any) -> int:
    [pk] = await make_announcements(engine, 1, status=AnnouncementStatus.DRAFT, **overrides)
    return pk


# --- create -------------------------------------------------------------------------------


async def test_editor_creates_a_draft_with_every_field_normalised_and_audited(
    app: Starlette, engine: AsyncEngine, client: httpx.AsyncClient
) -> None:
    editor = await _editor(engine)
    business = await make_business(engine, name="Poster Co")
    act_as(app, editor)
    data = announcement_input(
        title="  Export voucher  ",
        targetIndustries=["software", "software", "food"],
        targetSizes=["SMALL", "SMALL"],
        businessId=encode_id("Business", business),
    )
    payload, body = await mutate(client, CREATE_ANNOUNCEMENT, {"input": data})
    assert "errors" not in body, body
    assert payload is not None
    assert payload["errors"] == []
    created = payload["announcement"]
    assert created["title"] == "Export voucher"  # stripped
    assert created["status"] == "DRAFT"
    assert created["publishedAt"] is None
    assert created["targetIndustries"] == ["software", "food"]  # de-duplicated, in order
    assert created["targetSizes"] == ["SMALL"]
    assert created["budget"] == "1500000.50"
    assert created["keywords"] == ["export", "voucher"]
    assert created["business"] == {"id": encode_id("Business", business), "name": "Poster Co"}

    [audit] = await audit_rows(engine, "announcement.created")
    pk = int(audit.target_id)
    assert created["id"] == encode_id("Announcement", pk)
    assert audit.actor_user_id == editor.user_id
    assert audit.actor_api_key_id is None
    assert audit.target_type == "Announcement"
    assert audit.success is True
    row = await _row(engine, pk)
    assert row.created_by_id == editor.user_id
    assert row.budget == Decimal("1500000.50")

    # The draft is readable by the editor right away, and hidden from the public.
    query = "query($id: ID!) { node(id: $id) { ... on Announcement { title status } } }"
    body = await gql(client, query, {"id": created["id"]})
    assert body["data"]["node"] == {"title": "Export voucher", "status": "DRAFT"}
    act_as(app, Principal())
    body = await gql(client, query, {"id": created["id"]})
    assert error_codes(body) == ["NOT_FOUND"]


async def test_service_with_scope_creates_and_the_audit_names_its_key(
    app: Starlette, engine: AsyncEngine, client: httpx.AsyncClient
) -> None:
    service = await make_service(engine, "announcements:write")
    act_as(app, service)
    payload, _ = await mutate(client, CREATE_ANNOUNCEMENT, {"input": announcement_input()})
    assert payload is not None
    assert payload["errors"] == []
    [audit] = await audit_rows(engine, "announcement.created")
    assert audit.actor_api_key_id == service.api_key_id
    assert audit.actor_user_id is None
    assert (await _row(engine, int(audit.target_id))).created_by_id is None


async def test_minimal_input_defaults_to_open_to_anyone(
    app: Starlette, engine: AsyncEngine, client: httpx.AsyncClient
) -> None:
    act_as(app, await _editor(engine))
    minimal = {"title": "T", "body": "B", "organization": "O", "category": "C"}
    payload, _ = await mutate(client, CREATE_ANNOUNCEMENT, {"input": minimal})
    assert payload is not None
    assert payload["errors"] == []
    created = payload["announcement"]
    assert created["targetIndustries"] == created["targetSizes"] == created["regions"] == []
    assert created["keywords"] == []
    assert created["budget"] is None
    assert created["opensAt"] is None
    assert created["closesAt"] is None
    assert created["sourceUrl"] is None


NOW = datetime.now(UTC)

# (input overrides, expected code, expected field)
CREATE_BAD_INPUT: list[tuple[dict[str, Any], str, str | None]] = [
    ({"title": ""}, "REQUIRED", "input.title"),
    ({"title": "   "}, "REQUIRED", "input.title"),
    ({"title": "x" * 201}, "TOO_LONG", "input.title"),
    ({"body": ""}, "REQUIRED", "input.body"),
    ({"body": "x" * 20_001}, "TOO_LONG", "input.body"),
    ({"organization": ""}, "REQUIRED", "input.organization"),
    ({"organization": "x" * 201}, "TOO_LONG", "input.organization"),
    ({"category": ""}, "REQUIRED", "input.category"),
    ({"category": "x" * 65}, "TOO_LONG", "input.category"),
    ({"targetIndustries": [f"i{n}" for n in range(51)]}, "OUT_OF_RANGE", "input.targetIndustries"),
    ({"targetIndustries": ["x" * 65]}, "TOO_LONG", "input.targetIndustries.0"),
    ({"regions": ["Seoul", " "]}, "REQUIRED", "input.regions.1"),
    ({"regions": ["x" * 65]}, "TOO_LONG", "input.regions.0"),
    ({"keywords": [f"k{n}" for n in range(51)]}, "OUT_OF_RANGE", "input.keywords"),
    ({"keywords": ["ok", "x" * 65]}, "TOO_LONG", "input.keywords.1"),
    ({"budget": "-0.01"}, "OUT_OF_RANGE", "input.budget"),
    ({"budget": "10.001"}, "INVALID_FORMAT", "input.budget"),
    ({"budget": "NaN"}, "INVALID_VALUE", "input.budget"),
    ({"budget": "1e20"}, "OUT_OF_RANGE", "input.budget"),
    (
        {"opensAt": NOW.isoformat(), "closesAt": (NOW - timedelta(days=1)).isoformat()},
        "OUT_OF_RANGE",
        "input.closesAt",
    ),
    ({"opensAt": NOW.isoformat(), "closesAt": NOW.isoformat()}, "OUT_OF_RANGE", "input.closesAt"),
    ({"opensAt": "2026-03-01T09:00:00"}, "INVALID_FORMAT", "input.opensAt"),
    ({"closesAt": "2026-03-01T09:00:00"}, "INVALID_FORMAT", "input.closesAt"),
    ({"sourceUrl": "ftp://example.com/x"}, "INVALID_FORMAT", "input.sourceUrl"),
    ({"sourceUrl": "javascript:alert(1)"}, "INVALID_FORMAT", "input.sourceUrl"),
    ({"sourceUrl": "https://" + "x" * 2048}, "TOO_LONG", "input.sourceUrl"),
    ({"businessId": "not an id!"}, "INVALID_FORMAT", "input.businessId"),
    ({"businessId": encode_id("User", 1)}, "NOT_FOUND", "input.businessId"),
    ({"businessId": encode_id("Business", 999_999)}, "NOT_FOUND", "input.businessId"),
]


@pytest.mark.parametrize(("overrides", "code", "field"), CREATE_BAD_INPUT)
async def test_create_rejects_bad_input_and_writes_nothing(
    app: Starlette,
    engine: AsyncEngine,
    client: httpx.AsyncClient,
    overrides: dict[str, Any],
    code: str,
    field: str | None,
) -> None:
    act_as(app, await _editor(engine))
    before = await snapshot(engine, *TABLES)
    payload, body = await mutate(
        client, CREATE_ANNOUNCEMENT, {"input": announcement_input(**overrides)}
    )
    assert "errors" not in body, body
    assert only_error(payload) == (code, field)
    assert await snapshot(engine, *TABLES) == before


# Rejected by GraphQL itself (wrong type or enum, missing field): a top-level error.
CREATE_BAD_TYPES: list[dict[str, Any]] = [
    {"targetSizes": ["HUGE"]},
    {"budget": "a lot"},
    {"opensAt": "yesterday"},
    {"title": None},
    {"keywords": [None]},
    # PostgreSQL cannot hold NUL: refused at the edge for every operation (issue 14).
    {"title": "bad\x00title"},
]


@pytest.mark.parametrize("overrides", CREATE_BAD_TYPES)
async def test_create_rejects_ill_typed_input_with_bad_user_input(
    app: Starlette, engine: AsyncEngine, client: httpx.AsyncClient, overrides: dict[str, Any]
) -> None:
    act_as(app, await _editor(engine))
    before = await snapshot(engine, *TABLES)
    body = await gql(client, CREATE_ANNOUNCEMENT, {"input": announcement_input(**overrides)})
    assert "data" not in body  # a request error: nothing ran (GraphQL over HTTP)
    assert error_codes(body) == ["BAD_USER_INPUT"]
    assert await snapshot(engine, *TABLES) == before


async def test_create_reports_every_invalid_field_at_once(
    app: Starlette, engine: AsyncEngine, client: httpx.AsyncClient
) -> None:
    act_as(app, await _editor(engine))
    data = announcement_input(title="", budget="-1", sourceUrl="nope")
    payload, _ = await mutate(client, CREATE_ANNOUNCEMENT, {"input": data})
    assert payload is not None
    assert payload["announcement"] is None
    assert {(e["field"], e["code"]) for e in payload["errors"]} == {
        ("input.title", "REQUIRED"),
        ("input.budget", "OUT_OF_RANGE"),
        ("input.sourceUrl", "INVALID_FORMAT"),
    }


# --- permissions ----------------------------------------------------------------------------

KINDS = [
    "anonymous",
    "member",
    "editor",
    "admin",
    "service with announcements:write",
    "service without announcements:write",
]
ALLOWED = {"editor", "admin", "service with announcements:write"}


@pytest.mark.parametrize("kind", KINDS)
async def test_only_editors_admins_and_scoped_services_may_write(
    app: Starlette, engine: AsyncEngine, client: httpx.AsyncClient, kind: str
) -> None:
    draft = await _draft(engine)
    [published] = await make_announcements(engine, 1)
    act_as(app, await _principal(engine, kind))
    calls: list[tuple[str, str, dict[str, Any]]] = [
        ("createAnnouncement", CREATE_ANNOUNCEMENT, {"input": announcement_input()}),
        (
            "updateAnnouncement",
            UPDATE_ANNOUNCEMENT,
            {"id": encode_id("Announcement", draft), "input": {"title": "New title"}},
        ),
        ("publishAnnouncement", PUBLISH_ANNOUNCEMENT, {"id": encode_id("Announcement", draft)}),
        ("closeAnnouncement", CLOSE_ANNOUNCEMENT, {"id": encode_id("Announcement", published)}),
    ]
    for name, document, variables in calls:
        before = await snapshot(engine, *TABLES)
        body = await gql(client, document, variables)
        if kind in ALLOWED:
            assert "errors" not in body, (name, body)
            assert body["data"][name]["errors"] == [], (name, body)
            assert await snapshot(engine, *TABLES) != before
        else:
            assert body["data"] is None, (name, body)
            assert error_codes(body) == ["FORBIDDEN"], (name, body)
            assert body["errors"][0]["path"] == [name]
            assert await snapshot(engine, *TABLES) == before


# --- update ---------------------------------------------------------------------------------


async def test_update_changes_only_given_fields_and_null_clears(
    app: Starlette, engine: AsyncEngine, client: httpx.AsyncClient
) -> None:
    draft = await _draft(
        engine, title="Old", budget=Decimal("100.00"), target_industries=["food"], keywords=["a"]
    )
    before = await _row(engine, draft)
    act_as(app, await _editor(engine))
    gid = encode_id("Announcement", draft)
    variables = {
        "id": gid,
        "input": {"title": " New ", "budget": None, "targetIndustries": None, "regions": ["Jeju"]},
    }
    payload, body = await mutate(client, UPDATE_ANNOUNCEMENT, variables)
    assert "errors" not in body, body
    assert payload is not None
    assert payload["errors"] == []
    updated = payload["announcement"]
    assert updated["title"] == "New"
    assert updated["budget"] is None
    assert updated["targetIndustries"] == []
    assert updated["regions"] == ["Jeju"]
    assert updated["keywords"] == ["a"]  # not given: unchanged
    assert updated["body"] == before.body
    after = await _row(engine, draft)
    assert after.updated_at > before.updated_at
    [audit] = await audit_rows(engine, "announcement.updated")
    assert audit.details == {"fields": ["budget", "regions", "target_industries", "title"]}
    assert audit.target_id == str(draft)


async def test_update_with_nothing_new_writes_nothing(
    app: Starlette, engine: AsyncEngine, client: httpx.AsyncClient
) -> None:
    draft = await _draft(engine, title="Same")
    act_as(app, await _editor(engine))
    before = await snapshot(engine, *TABLES)
    variables = {"id": encode_id("Announcement", draft), "input": {"title": "Same"}}
    payload, _ = await mutate(client, UPDATE_ANNOUNCEMENT, variables)
    assert payload is not None
    assert payload["errors"] == []
    assert payload["announcement"]["title"] == "Same"
    assert await snapshot(engine, *TABLES) == before


async def test_update_of_a_published_call_keeps_it_published(
    app: Starlette, engine: AsyncEngine, client: httpx.AsyncClient
) -> None:
    [published] = await make_announcements(engine, 1)
    act_as(app, await _editor(engine))
    later = (datetime.now(UTC) + timedelta(days=90)).isoformat()
    variables = {"id": encode_id("Announcement", published), "input": {"closesAt": later}}
    payload, _ = await mutate(client, UPDATE_ANNOUNCEMENT, variables)
    assert payload is not None
    assert payload["errors"] == []
    assert payload["announcement"]["status"] == "PUBLISHED"


async def _update_case(engine: AsyncEngine, case: str) -> tuple[str, dict[str, Any]]:
    """(id, input) for one named bad update; rows are made fresh per case."""
    now = datetime.now(UTC)
    if case == "malformed id":
        return "%%%", {"title": "x"}
    if case == "id of another type":
        return encode_id("Business", await make_business(engine)), {"title": "x"}
    if case == "unknown id":
        return encode_id("Announcement", 999_999), {"title": "x"}
    if case == "closed":
        [pk] = await make_announcements(engine, 1, status=AnnouncementStatus.CLOSED)
        return encode_id("Announcement", pk), {"title": "x"}
    if case == "closed by its closesAt":
        [pk] = await make_announcements(
            engine, 1, opens_at=now - timedelta(days=9), closes_at=now - timedelta(seconds=1)
        )
        return encode_id("Announcement", pk), {"title": "x"}
    draft = encode_id(
        "Announcement",
        await _draft(engine, opens_at=now + timedelta(days=1), closes_at=now + timedelta(days=5)),
    )
    [live] = await make_announcements(engine, 1)
    inputs: dict[str, tuple[str, dict[str, Any]]] = {
        "null title": (draft, {"title": None}),
        "empty body": (draft, {"body": ""}),
        "too many keywords": (draft, {"keywords": ["k"] * 51}),
        "negative budget": (draft, {"budget": "-5"}),
        "closesAt before the stored opensAt": (
            draft,
            {"closesAt": now.isoformat()},
        ),
        "opensAt after the stored closesAt": (
            draft,
            {"opensAt": (now + timedelta(days=6)).isoformat()},
        ),
        "closesAt in the past for a published call": (
            encode_id("Announcement", live),
            {"closesAt": (now - timedelta(minutes=1)).isoformat()},
        ),
        "unknown business": (draft, {"businessId": encode_id("Business", 999_999)}),
    }
    return inputs[case]


UPDATE_BAD_INPUT: list[tuple[str, str, str | None]] = [
    ("malformed id", "INVALID_FORMAT", "id"),
    ("id of another type", "NOT_FOUND", "id"),
    ("unknown id", "NOT_FOUND", "id"),
    ("closed", "INVALID_TRANSITION", None),
    ("closed by its closesAt", "INVALID_TRANSITION", None),
    ("null title", "REQUIRED", "input.title"),
    ("empty body", "REQUIRED", "input.body"),
    ("too many keywords", "OUT_OF_RANGE", "input.keywords"),
    ("negative budget", "OUT_OF_RANGE", "input.budget"),
    ("closesAt before the stored opensAt", "OUT_OF_RANGE", "input.closesAt"),
    ("opensAt after the stored closesAt", "OUT_OF_RANGE", "input.opensAt"),
    ("closesAt in the past for a published call", "OUT_OF_RANGE", "input.closesAt"),
    ("unknown business", "NOT_FOUND", "input.businessId"),
]


@pytest.mark.parametrize(("case", "code", "field"), UPDATE_BAD_INPUT)
async def test_update_rejects_bad_input_and_writes_nothing(
    app: Starlette,
    engine: AsyncEngine,
    client: httpx.AsyncClient,
    case: str,
    code: str,
    field: str | None,
) -> None:
    gid, data = await _update_case(engine, case)
    act_as(app, await _editor(engine))
    before = await snapshot(engine, *TABLES)
    payload, body = await mutate(client, UPDATE_ANNOUNCEMENT, {"id": gid, "input": data})
    assert "errors" not in body, body
    assert only_error(payload) == (code, field)
    assert await snapshot(engine, *TABLES) == before


# --- publish and close ----------------------------------------------------------------------


async def test_publish_sets_published_at_audits_and_emits_one_event(
    app: Starlette, engine: AsyncEngine, client: httpx.AsyncClient, redis_url: str
) -> None:
    draft = await _draft(engine)
    editor = await _editor(engine)
    act_as(app, editor)
    start = datetime.now(UTC)
    async with EventListener(redis_url, ANNOUNCEMENT_PUBLISHED) as events:
        payload, body = await mutate(
            client, PUBLISH_ANNOUNCEMENT, {"id": encode_id("Announcement", draft)}
        )
        assert "errors" not in body, body
        assert payload is not None
        assert payload["errors"] == []
        assert await events.drain() == [{"id": draft}]
    published = payload["announcement"]
    assert published["status"] == "PUBLISHED"
    published_at = datetime.fromisoformat(published["publishedAt"])
    assert start <= published_at <= datetime.now(UTC)
    row = await _row(engine, draft)
    assert row.status == AnnouncementStatus.PUBLISHED
    assert row.published_at == published_at
    [audit] = await audit_rows(engine, "announcement.published")
    assert (audit.actor_user_id, audit.target_id) == (editor.user_id, str(draft))

    # Now public.
    act_as(app, Principal())
    query = "query($id: ID!) { node(id: $id) { ... on Announcement { status } } }"
    body = await gql(client, query, {"id": published["id"]})
    assert body["data"]["node"] == {"status": "PUBLISHED"}


async def test_close_closes_a_published_call_and_audits(
    app: Starlette, engine: AsyncEngine, client: httpx.AsyncClient
) -> None:
    [live] = await make_announcements(engine, 1)
    act_as(app, await _editor(engine))
    payload, _ = await mutate(client, CLOSE_ANNOUNCEMENT, {"id": encode_id("Announcement", live)})
    assert payload is not None
    assert payload["errors"] == []
    assert payload["announcement"]["status"] == "CLOSED"
    assert (await _row(engine, live)).status == AnnouncementStatus.CLOSED
    assert len(await audit_rows(engine, "announcement.closed")) == 1


async def _transition_case(engine: AsyncEngine, case: str) -> str:
    now = datetime.now(UTC)
    if case == "malformed id":
        return "Zm9v"  # base64 of "foo": no type/pk separator
    if case == "unknown id":
        return encode_id("Announcement", 424_242)
    if case == "draft":
        return encode_id("Announcement", await _draft(engine))
    if case == "draft past its closesAt":
        pk = await _draft(
            engine, opens_at=now - timedelta(days=9), closes_at=now - timedelta(hours=1)
        )
        return encode_id("Announcement", pk)
    if case == "published":
        [pk] = await make_announcements(engine, 1)
        return encode_id("Announcement", pk)
    if case == "published past its closesAt":
        [pk] = await make_announcements(
            engine, 1, opens_at=now - timedelta(days=9), closes_at=now - timedelta(hours=1)
        )
        return encode_id("Announcement", pk)
    assert case == "closed"
    [pk] = await make_announcements(engine, 1, status=AnnouncementStatus.CLOSED)
    return encode_id("Announcement", pk)


TRANSITION_FAILURES: list[tuple[str, str, str, str | None]] = [
    ("publish", "malformed id", "INVALID_FORMAT", "id"),
    ("publish", "unknown id", "NOT_FOUND", "id"),
    ("publish", "published", "INVALID_TRANSITION", None),
    ("publish", "published past its closesAt", "INVALID_TRANSITION", None),
    ("publish", "closed", "INVALID_TRANSITION", None),
    ("publish", "draft past its closesAt", "INVALID_VALUE", None),
    ("close", "malformed id", "INVALID_FORMAT", "id"),
    ("close", "unknown id", "NOT_FOUND", "id"),
    ("close", "draft", "INVALID_TRANSITION", None),
    ("close", "closed", "INVALID_TRANSITION", None),
    ("close", "published past its closesAt", "INVALID_TRANSITION", None),
]


@pytest.mark.parametrize(("action", "case", "code", "field"), TRANSITION_FAILURES)
async def test_illegal_transitions_are_rejected_without_writes_or_events(
    app: Starlette,
    engine: AsyncEngine,
    client: httpx.AsyncClient,
    redis_url: str,
    action: str,
    case: str,
    code: str,
    field: str | None,
) -> None:
    gid = await _transition_case(engine, case)
    act_as(app, await _editor(engine))
    document = PUBLISH_ANNOUNCEMENT if action == "publish" else CLOSE_ANNOUNCEMENT
    before = await snapshot(engine, *TABLES)
    async with EventListener(redis_url, ANNOUNCEMENT_PUBLISHED) as events:
        payload, body = await mutate(client, document, {"id": gid})
        assert "errors" not in body, body
        assert only_error(payload) == (code, field)
        assert await events.drain() == []
    assert await snapshot(engine, *TABLES) == before


async def test_ten_concurrent_publishes_apply_once(
    app: Starlette, engine: AsyncEngine, client: httpx.AsyncClient, redis_url: str
) -> None:
    draft = await _draft(engine)
    act_as(app, await _editor(engine))
    variables = {"id": encode_id("Announcement", draft)}
    async with EventListener(redis_url, ANNOUNCEMENT_PUBLISHED) as events:
        results = await asyncio.gather(
            *(mutate(client, PUBLISH_ANNOUNCEMENT, variables) for _ in range(10))
        )
        assert await events.drain() == [{"id": draft}]
    payloads = [payload for payload, body in results if "errors" not in body]
    assert len(payloads) == 10  # no 500, no top-level error
    ok = [p for p in payloads if p is not None and not p["errors"]]
    failed = [only_error(p) for p in payloads if p is not None and p["errors"]]
    assert len(ok) == 1
    assert failed == [("INVALID_TRANSITION", None)] * 9
    assert len(await audit_rows(engine, "announcement.published")) == 1


async def test_concurrent_publish_and_close_serialise(
    app: Starlette, engine: AsyncEngine, client: httpx.AsyncClient
) -> None:
    """Close waits for publish's lock or fails cleanly; never a half-applied state."""
    draft = await _draft(engine)
    act_as(app, await _editor(engine))
    variables = {"id": encode_id("Announcement", draft)}
    results = await asyncio.gather(
        mutate(client, PUBLISH_ANNOUNCEMENT, variables),
        mutate(client, CLOSE_ANNOUNCEMENT, variables),
    )
    (published, _), (closed, _) = results
    assert published is not None
    assert published["errors"] == []
    assert closed is not None
    row = await _row(engine, draft)
    if closed["errors"]:
        assert only_error(closed) == ("INVALID_TRANSITION", None)
        assert row.status == AnnouncementStatus.PUBLISHED
    else:
        assert row.status == AnnouncementStatus.CLOSED
    assert row.published_at is not None


async def test_a_later_field_of_the_same_request_sees_the_published_state(
    app: Starlette, engine: AsyncEngine, client: httpx.AsyncClient
) -> None:
    """DataLoader caches are primed after the write (issue 5)."""
    draft = await _draft(engine)
    act_as(app, await _editor(engine))
    gid = encode_id("Announcement", draft)
    document = """
    mutation($id: ID!) {
      before: updateAnnouncement(id: $id, input: {title: "Renamed"}) {
        announcement { title status } }
      publish: publishAnnouncement(id: $id) { announcement { status } }
      after: updateAnnouncement(id: $id, input: {}) { announcement { title status } }
    }
    """
    body = await gql(client, document, {"id": gid})
    assert "errors" not in body, body
    assert body["data"]["before"]["announcement"] == {"title": "Renamed", "status": "DRAFT"}
    assert body["data"]["publish"]["announcement"] == {"status": "PUBLISHED"}
    assert body["data"]["after"]["announcement"] == {"title": "Renamed", "status": "PUBLISHED"}
