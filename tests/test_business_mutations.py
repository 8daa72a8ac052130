"""Business mutations: ownership, validation, registration-number uniqueness under races, audit
(R2, R7, R9, R11, R12, R13; issue 5)."""

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
from graphql_api.core.db.enums import BusinessSize, Role
from graphql_api.core.db.models import Business
from graphql_api.core.ids import encode_id
from graphql_api.services.businesses import normalize_registration_number
from tests.conftest import act_as
from tests.factories_businesses import make_business, make_user
from tests.factories_mutations_ab import (
    CREATE_BUSINESS,
    UPDATE_BUSINESS,
    audit_rows,
    business_input,
    count_rows,
    make_service,
    mutate,
    only_error,
    registration_number,
    snapshot,
)
from tests.graphql_client import error_codes, gql

TABLES = ("businesses", "audit_logs")


async def _row(engine: AsyncEngine, pk: int) -> Any:
    async with engine.connect() as conn:
        return (await conn.execute(select(Business.__table__).where(Business.id == pk))).one()


def test_registration_numbers_are_normalised_with_dashes() -> None:
    assert normalize_registration_number("1234567890") == "123-45-67890"
    assert normalize_registration_number(" 123-45-67890 ") == "123-45-67890"
    assert normalize_registration_number("123-4567890") == "123-45-67890"
    for bad in (
        "123-45-6789",
        "12345678901",
        "abc-de-fghij",
        "123 45 67890",
        "\uff11\uff12\uff13\uff14\uff15\uff16\uff17\uff18\uff19\uff10",  # full-width digits
    ):
        assert normalize_registration_number(bad) is None, bad


# --- create -------------------------------------------------------------------------------


async def test_member_creates_a_business_they_own(
    app: Starlette, engine: AsyncEngine, client: httpx.AsyncClient
) -> None:
    member = await make_user(engine)
    act_as(app, member)
    data = business_input(name="  Hanbit  ", registrationNumber="2208162517")
    payload, body = await mutate(client, CREATE_BUSINESS, {"input": data})
    assert "errors" not in body, body
    assert payload is not None
    assert payload["errors"] == []
    business = payload["business"]
    assert business["name"] == "Hanbit"
    assert business["registrationNumber"] == "220-81-62517"  # the owner sees it, normalised
    assert business["annualRevenue"] == "1234567.89"
    assert business["size"] == "SMALL"
    assert business["foundedOn"] == "2015-03-02"
    assert business["owner"] == {"id": encode_id("User", member.user_id)}

    [audit] = await audit_rows(engine, "business.created")
    assert business["id"] == encode_id("Business", int(audit.target_id))
    assert audit.actor_user_id == member.user_id
    assert audit.details == {"owner_id": member.user_id}
    assert "220" not in str(audit.details)  # never the registration number
    row = await _row(engine, int(audit.target_id))
    assert row.registration_number == "220-81-62517"
    assert row.owner_id == member.user_id


async def test_staff_may_register_a_business_for_another_user(
    app: Starlette, engine: AsyncEngine, client: httpx.AsyncClient
) -> None:
    member = await make_user(engine)
    for role in (Role.EDITOR, Role.ADMIN):
        act_as(app, await make_user(engine, role))
        data = business_input(ownerId=encode_id("User", member.user_id))
        payload, _ = await mutate(client, CREATE_BUSINESS, {"input": data})
        assert payload is not None
        assert payload["errors"] == []
        assert payload["business"]["owner"] == {"id": encode_id("User", member.user_id)}

    # Staff creating without ownerId own it themselves.
    editor = await make_user(engine, Role.EDITOR)
    act_as(app, editor)
    payload, _ = await mutate(client, CREATE_BUSINESS, {"input": business_input()})
    assert payload is not None
    assert payload["business"]["owner"] == {"id": encode_id("User", editor.user_id)}


