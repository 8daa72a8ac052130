"""Query.businesses and the Business type (R2, R7, R14; issue 3)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import select, text
from sqlalchemy.dialects import postgresql
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.applications import Starlette

from graphql_api.core.auth.principal import Principal
from graphql_api.core.db.enums import AnnouncementStatus, ApplicationStatus, BusinessSize, Role
from graphql_api.core.db.models import Business
from graphql_api.core.db.queries.businesses import BusinessFilters, _filtered
from graphql_api.core.ids import encode_id
from tests.conftest import StatementCounter, act_as
from tests.factories import make_announcements
from tests.factories_businesses import (
    make_application_rows,
    make_applications,
    make_business,
    make_owned_businesses,
    make_user,
    make_users,
)
from tests.graphql_client import error_codes, gql

EDITOR = Principal(user_id=None, role=Role.EDITOR)

BUSINESSES_DEEP = """
query {
  businesses(first: 100) {
    edges { node {
      id name
      owner { id }
      announcements(first: 3) { edges { node { id title status } } pageInfo { hasNextPage } }
      matchingAnnouncements(first: 3) { id }
      applications(first: 3) { edges { node { status announcement { title } } } }
      successRate
    } }
    pageInfo { hasNextPage endCursor }
  }
}
"""

BUSINESSES_WITH_COUNTS = """
query {
  businesses(first: 100) {
    totalCount
    edges { node {
      announcements(first: 2) { totalCount edges { node { id } } }
      applications(first: 2) { totalCount edges { node { id business { name } } } }
    } }
  }
}
"""

BUSINESSES_OF_OWNERS = """
query {
  businesses(first: 100) { edges { node { owner { businesses { id name } } } } }
}
"""


async def _grow_to(engine: AsyncEngine, n: int, have: int) -> None:
    """Add businesses (with owners, posted announcements and decided applications) up to n."""
    count = n - have
    owners = await make_users(engine, max(count // 4, 1))
    businesses = await make_owned_businesses(engine, count, owners, tag=f"n{n}")
    posted = await make_announcements(engine, count, business_ids=businesses)
    # Every business applies to two calls posted by others; outcomes alternate.
    rows: list[dict[str, Any]] = []
    for i, business_id in enumerate(businesses):
        for k in (1, 2):
            rows.append(
                {
                    "business_id": business_id,
                    "announcement_id": posted[(i + k) % count],
                    "status": [ApplicationStatus.APPROVED, ApplicationStatus.REJECTED][(i + k) % 2],
                }
            )
    await make_application_rows(engine, rows)


async def _count(client: httpx.AsyncClient, sql: StatementCounter, query: str) -> int:
    sql.reset()
    body = await gql(client, query)
    assert "errors" not in body, body
    edges = body["data"]["businesses"]["edges"]
    assert edges
    return sql.count


@pytest.mark.parametrize(
    ("name", "query", "expected"),
    [
        # businesses page, owners, posted announcements (windowed), matching (lateral),
        # applications (windowed), their announcements, success rates (GROUP BY).
        ("deep", BUSINESSES_DEEP, 7),
        # businesses page + count, announcements page + count, applications page + count,
        # the applications' businesses.
        ("counts", BUSINESSES_WITH_COUNTS, 7),
        # businesses page, owners, owners' businesses.
        ("owners", BUSINESSES_OF_OWNERS, 3),
    ],
)
async def test_statement_count_is_the_same_for_10_and_200_businesses(
    app: Starlette,
    engine: AsyncEngine,
    client: httpx.AsyncClient,
    sql: StatementCounter,
    name: str,
    query: str,
    expected: int,
) -> None:
    act_as(app, EDITOR)
    await _grow_to(engine, 10, 0)
    small = await _count(client, sql, query)
    await _grow_to(engine, 200, 10)
    large = await _count(client, sql, query)
    print(f"businesses {name}: {small} statements at 10 businesses, {large} at 200")
    assert small == large == expected


async def test_deep_query_returns_every_relation(
    app: Starlette, engine: AsyncEngine, client: httpx.AsyncClient
) -> None:
    act_as(app, EDITOR)
    await _grow_to(engine, 10, 0)
    body = await gql(client, BUSINESSES_DEEP)
    assert "errors" not in body, body
    nodes = [e["node"] for e in body["data"]["businesses"]["edges"]]
    assert len(nodes) == 10
    for node in nodes:
        assert node["owner"]["id"]
        assert len(node["announcements"]["edges"]) == 1
        assert len(node["applications"]["edges"]) == 2
        assert node["successRate"] == 0.5
        assert 1 <= len(node["matchingAnnouncements"]) <= 3


# --- Pagination -------------------------------------------------------------------------

WALK = """
query($after: String, $order: BusinessOrder) {
  businesses(first: 5, after: $after, orderBy: $order) {
    edges { node { id name } }
    pageInfo { hasNextPage hasPreviousPage endCursor }
  }
}
"""


async def _walk(
    client: httpx.AsyncClient, order: str, between_pages: Any = None
) -> list[dict[str, Any]]:
    seen: list[dict[str, Any]] = []
    after = None
    for page_number in range(100):
        body = await gql(client, WALK, {"after": after, "order": order})
        assert "errors" not in body, body
        conn = body["data"]["businesses"]
        assert conn["pageInfo"]["hasPreviousPage"] is (after is not None)
        seen += [e["node"] for e in conn["edges"]]
        if not conn["pageInfo"]["hasNextPage"]:
            return seen
        after = conn["pageInfo"]["endCursor"]
        if between_pages is not None:
            await between_pages(page_number)
    raise AssertionError("pagination did not end")


async def test_walk_by_name_sees_every_row_once_while_rows_are_inserted(
    engine: AsyncEngine, client: httpx.AsyncClient
) -> None:
    # Mixed case: NAME_ASC is case-insensitive.
    names = [f"{'Bb' if i % 2 else 'bB'} company {i:02d}" for i in range(23)]
    originals = {encode_id("Business", await make_business(engine, name=n)) for n in names}
    inserted_after: set[str] = set()

    async def insert_some(page_number: int) -> None:
        # One row before everything already read, one after everything: only the latter
        # may appear, and nothing may repeat or go missing.
        await make_business(engine, name=f"Aa inserted {page_number}")
        late = await make_business(engine, name=f"Zz inserted {page_number}")
        inserted_after.add(encode_id("Business", late))

    seen = await _walk(client, "NAME_ASC", insert_some)
    ids = [node["id"] for node in seen]
    assert len(ids) == len(set(ids)), "a row was returned twice"
    assert originals <= set(ids)
    assert inserted_after <= set(ids)
    assert not any(node["name"].startswith("Aa inserted") for node in seen)
    lowered = [node["name"].lower() for node in seen]
    assert lowered == sorted(lowered)


@pytest.mark.parametrize("order", ["CREATED_AT_DESC", "EMPLOYEE_COUNT_DESC"])
async def test_walk_other_orderings_with_ties_and_nulls(
    engine: AsyncEngine, client: httpx.AsyncClient, order: str
) -> None:
    base = datetime(2025, 6, 1, tzinfo=UTC)
    ids = []
    for i in range(17):
        ids.append(
            await make_business(
                engine,
                # Ties on both keys (pairs share a value) and NULL employee counts.
                created_at=base + timedelta(hours=i // 2),
                employee_count=None if i % 5 == 0 else 100 - i // 2,
            )
        )
    seen = [node["id"] for node in await _walk(client, order)]
    assert sorted(seen) == sorted(encode_id("Business", i) for i in ids)
    assert len(seen) == len(set(seen))
    if order == "CREATED_AT_DESC":
        # Newest first; ties by id descending.
        expected = sorted(ids, key=lambda i: (-(ids.index(i) // 2), -i))
        assert seen == [encode_id("Business", i) for i in expected]
    else:
        nulls = [encode_id("Business", i) for n, i in enumerate(ids) if n % 5 == 0]
        assert set(seen[-len(nulls) :]) == set(nulls)


async def test_cursor_of_another_ordering_is_rejected(
    engine: AsyncEngine, client: httpx.AsyncClient
) -> None:
    for _ in range(3):
        await make_business(engine)
    body = await gql(client, "{ businesses(first: 1) { pageInfo { endCursor } } }")
    cursor = body["data"]["businesses"]["pageInfo"]["endCursor"]
    other = await gql(
        client,
        "query($c: String) { businesses(after: $c, orderBy: CREATED_AT_DESC) "
        "{ edges { node { id } } } }",
        {"c": cursor},
    )
    assert error_codes(other) == ["BAD_USER_INPUT"]
    assert other["errors"][0]["extensions"]["field"] == "after"


# --- Filters ----------------------------------------------------------------------------


async def _names(client: httpx.AsyncClient, filter_: str) -> list[str]:
    body = await gql(
        client,
        f"{{ businesses(first: 100, filter: {filter_}) {{ totalCount "
        "edges { node { name } } } }",
    )
    assert "errors" not in body, body
    conn = body["data"]["businesses"]
    names = [e["node"]["name"] for e in conn["edges"]]
    assert conn["totalCount"] == len(names)
    return names


async def test_filters_by_industry_size_region_and_name(
    engine: AsyncEngine, client: httpx.AsyncClient
) -> None:
    await make_business(engine, name="Alpha Soft", industry="software", size=BusinessSize.SMALL)
    await make_business(engine, name="alphabet foods", industry="food", region="Busan")
    await make_business(
        engine, name="Beta Logistics", industry="logistics", size=BusinessSize.LARGE
    )
    await make_business(engine, name="100% Organic_Farm", industry="food", region="Daegu")
    await make_business(engine, name="1000 Organic Farms", industry="food", region="Daegu")

    assert await _names(client, '{industry: ["food"]}') == [
        "100% Organic_Farm",
        "1000 Organic Farms",
        "alphabet foods",
    ]
    assert await _names(client, "{size: [LARGE]}") == ["Beta Logistics"]
    assert await _names(client, '{region: ["Busan", "Daegu"], industry: ["food"]}') == [
        "100% Organic_Farm",
        "1000 Organic Farms",
        "alphabet foods",
    ]
    assert await _names(client, '{name: "ALPHA"}') == ["Alpha Soft", "alphabet foods"]
    assert await _names(client, '{name: "soft"}') == ["Alpha Soft"]
    assert await _names(client, '{namePrefix: "alphab"}') == ["alphabet foods"]
    assert await _names(client, '{namePrefix: "soft"}') == []
    # % and _ are literal characters, not wildcards.
    assert await _names(client, '{name: "0%"}') == ["100% Organic_Farm"]
    assert await _names(client, '{namePrefix: "100%"}') == ["100% Organic_Farm"]
    assert await _names(client, '{name: "c_f"}') == ["100% Organic_Farm"]
    assert await _names(client, '{name: "%"}') == ["100% Organic_Farm"]
    assert await _names(client, '{name: "\\\\"}') == []
    assert await _names(client, "{industry: []}") == []


async def test_overlong_filter_is_bad_user_input(client: httpx.AsyncClient) -> None:
    body = await gql(
        client,
        "query($n: String) { businesses(filter: {name: $n}) { totalCount } }",
        {"n": "x" * 201},
    )
    assert error_codes(body) == ["BAD_USER_INPUT"]
    assert body["errors"][0]["extensions"]["field"] == "filter.name"


async def test_name_prefix_filter_can_use_the_lower_name_index(engine: AsyncEngine) -> None:
    stmt = _filtered(select(Business.id), BusinessFilters(name_prefix="Acme_"))
    compiled = stmt.compile(dialect=postgresql.dialect(), compile_kwargs={"literal_binds": True})
    async with engine.connect() as conn:
        await conn.execute(text("SET enable_seqscan = off"))
        plan = "\n".join(r[0] for r in await conn.execute(text(f"EXPLAIN {compiled}")))
    assert "ix_businesses_lower_name" in plan, plan


# --- matchingAnnouncements --------------------------------------------------------------


async def _announce(engine: AsyncEngine, title: str, **values: Any) -> int:
    defaults: dict[str, Any] = {"target_industries": [], "target_sizes": [], "regions": []}
    [announcement_id] = await make_announcements(engine, 1, title=title, **{**defaults, **values})
    return announcement_id


async def test_matching_announcements_are_filtered_and_ranked(
    engine: AsyncEngine, client: httpx.AsyncClient
) -> None:
    now = datetime.now(UTC)

    def closes(days: int) -> datetime:
        return now + timedelta(days=days)

    await make_business(
        engine, name="A soft", industry="software", size=BusinessSize.SMALL, region="Seoul"
    )
    await make_business(
        engine, name="B food", industry="food", size=BusinessSize.LARGE, region="Busan"
    )
    # Eligible for the software business.
    await _announce(engine, "generic", closes_at=closes(5))
    await _announce(
        engine, "industry", target_industries=["software", "food"], closes_at=closes(20)
    )
    await _announce(
        engine,
        "all three",
        target_industries=["software"],
        target_sizes=["SMALL", "MEDIUM"],
        regions=["Seoul"],
        closes_at=closes(30),
    )
    await _announce(
        engine,
        "size+region",
        target_sizes=["SMALL"],
        regions=["Seoul", "Busan"],
        closes_at=closes(10),
    )
    await _announce(
        engine, "size+region later", target_sizes=["SMALL"], regions=["Seoul"], closes_at=closes(15)
    )
    await _announce(
        engine,
        "industry no deadline",
        target_industries=["software"],
        opens_at=None,
        closes_at=None,
    )
    await _announce(engine, "industry tie", target_industries=["software"], closes_at=closes(20))
    # Not eligible for it, or not open.
    await _announce(engine, "food only", target_industries=["food"], closes_at=closes(3))
    await _announce(engine, "large only", target_sizes=["LARGE"], closes_at=closes(3))
    await _announce(engine, "busan only", regions=["Busan"], closes_at=closes(4))
    await _announce(engine, "draft", status=AnnouncementStatus.DRAFT, closes_at=closes(3))
    await _announce(engine, "closed", status=AnnouncementStatus.CLOSED, closes_at=closes(3))
    await _announce(engine, "expired", opens_at=closes(-10), closes_at=closes(-1))
    await _announce(engine, "not yet open", opens_at=closes(1), closes_at=closes(9))

    query = """
    query($first: Int) { businesses { edges { node {
      name matchingAnnouncements(first: $first) { title }
    } } } }
    """

    async def titles(first: int | None) -> dict[str, list[str]]:
        body = await gql(client, query, {"first": first})
        assert "errors" not in body, body
        return {
            e["node"]["name"]: [a["title"] for a in e["node"]["matchingAnnouncements"]]
            for e in body["data"]["businesses"]["edges"]
        }

    everything = await titles(None)
    assert everything["A soft"] == [
        "all three",
        "size+region",
        "size+region later",
        "industry",
        "industry tie",
        "industry no deadline",
        "generic",
    ]
    assert everything["B food"] == ["food only", "large only", "busan only", "industry", "generic"]
    top = await titles(3)
    assert top["A soft"] == ["all three", "size+region", "size+region later"]
    assert top["B food"] == ["food only", "large only", "busan only"]

    for bad in (-1, 101):
        body = await gql(client, query, {"first": bad})
        assert set(error_codes(body)) == {"BAD_USER_INPUT"}


# --- successRate ------------------------------------------------------------------------


async def test_success_rate_is_approved_over_decided(
    engine: AsyncEngine, client: httpx.AsyncClient
) -> None:
    calls = await make_announcements(engine, 7)
    s = ApplicationStatus
    mixed = await make_business(engine, name="a mixed")
    await make_applications(
        engine,
        mixed,
        calls,
        [s.APPROVED, s.APPROVED, s.APPROVED, s.REJECTED, s.SUBMITTED, s.SUBMITTED, s.WITHDRAWN],
    )
    pending = await make_business(engine, name="b pending")
    await make_applications(engine, pending, calls[:2], [s.SUBMITTED, s.WITHDRAWN])
    await make_business(engine, name="c none")
    rejected = await make_business(engine, name="d rejected")
    await make_applications(engine, rejected, calls[:1], [s.REJECTED])

    body = await gql(client, "{ businesses { edges { node { name successRate } } } }")
    rates = {
        e["node"]["name"]: e["node"]["successRate"] for e in body["data"]["businesses"]["edges"]
    }
    assert rates == {"a mixed": 0.75, "b pending": None, "c none": None, "d rejected": 0.0}


# --- Business.announcements -------------------------------------------------------------


async def test_posted_announcements_hide_drafts_from_non_editors(
    app: Starlette, engine: AsyncEngine, client: httpx.AsyncClient
) -> None:
    business = await make_business(engine)
    other = await make_business(engine)
    await make_announcements(engine, 3, business_ids=[business])
    await make_announcements(engine, 1, business_ids=[other])
    await make_announcements(engine, 1, business_ids=[business], status=AnnouncementStatus.DRAFT)
    query = """
    query($id: ID!, $after: String) { node(id: $id) { ... on Business {
      announcements(first: 2, after: $after) {
        totalCount edges { node { title status } } pageInfo { hasNextPage endCursor }
      }
    } } }
    """
    variables: dict[str, Any] = {"id": encode_id("Business", business), "after": None}
    public = (await gql(client, query, variables))["data"]["node"]["announcements"]
    assert public["totalCount"] == 3
    # Newest published first.
    assert [e["node"]["title"] for e in public["edges"]] == ["Call 2", "Call 1"]
    assert public["pageInfo"]["hasNextPage"] is True
    rest = await gql(client, query, {**variables, "after": public["pageInfo"]["endCursor"]})
    assert [e["node"]["title"] for e in rest["data"]["node"]["announcements"]["edges"]] == [
        "Call 0"
    ]

    act_as(app, EDITOR)
    staff = (await gql(client, query, variables))["data"]["node"]["announcements"]
    assert staff["totalCount"] == 4
    rest = await gql(client, query, {**variables, "after": staff["pageInfo"]["endCursor"]})
    statuses = [e["node"]["status"] for e in rest["data"]["node"]["announcements"]["edges"]]
    assert statuses == ["PUBLISHED", "DRAFT"]


# --- Sensitive fields -------------------------------------------------------------------

SENSITIVE = """
query($id: ID!) { node(id: $id) { ... on Business {
  name registrationNumber annualRevenue
  applications { totalCount edges { node { status } } }
} } }
"""


async def _sensitive_as(
    app: Starlette, client: httpx.AsyncClient, principal: Principal, business_id: int
) -> tuple[dict[str, Any], str]:
    act_as(app, principal)
    response = await client.post(
        "/graphql",
        json={"query": SENSITIVE, "variables": {"id": encode_id("Business", business_id)}},
    )
    assert response.status_code == 200
    return response.json(), response.text


async def test_sensitive_fields_are_forbidden_to_anonymous_and_other_members(
    app: Starlette, engine: AsyncEngine, client: httpx.AsyncClient
) -> None:
    owner = await make_user(engine)
    stranger = await make_user(engine)
    business = await make_business(
        engine,
        owner_id=owner.user_id,
        registration_number="SECRET-REG-1",
        annual_revenue="987654321.00",
    )
    calls = await make_announcements(engine, 1)
    await make_applications(engine, business, calls, [ApplicationStatus.APPROVED])

    for principal in (Principal(), stranger):
        body, raw = await _sensitive_as(app, client, principal, business)
        node = body["data"]["node"]
        assert node == {
            "name": node["name"],
            "registrationNumber": None,
            "annualRevenue": None,
            "applications": None,
        }
        assert sorted(error_codes(body)) == ["FORBIDDEN"] * 3
        assert {tuple(e["path"][1:]) for e in body["errors"]} == {
            ("registrationNumber",),
            ("annualRevenue",),
            ("applications",),
        }
        assert "SECRET-REG-1" not in raw
        assert "987654321" not in raw
        assert "APPROVED" not in raw


@pytest.mark.parametrize("role", [Role.EDITOR, Role.ADMIN, None])
async def test_owner_editor_and_admin_read_sensitive_fields(
    app: Starlette, engine: AsyncEngine, client: httpx.AsyncClient, role: Role | None
) -> None:
    owner = await make_user(engine)
    business = await make_business(
        engine,
        owner_id=owner.user_id,
        registration_number="SECRET-REG-2",
        annual_revenue="123.45",
    )
    calls = await make_announcements(engine, 2)
    await make_applications(engine, business, calls, [ApplicationStatus.APPROVED] * 2)
    principal = owner if role is None else await make_user(engine, role)
    body, _ = await _sensitive_as(app, client, principal, business)
    assert "errors" not in body, body
    node = body["data"]["node"]
    assert node["registrationNumber"] == "SECRET-REG-2"
    assert node["annualRevenue"] == "123.45"
    assert node["applications"]["totalCount"] == 2


async def test_forbidden_field_leaves_the_rest_of_a_list_intact(
    app: Starlette, engine: AsyncEngine, client: httpx.AsyncClient
) -> None:
    owner = await make_user(engine)
    mine = await make_business(engine, name="a mine", owner_id=owner.user_id)
    await make_business(engine, name="b theirs")
    act_as(app, owner)
    body = await gql(
        client, "{ businesses { edges { node { id name applications { totalCount } } } } }"
    )
    edges = body["data"]["businesses"]["edges"]
    assert [e["node"]["name"] for e in edges] == ["a mine", "b theirs"]
    assert edges[0]["node"]["applications"] == {"totalCount": 0}
    assert edges[0]["node"]["id"] == encode_id("Business", mine)
    assert edges[1]["node"]["applications"] is None
    assert error_codes(body) == ["FORBIDDEN"]
    assert body["errors"][0]["path"] == ["businesses", "edges", 1, "node", "applications"]


async def test_owner_field_and_user_businesses(
    engine: AsyncEngine, client: httpx.AsyncClient
) -> None:
    owner = await make_user(engine)
    first = await make_business(engine, name="Zeta", owner_id=owner.user_id)
    second = await make_business(engine, name="alpha", owner_id=owner.user_id)
    await make_business(engine, name="ownerless")
    body = await gql(
        client,
        "{ businesses { edges { node { name owner { id businesses { id name } } } } } }",
    )
    assert "errors" not in body, body
    nodes = {e["node"]["name"]: e["node"]["owner"] for e in body["data"]["businesses"]["edges"]}
    assert nodes["ownerless"] is None
    assert nodes["Zeta"] == nodes["alpha"]
    assert nodes["Zeta"]["id"] == encode_id("User", owner.user_id or 0)
    assert nodes["Zeta"]["businesses"] == [
        {"id": encode_id("Business", second), "name": "alpha"},
        {"id": encode_id("Business", first), "name": "Zeta"},
    ]
