"""Users: `me`, the public profile, private e-mail and portfolios (R7, R14)."""

from __future__ import annotations

import httpx
import pytest
from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.applications import Starlette

from graphql_api.core.auth.principal import ANONYMOUS, Principal
from graphql_api.core.db.enums import Role
from graphql_api.core.db.models import Portfolio, User
from graphql_api.core.ids import encode_id
from tests.conftest import StatementCounter, act_as
from tests.factories import make_businesses
from tests.factories_portfolios import make_principal, make_user, make_users
from tests.graphql_client import error_codes, gql

ME = "{ me { id email displayName role createdAt } }"
USER = "query ($id: ID!) { node(id: $id) { id ... on User { displayName role email } } }"


async def _email_of(engine: AsyncEngine, user_id: int) -> str:
    async with engine.connect() as conn:
        email = (await conn.execute(select(User.email).where(User.id == user_id))).scalar_one()
    return str(email)


async def test_me_is_null_for_anonymous_and_services(
    app: Starlette, client: httpx.AsyncClient
) -> None:
    for principal in (ANONYMOUS, Principal(api_key_id=1, scopes=frozenset({"prices:write"}))):
        act_as(app, principal)
        body = await gql(client, ME)
        assert body == {"data": {"me": None}}


async def test_me_is_the_callers_user(
    app: Starlette, engine: AsyncEngine, client: httpx.AsyncClient
) -> None:
    principal = await make_principal(engine, Role.EDITOR)
    assert principal.user_id is not None
    act_as(app, principal)
    body = await gql(client, ME)
    assert "errors" not in body, body
    me = body["data"]["me"]
    assert me["id"] == encode_id("User", principal.user_id)
    assert me["email"] == await _email_of(engine, principal.user_id)
    assert me["role"] == "EDITOR"
    assert me["displayName"].startswith("User ")
    assert me["createdAt"]


async def test_email_is_for_self_and_admin_only(
    app: Starlette, engine: AsyncEngine, client: httpx.AsyncClient
) -> None:
    target = await make_principal(engine)
    assert target.user_id is not None
    email = await _email_of(engine, target.user_id)
    uid = encode_id("User", target.user_id)
    for principal in (target, await make_principal(engine, Role.ADMIN)):
        act_as(app, principal)
        body = await gql(client, USER, {"id": uid})
        assert "errors" not in body, body
        assert body["data"]["node"]["email"] == email
    for principal in (
        await make_principal(engine),
        await make_principal(engine, Role.EDITOR),
        ANONYMOUS,
        Principal(api_key_id=1, scopes=frozenset({"announcements:write"})),
    ):
        act_as(app, principal)
        response = await client.post("/graphql", json={"query": USER, "variables": {"id": uid}})
        body = response.json()
        assert error_codes(body) == ["FORBIDDEN"], body
        assert body["errors"][0]["path"] == ["node", "email"]
        # The public profile still resolves; the address appears nowhere.
        assert body["data"]["node"] == {
            "id": uid,
            "displayName": body["data"]["node"]["displayName"],
            "role": "MEMBER",
            "email": None,
        }
        assert email not in response.text
        assert email.split("@")[0] not in response.text


async def test_user_businesses(
    app: Starlette, engine: AsyncEngine, client: httpx.AsyncClient
) -> None:
    owner = await make_user(engine)
    await make_businesses(engine, 2, owner_id=owner, tag="owned")
    await make_businesses(engine, 1, tag="other")
    body = await gql(
        client,
        "query ($id: ID!) { node(id: $id) { ... on User { businesses { name } } } }",
        {"id": encode_id("User", owner)},
    )
    assert "errors" not in body, body
    assert sorted(b["name"] for b in body["data"]["node"]["businesses"]) == [
        "Business 0",
        "Business 1",
    ]


async def test_missing_user_is_not_found(client: httpx.AsyncClient) -> None:
    body = await gql(client, USER, {"id": encode_id("User", 987654)})
    assert body["data"]["node"] is None
    assert error_codes(body) == ["NOT_FOUND"]


USERS_WITH_RELATIONS = """
query ($ids: [ID!]!) {
  nodes(ids: $ids) {
    ... on User { displayName role email businesses { name } portfolios { name totalValue } }
  }
}
"""


@pytest.mark.parametrize("n", [10, 100])
async def test_users_statement_count_does_not_grow(
    app: Starlette,
    engine: AsyncEngine,
    client: httpx.AsyncClient,
    sql: StatementCounter,
    n: int,
) -> None:
    user_ids = await make_users(engine, n)
    for i, user_id in enumerate(user_ids):
        await make_businesses(engine, 1, owner_id=user_id, tag=f"{n}-{i}")
    async with engine.begin() as conn:
        await conn.execute(
            insert(Portfolio),
            [{"owner_id": u, "name": "Main", "cash_balance": 100} for u in user_ids],
        )
    act_as(app, await make_principal(engine, Role.ADMIN))
    sql.reset()
    body = await gql(
        client, USERS_WITH_RELATIONS, {"ids": [encode_id("User", u) for u in user_ids]}
    )
    assert "errors" not in body, body
    nodes = body["data"]["nodes"]
    assert len(nodes) == n
    assert all(len(node["businesses"]) == 1 and node["email"] for node in nodes)
    assert all(node["portfolios"] == [{"name": "Main", "totalValue": "100.0000"}] for node in nodes)
    print(
        f"nodes(users) with email, businesses, portfolios {{ totalValue }}, {n}: "
        f"{sql.count} statements"
    )
    # users, businesses by owner, portfolios by owner, valuations.
    assert sql.count == 4
