"""Query.announcements: the first vertical slice (R1, R14; issue 2)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
import pytest
from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncEngine

from graphql_api.core.db.enums import AnnouncementStatus
from graphql_api.core.db.models import Application
from graphql_api.core.ids import encode_id
from tests.conftest import StatementCounter
from tests.factories import BASE_TIME, make_announcements, make_businesses
from tests.graphql_client import error_codes, gql

LIST_WITH_BUSINESS = """
query ($first: Int) {
  announcements(first: $first) {
    edges { cursor node { id title status applicationCount business { id name } } }
    pageInfo { hasNextPage endCursor }
  }
}
"""


async def _statements_for(
    engine: AsyncEngine, client: httpx.AsyncClient, sql: StatementCounter, n: int
) -> int:
    businesses = await make_businesses(engine, max(n // 2, 1), tag=str(n))
    await make_announcements(engine, n, business_ids=businesses)
    sql.reset()
    body = await gql(client, LIST_WITH_BUSINESS, {"first": 100})
    assert "errors" not in body, body
    edges = body["data"]["announcements"]["edges"]
    assert len(edges) == min(n, 100)
    assert all(edge["node"]["business"]["name"].startswith("Business") for edge in edges)
    return sql.count


@pytest.mark.parametrize("n", [10, 200])
async def test_statement_count_does_not_grow_with_rows(
    engine: AsyncEngine, client: httpx.AsyncClient, sql: StatementCounter, n: int
) -> None:
    count = await _statements_for(engine, client, sql, n)
    print(f"announcements(first:100) with business and applicationCount, {n} rows: {count}")
    # Page query + batched businesses + batched application counts, whatever N is (R14).
    assert count == 3


async def test_drafts_are_hidden_from_anonymous(
    engine: AsyncEngine, client: httpx.AsyncClient
) -> None:
    await make_announcements(engine, 3)
    draft_ids = await make_announcements(engine, 2, status=AnnouncementStatus.DRAFT)
    body = await gql(client, "{ announcements { edges { node { id status } } } }")
    nodes = [e["node"] for e in body["data"]["announcements"]["edges"]]
    assert len(nodes) == 3
    assert {n["status"] for n in nodes} == {"PUBLISHED"}
    hidden = await gql(
        client,
        "query($id: ID!) { node(id: $id) { id } }",
        {"id": encode_id("Announcement", draft_ids[0])},
    )
    assert hidden["data"]["node"] is None
    assert error_codes(hidden) == ["NOT_FOUND"]


async def test_walk_pages_returns_every_row_once(
    engine: AsyncEngine, client: httpx.AsyncClient
) -> None:
    ids = await make_announcements(engine, 23)
    seen: list[str] = []
    after = None
    while True:
        body = await gql(
            client,
            "query($after: String) { announcements(first: 5, after: $after, "
            "orderBy: CLOSES_AT_ASC) { edges { node { id } } "
            "pageInfo { hasNextPage hasPreviousPage endCursor } totalCount } }",
            {"after": after},
        )
        conn = body["data"]["announcements"]
        assert conn["totalCount"] == 23
        assert conn["pageInfo"]["hasPreviousPage"] is (after is not None)
        seen += [e["node"]["id"] for e in conn["edges"]]
        if not conn["pageInfo"]["hasNextPage"]:
            break
        after = conn["pageInfo"]["endCursor"]
    # closes_at grows with the insertion index, so CLOSES_AT_ASC is insertion order.
    assert seen == [encode_id("Announcement", i) for i in ids]


async def test_filters_by_category_and_region(
    engine: AsyncEngine, client: httpx.AsyncClient
) -> None:
    await make_announcements(engine, 9)
    body = await gql(
        client,
        '{ announcements(filter: {category: ["rnd"], region: ["Daegu"]}) '
        "{ edges { node { category regions } } } }",
    )
    nodes = [e["node"] for e in body["data"]["announcements"]["edges"]]
    assert nodes, body
    assert all(n["category"] == "rnd" and "Daegu" in n["regions"] for n in nodes)


async def test_node_refetches_announcement_and_business(
    engine: AsyncEngine, client: httpx.AsyncClient
) -> None:
    [business_id] = await make_businesses(engine, 1)
    [announcement_id] = await make_announcements(engine, 1, business_ids=[business_id])
    body = await gql(
        client,
        "query($a: ID!, $b: ID!) { a: node(id: $a) { id ... on Announcement { title } } "
        "b: node(id: $b) { ... on Business { name } } }",
        {"a": encode_id("Announcement", announcement_id), "b": encode_id("Business", business_id)},
    )
    assert body["data"] == {
        "a": {"id": encode_id("Announcement", announcement_id), "title": "Call 0"},
        "b": {"name": "Business 0"},
    }


async def test_sensitive_business_fields_are_forbidden_for_anonymous(
    engine: AsyncEngine, client: httpx.AsyncClient
) -> None:
    [business_id] = await make_businesses(engine, 1)
    await make_announcements(engine, 1, business_ids=[business_id])
    body = await gql(
        client,
        "{ announcements { edges { node { title business { name registrationNumber } } } } }",
    )
    assert error_codes(body) == ["FORBIDDEN"]
    node = body["data"]["announcements"]["edges"][0]["node"]
    assert node["business"]["name"] == "Business 0"
    assert node["business"]["registrationNumber"] is None
    assert "REG-" not in str(body)


@pytest.mark.parametrize(
    ("query", "code"),
    [
        ("{ announcements(first: 5 { edges { node { id } } } }", "GRAPHQL_PARSE_FAILED"),
        ("{ announcements { edges { node { nope } } } }", "GRAPHQL_VALIDATION_FAILED"),
        ("{ announcements(first: 1000) { edges { node { id } } } }", "BAD_USER_INPUT"),
        ("{ announcements(first: 101) { edges { node { id } } } }", "BAD_USER_INPUT"),
        ("{ announcements(first: -1) { edges { node { id } } } }", "BAD_USER_INPUT"),
        ('{ announcements(after: "garbage!!") { edges { node { id } } } }', "BAD_USER_INPUT"),
        ('{ announcements(after: "WyJ4IiwxLDJd") { edges { node { id } } } }', "BAD_USER_INPUT"),
        ('{ node(id: "not-an-id") { id } }', "BAD_USER_INPUT"),
    ],
)
async def test_bad_requests_get_a_coded_error_not_a_500(
    client: httpx.AsyncClient, query: str, code: str
) -> None:
    response = await client.post("/graphql", json={"query": query})
    assert response.status_code in (200, 400)
    body = response.json()
    assert error_codes(body) == [code], body
    assert "Traceback" not in response.text


async def test_cursor_from_another_ordering_is_rejected(
    engine: AsyncEngine, client: httpx.AsyncClient
) -> None:
    await make_announcements(engine, 3)
    body = await gql(client, "{ announcements(first: 1) { pageInfo { endCursor } } }")
    cursor = body["data"]["announcements"]["pageInfo"]["endCursor"]
    other = await gql(
        client,
        "query($c: String) { announcements(after: $c, orderBy: CLOSES_AT_ASC) "
        "{ edges { node { id } } } }",
        {"c": cursor},
    )
    assert error_codes(other) == ["BAD_USER_INPUT"]
    assert other["errors"][0]["extensions"]["field"] == "after"


async def test_malformed_json_body_is_a_coded_400(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/graphql", content=b"{not json", headers={"content-type": "application/json"}
    )
    assert response.status_code == 400
    assert error_codes(response.json()) == ["BAD_REQUEST"]


async def test_health(client: httpx.AsyncClient) -> None:
    assert (await client.get("/health/live")).status_code == 200
    ready = await client.get("/health/ready")
    assert ready.status_code == 200
    assert ready.json()["checks"] == {"postgres": "ok", "redis": "ok", "broker": "ok"}


async def test_filters_industry_size_open_now_closing_before_and_search(
    engine: AsyncEngine, client: httpx.AsyncClient
) -> None:
    now = datetime.now(UTC)
    await make_announcements(engine, 1, title="Export voucher", target_industries=["food"],
                             target_sizes=["SMALL"], keywords=["export", "voucher"])  # fmt: skip
    await make_announcements(engine, 1, title="Open to all", target_industries=[],
                             target_sizes=[])  # fmt: skip
    await make_announcements(engine, 1, title="Software only", target_industries=["software"],
                             target_sizes=["LARGE"], closes_at=now + timedelta(days=3))  # fmt: skip
    await make_announcements(engine, 1, title="Not yet open", opens_at=now + timedelta(days=1),
                             closes_at=now + timedelta(days=9))  # fmt: skip
    await make_announcements(engine, 1, title="Expired", opens_at=now - timedelta(days=9),
                             closes_at=now - timedelta(days=1))  # fmt: skip

    async def titles(filter_: str) -> set[str]:
        body = await gql(client, f"{{ announcements(filter: {filter_}) "
                         "{ edges { node { title status } } } }")  # fmt: skip
        assert "errors" not in body, body
        return {e["node"]["title"] for e in body["data"]["announcements"]["edges"]}

    assert "Export voucher" in await titles('{industry: ["food"], size: [SMALL]}')
    assert "Open to all" in await titles('{industry: ["food"], size: [SMALL]}')
    assert "Software only" not in await titles('{industry: ["food"]}')
    assert await titles('{search: "voucher"}') == {"Export voucher"}
    assert await titles(f'{{closingBefore: "{(now + timedelta(days=5)).isoformat()}"}}') == {
        "Software only", "Expired"}  # fmt: skip
    open_now = await titles("{openNow: true}")
    assert "Not yet open" not in open_now
    assert "Expired" not in open_now
    assert "Software only" in open_now
    assert await titles("{status: [CLOSED]}") == {"Expired"}


async def test_expired_call_reads_as_closed(engine: AsyncEngine, client: httpx.AsyncClient) -> None:
    now = datetime.now(UTC)
    await make_announcements(engine, 1, opens_at=now - timedelta(days=9),
                             closes_at=now - timedelta(seconds=1))  # fmt: skip
    body = await gql(client, "{ announcements { edges { node { status } } } }")
    assert body["data"]["announcements"]["edges"][0]["node"]["status"] == "CLOSED"


async def test_application_count_is_batched(
    engine: AsyncEngine, client: httpx.AsyncClient, sql: StatementCounter
) -> None:
    businesses = await make_businesses(engine, 4)
    announcements = await make_announcements(engine, 5)
    async with engine.begin() as conn:
        await conn.execute(
            insert(Application),
            [{"business_id": b, "announcement_id": announcements[0]} for b in businesses]
            + [{"business_id": businesses[0], "announcement_id": announcements[1]}],
        )
    sql.reset()
    body = await gql(client, "{ announcements(orderBy: CLOSES_AT_ASC) "
                     "{ edges { node { applicationCount } } } }")  # fmt: skip
    counts = [e["node"]["applicationCount"] for e in body["data"]["announcements"]["edges"]]
    assert counts == [4, 1, 0, 0, 0]
    assert sql.count == 2


async def test_walk_sees_every_row_once_while_rows_are_inserted(
    engine: AsyncEngine, client: httpx.AsyncClient
) -> None:
    """Keyset cursors do not shift when rows arrive between pages (issue 3)."""
    original = await make_announcements(engine, 12)
    seen: list[str] = []
    after = None
    while True:
        body = await gql(
            client,
            "query($after: String) { announcements(first: 5, after: $after, "
            "orderBy: PUBLISHED_AT_ASC) { edges { node { id } } "
            "pageInfo { hasNextPage endCursor } } }",
            {"after": after},
        )
        conn = body["data"]["announcements"]
        seen += [e["node"]["id"] for e in conn["edges"]]
        # New calls published "earlier" than the cursor must not make rows repeat or vanish.
        await make_announcements(engine, 2, published_at=BASE_TIME - timedelta(days=1))
        if not conn["pageInfo"]["hasNextPage"]:
            break
        after = conn["pageInfo"]["endCursor"]
    assert len(seen) == len(set(seen))
    assert seen[: len(original)] == [encode_id("Announcement", i) for i in original]
