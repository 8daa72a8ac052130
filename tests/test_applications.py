"""The Application type: node visibility, relations, nested pagination (R2, R7, R14)."""

from __future__ import annotations

from datetime import timedelta

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.applications import Starlette

from graphql_api.core.auth.principal import Principal
from graphql_api.core.db.enums import ApplicationStatus, Role
from graphql_api.core.ids import encode_id
from tests.conftest import StatementCounter, act_as
from tests.factories import BASE_TIME, make_announcements
from tests.factories_businesses import (
    make_application_rows,
    make_applications,
    make_business,
    make_owned_businesses,
    make_user,
    make_users,
)
from tests.graphql_client import error_codes, gql

APPLICATION = """
query($id: ID!) { node(id: $id) { id ... on Application {
  status submittedAt decidedAt business { name } announcement { title }
} } }
"""


async def test_application_node_is_visible_to_owner_editor_and_admin_only(
    app: Starlette, engine: AsyncEngine, client: httpx.AsyncClient
) -> None:
    owner = await make_user(engine)
    business = await make_business(engine, name="Owned Co", owner_id=owner.user_id)
    [call] = await make_announcements(engine, 1)
    [application] = await make_applications(engine, business, [call])
    gid = encode_id("Application", application)

    for principal in (Principal(), await make_user(engine)):
        act_as(app, principal)
        body = await gql(client, APPLICATION, {"id": gid})
        assert body["data"]["node"] is None
        assert error_codes(body) == ["NOT_FOUND"]
        assert "Owned Co" not in str(body)

    for principal in (owner, await make_user(engine, Role.EDITOR), Principal(role=Role.ADMIN)):
        act_as(app, principal)
        body = await gql(client, APPLICATION, {"id": gid})
        assert "errors" not in body, body
        assert body["data"]["node"] == {
            "id": gid,
            "status": "SUBMITTED",
            "submittedAt": BASE_TIME.isoformat(),
            "decidedAt": None,
            "business": {"name": "Owned Co"},
            "announcement": {"title": "Call 0"},
        }


async def test_missing_application_is_not_found(app: Starlette, client: httpx.AsyncClient) -> None:
    act_as(app, Principal(role=Role.ADMIN))
    body = await gql(client, APPLICATION, {"id": encode_id("Application", 424242)})
    assert error_codes(body) == ["NOT_FOUND"]


async def test_business_applications_page_newest_first(
    app: Starlette, engine: AsyncEngine, client: httpx.AsyncClient
) -> None:
    owner = await make_user(engine)
    business = await make_business(engine, owner_id=owner.user_id)
    other = await make_business(engine)
    calls = await make_announcements(engine, 7)
    mine = await make_applications(engine, business, calls[:5])  # minutes 0..4
    # Two more submitted at minute 2, like mine[2]: the id breaks the ties.
    tied = await make_application_rows(
        engine,
        [
            {
                "business_id": business,
                "announcement_id": c,
                "submitted_at": BASE_TIME + timedelta(minutes=2),
            }
            for c in calls[5:]
        ],
    )
    minute = {**{a: m for m, a in enumerate(mine)}, **dict.fromkeys(tied, 2)}
    expected = sorted(minute, key=lambda a: (minute[a], a), reverse=True)
    await make_applications(engine, other, calls[:2])
    act_as(app, owner)
    query = """
    query($id: ID!, $after: String) { node(id: $id) { ... on Business {
      applications(first: 2, after: $after) {
        totalCount edges { node { id } } pageInfo { hasNextPage hasPreviousPage endCursor }
      }
    } } }
    """
    seen: list[str] = []
    after = None
    while True:
        body = await gql(client, query, {"id": encode_id("Business", business), "after": after})
        assert "errors" not in body, body
        conn = body["data"]["node"]["applications"]
        assert conn["totalCount"] == 7
        assert conn["pageInfo"]["hasPreviousPage"] is (after is not None)
        seen += [e["node"]["id"] for e in conn["edges"]]
        if not conn["pageInfo"]["hasNextPage"]:
            break
        after = conn["pageInfo"]["endCursor"]
    assert seen == [encode_id("Application", a) for a in expected]


async def test_decided_application_reads_its_outcome(
    app: Starlette, engine: AsyncEngine, client: httpx.AsyncClient
) -> None:
    business = await make_business(engine)
    [call] = await make_announcements(engine, 1)
    decided = BASE_TIME + timedelta(days=3)
    await make_application_rows(
        engine,
        [
            {
                "business_id": business,
                "announcement_id": call,
                "submitted_at": BASE_TIME,
                "status": ApplicationStatus.REJECTED,
                "decided_at": decided,
            }
        ],
    )
    act_as(app, Principal(role=Role.EDITOR))
    body = await gql(
        client,
        "query($id: ID!) { node(id: $id) { ... on Business { applications { edges { node { "
        "status decidedAt } } } } } }",
        {"id": encode_id("Business", business)},
    )
    edges = body["data"]["node"]["applications"]["edges"]
    assert edges == [{"node": {"status": "REJECTED", "decidedAt": decided.isoformat()}}]


@pytest.mark.parametrize("n", [10, 100])
async def test_nodes_of_many_applications_cost_the_same(
    app: Starlette, engine: AsyncEngine, client: httpx.AsyncClient, sql: StatementCounter, n: int
) -> None:
    owners = await make_users(engine, 5)
    businesses = await make_owned_businesses(engine, 200, owners)
    calls = await make_announcements(engine, 2)
    rows = [{"business_id": b, "announcement_id": calls[i % 2]} for i, b in enumerate(businesses)]
    await make_application_rows(engine, rows)
    act_as(app, Principal(role=Role.EDITOR))
    ids = [encode_id("Application", i) for i in range(1, n + 1)]
    sql.reset()
    body = await gql(
        client,
        "query($ids: [ID!]!) { nodes(ids: $ids) { id ... on Application { status "
        "business { name owner { id } } announcement { title } } } }",
        {"ids": ids},
    )
    assert "errors" not in body, body
    assert len(body["data"]["nodes"]) == n
    print(
        f"nodes(ids: {n} applications) with business, owner, announcement: {sql.count} statements"
    )
    # Applications, then their businesses and announcements (one batch), then the owners.
    assert sql.count == 4
