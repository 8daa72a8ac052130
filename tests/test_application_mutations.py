"""Application mutations: who may apply, open calls, eligibility, once per pair under races,
decisions and successRate, audit (R2, R7, R9, R11, R12, R13; issue 5)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.applications import Starlette

from graphql_api.core.auth.principal import Principal
from graphql_api.core.db.enums import AnnouncementStatus, ApplicationStatus, BusinessSize, Role
from graphql_api.core.db.models import Application
from graphql_api.core.ids import encode_id
from tests.conftest import act_as
from tests.factories import make_announcements
from tests.factories_businesses import make_applications, make_business, make_user
from tests.factories_mutations_ab import (
    APPLY,
    DECIDE,
    audit_rows,
    count_rows,
    make_service,
    mutate,
    only_error,
    snapshot,
)
from tests.graphql_client import error_codes, gql

TABLES = ("applications", "audit_logs")


async def _open_call(engine: AsyncEngine, **overrides: Any) -> int:
    """A PUBLISHED call, open since yesterday for 30 days, open to anyone unless overridden."""
    now = datetime.now(UTC)
    values: dict[str, Any] = {
        "regions": [],
        "opens_at": now - timedelta(days=1),
        "closes_at": now + timedelta(days=30),
    }
    values.update(overrides)
    [pk] = await make_announcements(engine, 1, **values)
    return pk


async def _owned(engine: AsyncEngine, **values: Any) -> tuple[Principal, int]:
    owner = await make_user(engine)
    business = await make_business(engine, owner_id=owner.user_id, **values)
    return owner, business


def _vars(business: int, call: int) -> dict[str, str]:
    return {
        "businessId": encode_id("Business", business),
        "announcementId": encode_id("Announcement", call),
    }


async def _application(engine: AsyncEngine, pk: int) -> Any:
    async with engine.connect() as conn:
        return (await conn.execute(select(Application.__table__).where(Application.id == pk))).one()


# --- apply --------------------------------------------------------------------------------


async def test_owner_applies_and_the_payload_shows_the_new_state(
    app: Starlette, engine: AsyncEngine, client: httpx.AsyncClient
) -> None:
    owner, business = await _owned(engine)
    call = await _open_call(engine)
    act_as(app, owner)
    start = datetime.now(UTC)
    payload, body = await mutate(client, APPLY, _vars(business, call))
    assert "errors" not in body, body
    assert payload is not None
    assert payload["errors"] == []
    application = payload["application"]
    assert application["status"] == "SUBMITTED"
    assert application["decidedAt"] is None
    assert start <= datetime.fromisoformat(application["submittedAt"]) <= datetime.now(UTC)
    assert application["business"] == {"id": encode_id("Business", business), "successRate": None}
    assert application["announcement"] == {
        "id": encode_id("Announcement", call),
        "applicationCount": 1,
    }
    [audit] = await audit_rows(engine, "application.submitted")
    assert application["id"] == encode_id("Application", int(audit.target_id))
    assert audit.actor_user_id == owner.user_id
    assert audit.details == {"business_id": business, "announcement_id": call}


@pytest.mark.parametrize("role", [Role.EDITOR, Role.ADMIN])
async def test_staff_may_apply_with_any_business(
    app: Starlette, engine: AsyncEngine, client: httpx.AsyncClient, role: Role
) -> None:
    _, business = await _owned(engine)
    call = await _open_call(engine)
    act_as(app, await make_user(engine, role))
    payload, _ = await mutate(client, APPLY, _vars(business, call))
    assert payload is not None
    assert payload["errors"] == []
    assert await count_rows(engine, "applications") == 1


@pytest.mark.parametrize("kind", ["anonymous", "service", "service with announcements:write"])
async def test_anonymous_callers_and_services_may_not_apply(
    app: Starlette, engine: AsyncEngine, client: httpx.AsyncClient, kind: str
) -> None:
    _, business = await _owned(engine)
    call = await _open_call(engine)
    if kind == "anonymous":
        principal = Principal()
    elif kind == "service":
        principal = await make_service(engine)
    else:
        principal = await make_service(engine, "announcements:write")
    act_as(app, principal)
    before = await snapshot(engine, *TABLES)
    body = await gql(client, APPLY, _vars(business, call))
    assert body["data"] is None
    assert error_codes(body) == ["FORBIDDEN"]
    assert body["errors"][0]["path"] == ["applyToAnnouncement"]
    assert await snapshot(engine, *TABLES) == before


async def test_a_member_cannot_apply_with_another_members_business(
    app: Starlette, engine: AsyncEngine, client: httpx.AsyncClient
) -> None:
    _, business = await _owned(engine, name="Someone Else Co")
    call = await _open_call(engine)
    act_as(app, await make_user(engine))
    before = await snapshot(engine, *TABLES)
    payload, body = await mutate(client, APPLY, _vars(business, call))
    assert only_error(payload) == ("NOT_FOUND", "businessId")
    assert "Someone Else Co" not in str(body)
    _, missing = await mutate(client, APPLY, _vars(999_999, call))
    assert missing == body  # indistinguishable from a business that does not exist
    assert await snapshot(engine, *TABLES) == before


async def _call_case(engine: AsyncEngine, case: str) -> int:
    now = datetime.now(UTC)
    cases: dict[str, dict[str, Any]] = {
        "closed": {"status": AnnouncementStatus.CLOSED},
        "past its closesAt": {
            "opens_at": now - timedelta(days=9),
            "closes_at": now - timedelta(seconds=1),
        },
        "not yet open": {"opens_at": now + timedelta(days=1)},
    }
    if case == "draft":
        [pk] = await make_announcements(
            engine, 1, status=AnnouncementStatus.DRAFT, regions=[], opens_at=None
        )
        return pk
    return await _open_call(engine, **cases[case])


@pytest.mark.parametrize(
    ("case", "role", "code", "field"),
    [
        ("closed", Role.MEMBER, "NOT_OPEN", "announcementId"),
        ("past its closesAt", Role.MEMBER, "NOT_OPEN", "announcementId"),
        ("not yet open", Role.MEMBER, "NOT_OPEN", "announcementId"),
        # A member cannot see drafts at all; staff can, and it is simply not open.
        ("draft", Role.MEMBER, "NOT_FOUND", "announcementId"),
        ("draft", Role.EDITOR, "NOT_OPEN", "announcementId"),
    ],
)
async def test_only_published_open_calls_take_applications(
    app: Starlette,
    engine: AsyncEngine,
    client: httpx.AsyncClient,
    case: str,
    role: Role,
    code: str,
    field: str,
) -> None:
    owner, business = await _owned(engine)
    call = await _call_case(engine, case)
    act_as(app, owner if role is Role.MEMBER else await make_user(engine, role))
    before = await snapshot(engine, *TABLES)
    payload, body = await mutate(client, APPLY, _vars(business, call))
    assert "errors" not in body, body
    assert only_error(payload) == (code, field)
    assert await snapshot(engine, *TABLES) == before


@pytest.mark.parametrize(
    ("targets", "eligible", "unmet"),
    [
        ({}, True, None),
        ({"target_industries": ["software", "food"]}, True, None),
        ({"target_sizes": ["SMALL"]}, True, None),
        ({"regions": ["Seoul"]}, True, None),
        (
            {"target_industries": ["software"], "target_sizes": ["SMALL"], "regions": ["Seoul"]},
            True,
            None,
        ),
        ({"target_industries": ["food"]}, False, "industry"),
        ({"target_sizes": ["LARGE", "MEDIUM"]}, False, "size"),
        ({"regions": ["Busan"]}, False, "region"),
        (
            {"target_industries": ["food"], "target_sizes": ["LARGE"], "regions": ["Busan"]},
            False,
            "industry, size, region",
        ),
    ],
)
async def test_the_calls_targets_must_admit_the_business(
    app: Starlette,
    engine: AsyncEngine,
    client: httpx.AsyncClient,
    targets: dict[str, Any],
    eligible: bool,
    unmet: str | None,
) -> None:
    owner, business = await _owned(
        engine, industry="software", size=BusinessSize.SMALL, region="Seoul"
    )
    call = await _open_call(engine, **targets)
    act_as(app, owner)
    before = await snapshot(engine, *TABLES)
    payload, _ = await mutate(client, APPLY, _vars(business, call))
    assert payload is not None
    if eligible:
        assert payload["errors"] == []
        return
    assert only_error(payload) == ("NOT_ELIGIBLE", "businessId")
    assert payload["errors"][0]["message"].endswith(f": {unmet}.")
    assert await snapshot(engine, *TABLES) == before


async def test_a_business_applies_once_per_call(
    app: Starlette, engine: AsyncEngine, client: httpx.AsyncClient
) -> None:
    owner, business = await _owned(engine)
    call = await _open_call(engine)
    act_as(app, owner)
    first, _ = await mutate(client, APPLY, _vars(business, call))
    assert first is not None
    assert first["errors"] == []
    before = await snapshot(engine, *TABLES)
    again, _ = await mutate(client, APPLY, _vars(business, call))
    assert only_error(again) == ("ALREADY_APPLIED", "announcementId")
    assert await snapshot(engine, *TABLES) == before


async def test_ten_concurrent_applications_of_one_pair_make_one(
    app: Starlette, engine: AsyncEngine, client: httpx.AsyncClient
) -> None:
    owner, business = await _owned(engine)
    call = await _open_call(engine)
    act_as(app, owner)
    results = await asyncio.gather(
        *(mutate(client, APPLY, _vars(business, call)) for _ in range(10))
    )
    assert all("errors" not in body for _, body in results), results  # no 500
    payloads = [p for p, _ in results]
    assert sum(1 for p in payloads if p is not None and not p["errors"]) == 1
    failed = [only_error(p) for p in payloads if p is not None and p["errors"]]
    assert failed == [("ALREADY_APPLIED", "announcementId")] * 9
    assert await count_rows(engine, "applications") == 1
    assert len(await audit_rows(engine, "application.submitted")) == 1


async def test_an_application_racing_a_close_is_either_before_it_or_refused(
    app: Starlette, engine: AsyncEngine, client: httpx.AsyncClient
) -> None:
    _, business = await _owned(engine)
    call = await _open_call(engine)
    act_as(app, await make_user(engine, Role.EDITOR))  # staff may both apply and close
    close = """mutation($id: ID!) { closeAnnouncement(id: $id) { errors { code } } }"""
    (applied, _), closed = await asyncio.gather(
        mutate(client, APPLY, _vars(business, call)),
        gql(client, close, {"id": encode_id("Announcement", call)}),
    )
    assert closed["data"]["closeAnnouncement"]["errors"] == []
    assert applied is not None
    if applied["errors"]:
        assert only_error(applied) == ("NOT_OPEN", "announcementId")
        assert await count_rows(engine, "applications") == 0
    else:
        assert await count_rows(engine, "applications") == 1


APPLY_BAD_INPUT: list[tuple[str, str, str, str]] = [
    # (businessId kind, announcementId kind, code, field)
    ("malformed", "ok", "INVALID_FORMAT", "businessId"),
    ("ok", "malformed", "INVALID_FORMAT", "announcementId"),
    ("wrong type", "ok", "NOT_FOUND", "businessId"),
    ("ok", "wrong type", "NOT_FOUND", "announcementId"),
    ("unknown", "ok", "NOT_FOUND", "businessId"),
    ("ok", "unknown", "NOT_FOUND", "announcementId"),
    ("empty", "ok", "INVALID_FORMAT", "businessId"),
]


@pytest.mark.parametrize(("business_kind", "call_kind", "code", "field"), APPLY_BAD_INPUT)
async def test_apply_rejects_bad_ids_and_writes_nothing(
    app: Starlette,
    engine: AsyncEngine,
    client: httpx.AsyncClient,
    business_kind: str,
    call_kind: str,
    code: str,
    field: str,
) -> None:
    owner, business = await _owned(engine)
    call = await _open_call(engine)

    def gid(kind: str, type_name: str, pk: int) -> str:
        return {
            "ok": encode_id(type_name, pk),
            "malformed": "***",
            "empty": "",
            "wrong type": encode_id("User", pk),
            "unknown": encode_id(type_name, 888_888),
        }[kind]

    act_as(app, owner)
    before = await snapshot(engine, *TABLES)
    variables = {
        "businessId": gid(business_kind, "Business", business),
        "announcementId": gid(call_kind, "Announcement", call),
    }
    payload, body = await mutate(client, APPLY, variables)
    assert "errors" not in body, body
    assert only_error(payload) == (code, field)
    assert await snapshot(engine, *TABLES) == before


async def test_both_bad_ids_are_reported_together(
    app: Starlette, engine: AsyncEngine, client: httpx.AsyncClient
) -> None:
    act_as(app, await make_user(engine))
    payload, _ = await mutate(client, APPLY, _vars(777_777, 777_777))
    assert payload is not None
    assert {(e["code"], e["field"]) for e in payload["errors"]} == {
        ("NOT_FOUND", "businessId"),
        ("NOT_FOUND", "announcementId"),
    }


# --- decide ---------------------------------------------------------------------------------


async def _submitted(engine: AsyncEngine, count: int = 1) -> tuple[int, list[int]]:
    _, business = await _owned(engine)
    calls = [await _open_call(engine) for _ in range(count)]
    return business, await make_applications(engine, business, calls)


@pytest.mark.parametrize("role", [Role.EDITOR, Role.ADMIN])
async def test_staff_decide_and_success_rate_follows(
    app: Starlette, engine: AsyncEngine, client: httpx.AsyncClient, role: Role
) -> None:
    business, [first, second] = await _submitted(engine, 2)
    staff = await make_user(engine, role)
    act_as(app, staff)
    start = datetime.now(UTC)
    payload, body = await mutate(
        client, DECIDE, {"id": encode_id("Application", first), "status": "APPROVED"}
    )
    assert "errors" not in body, body
    assert payload is not None
    assert payload["errors"] == []
    decided = payload["application"]
    assert decided["status"] == "APPROVED"
    assert start <= datetime.fromisoformat(decided["decidedAt"]) <= datetime.now(UTC)
    assert decided["business"]["successRate"] == 1.0
    row = await _application(engine, first)
    assert row.decided_by_id == staff.user_id
    assert row.status == ApplicationStatus.APPROVED

    payload, _ = await mutate(
        client, DECIDE, {"id": encode_id("Application", second), "status": "REJECTED"}
    )
    assert payload is not None
    assert payload["application"]["business"]["successRate"] == 0.5

    audits = await audit_rows(engine, "application.decided")
    assert [a.details for a in audits] == [
        {"status": "APPROVED", "business_id": business},
        {"status": "REJECTED", "business_id": business},
    ]
    assert {a.actor_user_id for a in audits} == {staff.user_id}


@pytest.mark.parametrize(
    "kind",
    ["anonymous", "member", "owner", "service with announcements:write"],
)
async def test_only_staff_decide(
    app: Starlette, engine: AsyncEngine, client: httpx.AsyncClient, kind: str
) -> None:
    owner = await make_user(engine)
    business = await make_business(engine, owner_id=owner.user_id)
    [application] = await make_applications(engine, business, [await _open_call(engine)])
    principals = {
        "anonymous": Principal(),
        "member": await make_user(engine),
        "owner": owner,
        "service with announcements:write": await make_service(engine, "announcements:write"),
    }
    act_as(app, principals[kind])
    before = await snapshot(engine, *TABLES)
    body = await gql(
        client, DECIDE, {"id": encode_id("Application", application), "status": "APPROVED"}
    )
    assert body["data"] is None
    assert error_codes(body) == ["FORBIDDEN"]
    assert body["errors"][0]["path"] == ["decideApplication"]
    assert await snapshot(engine, *TABLES) == before


async def _decide_case(engine: AsyncEngine, case: str) -> str:
    if case == "malformed id":
        return "a"
    if case == "id of another type":
        return encode_id("Business", 1)
    if case == "unknown id":
        return encode_id("Application", 123_456)
    _, business = await _owned(engine)
    status = {
        "approved": ApplicationStatus.APPROVED,
        "rejected": ApplicationStatus.REJECTED,
        "withdrawn": ApplicationStatus.WITHDRAWN,
        "submitted": ApplicationStatus.SUBMITTED,
    }[case]
    [pk] = await make_applications(engine, business, [await _open_call(engine)], [status])
    return encode_id("Application", pk)


DECIDE_BAD_INPUT: list[tuple[str, str, str, str | None]] = [
    # (application, requested status, code, field)
    ("malformed id", "APPROVED", "INVALID_FORMAT", "id"),
    ("id of another type", "APPROVED", "NOT_FOUND", "id"),
    ("unknown id", "REJECTED", "NOT_FOUND", "id"),
    ("submitted", "SUBMITTED", "INVALID_VALUE", "status"),
    ("submitted", "WITHDRAWN", "INVALID_VALUE", "status"),
    ("approved", "REJECTED", "INVALID_TRANSITION", None),
    ("approved", "APPROVED", "INVALID_TRANSITION", None),
    ("rejected", "APPROVED", "INVALID_TRANSITION", None),
    ("withdrawn", "APPROVED", "INVALID_TRANSITION", None),
]


@pytest.mark.parametrize(("case", "status", "code", "field"), DECIDE_BAD_INPUT)
async def test_decide_rejects_bad_input_and_writes_nothing(
    app: Starlette,
    engine: AsyncEngine,
    client: httpx.AsyncClient,
    case: str,
    status: str,
    code: str,
    field: str | None,
) -> None:
    gid = await _decide_case(engine, case)
    act_as(app, await make_user(engine, Role.EDITOR))
    before = await snapshot(engine, *TABLES)
    payload, body = await mutate(client, DECIDE, {"id": gid, "status": status})
    assert "errors" not in body, body
    assert only_error(payload) == (code, field)
    assert await snapshot(engine, *TABLES) == before


async def test_decide_with_an_unknown_status_is_bad_user_input(
    app: Starlette, engine: AsyncEngine, client: httpx.AsyncClient
) -> None:
    _, [application] = await _submitted(engine)
    act_as(app, await make_user(engine, Role.EDITOR))
    before = await snapshot(engine, *TABLES)
    body = await gql(
        client, DECIDE, {"id": encode_id("Application", application), "status": "MAYBE"}
    )
    assert "data" not in body  # a request error: nothing ran (GraphQL over HTTP)
    assert error_codes(body) == ["BAD_USER_INPUT"]
    assert await snapshot(engine, *TABLES) == before


async def test_concurrent_decisions_apply_once(
    app: Starlette, engine: AsyncEngine, client: httpx.AsyncClient
) -> None:
    _, [application] = await _submitted(engine)
    act_as(app, await make_user(engine, Role.EDITOR))
    gid = encode_id("Application", application)
    results = await asyncio.gather(
        *(
            mutate(client, DECIDE, {"id": gid, "status": "APPROVED" if i % 2 else "REJECTED"})
            for i in range(10)
        )
    )
    assert all("errors" not in body for _, body in results), results
    payloads = [p for p, _ in results]
    assert sum(1 for p in payloads if p is not None and not p["errors"]) == 1
    failed = [only_error(p) for p in payloads if p is not None and p["errors"]]
    assert failed == [("INVALID_TRANSITION", None)] * 9
    assert len(await audit_rows(engine, "application.decided")) == 1


async def test_later_fields_of_one_request_see_each_decision(
    app: Starlette, engine: AsyncEngine, client: httpx.AsyncClient
) -> None:
    """successRate and applicationCount caches are cleared after each write (issue 5)."""
    _, [first, second] = await _submitted(engine, 2)
    act_as(app, await make_user(engine, Role.EDITOR))
    business_fields = "successRate applications { totalCount edges { node { status } } }"
    document = f"""
    mutation($a: ID!, $b: ID!) {{
      a: decideApplication(id: $a, status: APPROVED) {{
        application {{ business {{ {business_fields} }} }} }}
      b: decideApplication(id: $b, status: REJECTED) {{
        application {{ business {{ {business_fields} }} }} }}
    }}
    """
    body = await gql(
        client,
        document,
        {"a": encode_id("Application", first), "b": encode_id("Application", second)},
    )
    assert "errors" not in body, body
    a = body["data"]["a"]["application"]["business"]
    b = body["data"]["b"]["application"]["business"]
    assert a["successRate"] == 1.0
    assert b["successRate"] == 0.5
    assert sorted(e["node"]["status"] for e in a["applications"]["edges"]) == [
        "APPROVED",
        "SUBMITTED",
    ]
    assert sorted(e["node"]["status"] for e in b["applications"]["edges"]) == [
        "APPROVED",
        "REJECTED",
    ]