async def test_a_member_may_name_only_themself_as_owner(
    app: Starlette, engine: AsyncEngine, client: httpx.AsyncClient
) -> None:
    member = await make_user(engine)
    other = await make_user(engine)
    act_as(app, member)
    before = await snapshot(engine, *TABLES)
    data = business_input(ownerId=encode_id("User", other.user_id))
    payload, _ = await mutate(client, CREATE_BUSINESS, {"input": data})
    assert only_error(payload) == ("INVALID_VALUE", "input.ownerId")
    assert await snapshot(engine, *TABLES) == before

    data = business_input(ownerId=encode_id("User", member.user_id))
    payload, _ = await mutate(client, CREATE_BUSINESS, {"input": data})
    assert payload is not None
    assert payload["errors"] == []


TODAY = datetime.now(UTC).date()

# (input overrides, expected code, expected field)
CREATE_BAD_INPUT: list[tuple[dict[str, Any], str, str | None]] = [
    ({"name": ""}, "REQUIRED", "input.name"),
    ({"name": "x" * 201}, "TOO_LONG", "input.name"),
    ({"registrationNumber": ""}, "REQUIRED", "input.registrationNumber"),
    ({"registrationNumber": "12-345-67890"}, "INVALID_FORMAT", "input.registrationNumber"),
    ({"registrationNumber": "123456789"}, "INVALID_FORMAT", "input.registrationNumber"),
    ({"registrationNumber": "12345678901"}, "INVALID_FORMAT", "input.registrationNumber"),
    ({"registrationNumber": "abc-de-fghij"}, "INVALID_FORMAT", "input.registrationNumber"),
    ({"registrationNumber": "1" * 33}, "TOO_LONG", "input.registrationNumber"),
    ({"industry": ""}, "REQUIRED", "input.industry"),
    ({"industry": "x" * 65}, "TOO_LONG", "input.industry"),
    ({"region": " "}, "REQUIRED", "input.region"),
    ({"region": "x" * 65}, "TOO_LONG", "input.region"),
    ({"employeeCount": -1}, "OUT_OF_RANGE", "input.employeeCount"),
    ({"employeeCount": 10_000_001}, "OUT_OF_RANGE", "input.employeeCount"),
    ({"annualRevenue": "-0.01"}, "OUT_OF_RANGE", "input.annualRevenue"),
    ({"annualRevenue": "1.001"}, "INVALID_FORMAT", "input.annualRevenue"),
    ({"annualRevenue": "1e17"}, "OUT_OF_RANGE", "input.annualRevenue"),
    ({"annualRevenue": "Infinity"}, "INVALID_VALUE", "input.annualRevenue"),
    (
        {"foundedOn": (TODAY + timedelta(days=2)).isoformat()},
        "OUT_OF_RANGE",
        "input.foundedOn",
    ),
    ({"ownerId": "!!"}, "INVALID_FORMAT", "input.ownerId"),
    ({"ownerId": encode_id("Business", 1)}, "NOT_FOUND", "input.ownerId"),
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
    act_as(app, await make_user(engine))
    before = await snapshot(engine, *TABLES)
    payload, body = await mutate(client, CREATE_BUSINESS, {"input": business_input(**overrides)})
    assert "errors" not in body, body
    assert only_error(payload) == (code, field)
    assert await snapshot(engine, *TABLES) == before


@pytest.mark.parametrize(
    "overrides",
    [
        {"size": "HUGE"},
        {"size": None},
        {"employeeCount": 2**31},
        {"foundedOn": "someday"},
        # PostgreSQL cannot hold NUL: refused at the edge for every operation (issue 14).
        {"name": "nul\x00name"},
    ],
)
async def test_create_rejects_ill_typed_input_with_bad_user_input(
    app: Starlette, engine: AsyncEngine, client: httpx.AsyncClient, overrides: dict[str, Any]
) -> None:
    act_as(app, await make_user(engine))
    before = await snapshot(engine, *TABLES)
    body = await gql(client, CREATE_BUSINESS, {"input": business_input(**overrides)})
    assert "data" not in body  # a request error: nothing ran (GraphQL over HTTP)
    assert error_codes(body) == ["BAD_USER_INPUT"]
    assert await snapshot(engine, *TABLES) == before


async def test_staff_naming_an_unknown_owner_gets_not_found(
    app: Starlette, engine: AsyncEngine, client: httpx.AsyncClient
) -> None:
    act_as(app, await make_user(engine, Role.ADMIN))
    before = await snapshot(engine, *TABLES)
    data = business_input(ownerId=encode_id("User", 987_654))
    payload, _ = await mutate(client, CREATE_BUSINESS, {"input": data})
    assert only_error(payload) == ("NOT_FOUND", "input.ownerId")
    assert await snapshot(engine, *TABLES) == before


@pytest.mark.parametrize("spelling", ["123-45-67890", "1234567890", "123-4567890"])
async def test_a_taken_registration_number_is_duplicate_in_any_spelling(
    app: Starlette, engine: AsyncEngine, client: httpx.AsyncClient, spelling: str
) -> None:
    await make_business(engine, registration_number="123-45-67890")
    act_as(app, await make_user(engine))
    before = await snapshot(engine, *TABLES)
    data = business_input(registrationNumber=spelling)
    payload, _ = await mutate(client, CREATE_BUSINESS, {"input": data})
    assert only_error(payload) == ("DUPLICATE", "input.registrationNumber")
    assert await snapshot(engine, *TABLES) == before


async def test_ten_concurrent_creates_with_one_number_make_one_business(
    app: Starlette, engine: AsyncEngine, client: httpx.AsyncClient
) -> None:
    act_as(app, await make_user(engine))
    number = registration_number()
    results = await asyncio.gather(
        *(
            mutate(client, CREATE_BUSINESS, {"input": business_input(registrationNumber=number)})
            for _ in range(10)
        )
    )
    assert all("errors" not in body for _, body in results), results
    payloads = [payload for payload, _ in results]
    assert sum(1 for p in payloads if p is not None and not p["errors"]) == 1
    failed = [only_error(p) for p in payloads if p is not None and p["errors"]]
    assert failed == [("DUPLICATE", "input.registrationNumber")] * 9
    assert await count_rows(engine, "businesses") == 1
    assert len(await audit_rows(engine, "business.created")) == 1


# --- permissions ----------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["anonymous", "service", "service with every scope"])
async def test_anonymous_callers_and_services_may_not_manage_businesses(
    app: Starlette, engine: AsyncEngine, client: httpx.AsyncClient, kind: str
) -> None:
    business = await make_business(engine)
    if kind == "anonymous":
        principal = Principal()
    elif kind == "service":
        principal = await make_service(engine)
    else:
        principal = await make_service(
            engine, "announcements:write", "briefings:write", "prices:write"
        )
    act_as(app, principal)
    before = await snapshot(engine, *TABLES)
    for name, document, variables in (
        ("createBusiness", CREATE_BUSINESS, {"input": business_input()}),
        (
            "updateBusiness",
            UPDATE_BUSINESS,
            {"id": encode_id("Business", business), "input": {"name": "Taken over"}},
        ),
    ):
        body = await gql(client, document, variables)
        assert body["data"] is None, body
        assert error_codes(body) == ["FORBIDDEN"]
        assert body["errors"][0]["path"] == [name]
    assert await snapshot(engine, *TABLES) == before


# --- update ---------------------------------------------------------------------------------


async def test_owner_updates_their_business_and_null_clears_optional_fields(
    app: Starlette, engine: AsyncEngine, client: httpx.AsyncClient
) -> None:
    owner = await make_user(engine)
    business = await make_business(engine, owner_id=owner.user_id, name="Old name")
    before = await _row(engine, business)
    act_as(app, owner)
    variables = {
        "id": encode_id("Business", business),
        "input": {
            "name": "New name",
            "size": "MEDIUM",
            "employeeCount": None,
            "annualRevenue": None,
            "registrationNumber": "9998887776",
        },
    }
    payload, body = await mutate(client, UPDATE_BUSINESS, variables)
    assert "errors" not in body, body
    assert payload is not None
    assert payload["errors"] == []
    updated = payload["business"]
    assert updated["name"] == "New name"
    assert updated["size"] == "MEDIUM"
    assert updated["employeeCount"] is None
    assert updated["annualRevenue"] is None
    assert updated["registrationNumber"] == "999-88-87776"
    assert updated["industry"] == before.industry  # not given: unchanged
    row = await _row(engine, business)
    assert row.size == BusinessSize.MEDIUM
    assert row.updated_at > before.updated_at
    [audit] = await audit_rows(engine, "business.updated")
    assert audit.details == {
        "fields": ["annual_revenue", "employee_count", "name", "registration_number", "size"]
    }
    assert "999" not in str(audit.details)


@pytest.mark.parametrize("role", [Role.EDITOR, Role.ADMIN])
async def test_staff_update_any_business(
    app: Starlette, engine: AsyncEngine, client: httpx.AsyncClient, role: Role
) -> None:
    owner = await make_user(engine)
    business = await make_business(engine, owner_id=owner.user_id)
    act_as(app, await make_user(engine, role))
    variables = {"id": encode_id("Business", business), "input": {"region": "Busan"}}
    payload, _ = await mutate(client, UPDATE_BUSINESS, variables)
    assert payload is not None
    assert payload["errors"] == []
    assert payload["business"]["region"] == "Busan"
    assert payload["business"]["owner"] == {"id": encode_id("User", owner.user_id)}


@pytest.mark.parametrize("whose", ["another member's", "nobody's"])
async def test_a_member_cannot_update_a_business_they_do_not_own(
    app: Starlette, engine: AsyncEngine, client: httpx.AsyncClient, whose: str
) -> None:
    owner = await make_user(engine)
    business = await make_business(
        engine,
        name="Secret Holdings",
        owner_id=owner.user_id if whose == "another member's" else None,
    )
    act_as(app, await make_user(engine))
    before = await snapshot(engine, *TABLES)
    variables = {"id": encode_id("Business", business), "input": {"name": "Mine now"}}
    payload, body = await mutate(client, UPDATE_BUSINESS, variables)
    # Exactly the answer for an ID that does not exist: nothing leaks.
    assert only_error(payload) == ("NOT_FOUND", "id")
    assert "Secret Holdings" not in str(body)
    missing = {"id": encode_id("Business", 999_999), "input": {"name": "Mine now"}}
    _, missing_body = await mutate(client, UPDATE_BUSINESS, missing)
    assert missing_body == body
    assert await snapshot(engine, *TABLES) == before


async def _update_case(engine: AsyncEngine, case: str, owner: Principal) -> tuple[str, Any]:
    mine = encode_id("Business", await make_business(engine, owner_id=owner.user_id))
    if case == "malformed id":
        return "@@", {"name": "x"}
    if case == "id of another type":
        return encode_id("Announcement", 1), {"name": "x"}
    if case == "unknown id":
        return encode_id("Business", 999_999), {"name": "x"}
    if case == "taken registration number":
        await make_business(engine, registration_number="555-55-55555")
        return mine, {"registrationNumber": "5555555555"}
    cases: dict[str, dict[str, Any]] = {
        "null name": {"name": None},
        "empty name": {"name": ""},
        "null registration number": {"registrationNumber": None},
        "bad registration number": {"registrationNumber": "55-555-55555"},
        "null size": {"size": None},
        "null industry": {"industry": None},
        "too long region": {"region": "r" * 65},
        "negative employees": {"employeeCount": -3},
        "negative revenue": {"annualRevenue": "-1"},
        "future founding": {"foundedOn": (TODAY + timedelta(days=3)).isoformat()},
    }
    return mine, cases[case]


UPDATE_BAD_INPUT: list[tuple[str, str, str | None]] = [
    ("malformed id", "INVALID_FORMAT", "id"),
    ("id of another type", "NOT_FOUND", "id"),
    ("unknown id", "NOT_FOUND", "id"),
    ("taken registration number", "DUPLICATE", "input.registrationNumber"),
    ("null name", "REQUIRED", "input.name"),
    ("empty name", "REQUIRED", "input.name"),
    ("null registration number", "REQUIRED", "input.registrationNumber"),
    ("bad registration number", "INVALID_FORMAT", "input.registrationNumber"),
    ("null size", "REQUIRED", "input.size"),
    ("null industry", "REQUIRED", "input.industry"),
    ("too long region", "TOO_LONG", "input.region"),
    ("negative employees", "OUT_OF_RANGE", "input.employeeCount"),
    ("negative revenue", "OUT_OF_RANGE", "input.annualRevenue"),
    ("future founding", "OUT_OF_RANGE", "input.foundedOn"),
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
    owner = await make_user(engine)
    gid, data = await _update_case(engine, case, owner)
    act_as(app, owner)
    before = await snapshot(engine, *TABLES)
    payload, body = await mutate(client, UPDATE_BUSINESS, {"id": gid, "input": data})
    assert "errors" not in body, body
    assert only_error(payload) == (code, field)
    assert await snapshot(engine, *TABLES) == before


async def test_concurrent_updates_to_one_number_leave_exactly_one_holder(
    app: Starlette, engine: AsyncEngine, client: httpx.AsyncClient
) -> None:
    """The unique index decides the race; the loser gets DUPLICATE, not a 500."""
    ids = [await make_business(engine) for _ in range(6)]
    act_as(app, await make_user(engine, Role.EDITOR))
    results = await asyncio.gather(
        *(
            mutate(
                client,
                UPDATE_BUSINESS,
                {"id": encode_id("Business", pk), "input": {"registrationNumber": "777-77-77777"}},
            )
            for pk in ids
        )
    )
    assert all("errors" not in body for _, body in results), results
    payloads = [p for p, _ in results]
    assert sum(1 for p in payloads if p is not None and not p["errors"]) == 1
    failed = [only_error(p) for p in payloads if p is not None and p["errors"]]
    assert failed == [("DUPLICATE", "input.registrationNumber")] * 5
    holders = []
    for pk in ids:
        if (await _row(engine, pk)).registration_number == "777-77-77777":
            holders.append(pk)
    assert len(holders) == 1
    assert len(await audit_rows(engine, "business.updated")) == 1


async def test_founded_today_is_accepted(
    app: Starlette, engine: AsyncEngine, client: httpx.AsyncClient
) -> None:
    act_as(app, await make_user(engine))
    data = business_input(foundedOn=TODAY.isoformat(), annualRevenue="0")
    payload, _ = await mutate(client, CREATE_BUSINESS, {"input": data})
    assert payload is not None
    assert payload["errors"] == []
    assert payload["business"]["annualRevenue"] == "0.00"


async def test_owner_businesses_in_a_later_field_include_the_new_one(
    app: Starlette, engine: AsyncEngine, client: httpx.AsyncClient
) -> None:
    """The BusinessesByOwnerId cache is cleared after each create (issue 5)."""
    act_as(app, await make_user(engine))
    document = """
    mutation($a: CreateBusinessInput!, $b: CreateBusinessInput!) {
      a: createBusiness(input: $a) { business { owner { businesses { name } } } }
      b: createBusiness(input: $b) { business { owner { businesses { name } } } }
    }
    """
    body = await gql(
        client,
        document,
        {"a": business_input(name="Alpha"), "b": business_input(name="Beta")},
    )
    assert "errors" not in body, body
    assert body["data"]["a"]["business"]["owner"]["businesses"] == [{"name": "Alpha"}]
    assert body["data"]["b"]["business"]["owner"]["businesses"] == [
        {"name": "Alpha"},
        {"name": "Beta"},
    ]
