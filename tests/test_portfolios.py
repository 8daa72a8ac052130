"""Portfolios, holdings, transactions and securities: reads, valuation, access (R4, R7, R14)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.applications import Starlette

from graphql_api.core.auth.principal import ANONYMOUS, Principal
from graphql_api.core.db.enums import Role
from graphql_api.core.ids import encode_id
from graphql_api.devtools.seed import seed_demo
from tests.conftest import StatementCounter, act_as
from tests.factories_portfolios import (
    make_filled_portfolios,
    make_holdings,
    make_portfolios,
    make_principal,
    make_securities,
    make_transactions,
    make_user,
)
from tests.graphql_client import error_codes, gql

ME_PORTFOLIOS = """
{
  me {
    portfolios {
      holdings { security { symbol lastPrice } quantity marketValue }
      transactions(first: 3) { edges { node { side security { symbol } } } }
      totalValue
      unrealizedPnl
    }
  }
}
"""

SECURITIES_PAGE = """
query ($first: Int, $after: String, $symbols: [String!]) {
  securities(first: $first, after: $after, symbols: $symbols) {
    edges { node { id symbol lastPrice } }
    pageInfo { hasNextPage hasPreviousPage endCursor }
    totalCount
  }
}
"""

PORTFOLIO = """
query ($id: ID!) { portfolio(id: $id) { id name cashBalance totalValue
  owner { displayName } holdings { quantity } transactions { edges { node { id } } } } }
"""

NODE = "query ($id: ID!) { node(id: $id) { id ... on Portfolio { name cashBalance } } }"
TX_NODE = "query ($id: ID!) { node(id: $id) { id ... on Transaction { side quantity } } }"


# --- R14: statements do not grow with the number of portfolios -----------------------------


async def _me_portfolios_statements(
    app: Starlette,
    engine: AsyncEngine,
    client: httpx.AsyncClient,
    sql: StatementCounter,
    n: int,
    security_ids: list[int],
) -> int:
    admin = await make_principal(engine, Role.ADMIN)
    assert admin.user_id is not None
    await make_filled_portfolios(engine, admin.user_id, n, security_ids)
    act_as(app, admin)
    sql.reset()
    body = await gql(client, ME_PORTFOLIOS)
    assert "errors" not in body, body
    portfolios = body["data"]["me"]["portfolios"]
    assert len(portfolios) == n
    for portfolio in portfolios:
        assert len(portfolio["holdings"]) == 3
        assert len(portfolio["transactions"]["edges"]) == 3
        assert all(h["security"]["symbol"] for h in portfolio["holdings"])
    # The nested connection of every portfolio comes from one windowed statement.
    assert sum("FROM transactions" in statement for statement in sql.statements) == 1
    return sql.count


async def test_me_portfolios_statement_count_does_not_grow(
    app: Starlette, engine: AsyncEngine, client: httpx.AsyncClient, sql: StatementCounter
) -> None:
    security_ids = await make_securities(engine, 20)
    small = await _me_portfolios_statements(app, engine, client, sql, 10, security_ids)
    large = await _me_portfolios_statements(app, engine, client, sql, 200, security_ids)
    print(f"me.portfolios (holdings, transactions(first:3), valuation), 10: {small} statements")
    print(f"me.portfolios (holdings, transactions(first:3), valuation), 200: {large} statements")
    assert small == large
    # user, portfolios, holdings, their securities, windowed transactions, valuation. The
    # transactions' securities are the held ones, already loaded; a trade in a security no
    # longer held may add one more batched statement, still independent of N.
    assert large == 6


@pytest.mark.parametrize("n", [10, 200])
async def test_securities_statement_count_does_not_grow(
    engine: AsyncEngine, client: httpx.AsyncClient, sql: StatementCounter, n: int
) -> None:
    await make_securities(engine, n)
    sql.reset()
    body = await gql(client, SECURITIES_PAGE, {"first": 100})
    assert "errors" not in body, body
    assert len(body["data"]["securities"]["edges"]) == min(n, 100)
    assert body["data"]["securities"]["totalCount"] == n
    print(f"securities(first:100) with totalCount, {n} rows: {sql.count} statements")
    assert sql.count == 2  # the page, the count


async def test_valuation_never_reads_the_transaction_history(
    app: Starlette, engine: AsyncEngine, client: httpx.AsyncClient, sql: StatementCounter
) -> None:
    owner = await make_principal(engine)
    assert owner.user_id is not None
    security_ids = await make_securities(engine, 3)
    [portfolio_id] = await make_filled_portfolios(engine, owner.user_id, 1, security_ids)
    act_as(app, owner)
    sql.reset()
    body = await gql(
        client,
        "query ($id: ID!) { portfolio(id: $id) { totalValue unrealizedPnl } }",
        {"id": encode_id("Portfolio", portfolio_id)},
    )
    assert "errors" not in body, body
    print(f"portfolio(id) {{ totalValue unrealizedPnl }}: {sql.count} statements")
    assert sql.count == 2  # the portfolio, its valuation
    assert not any("transactions" in statement for statement in sql.statements)  # R4


# --- R4: total value is cash + holdings at last prices, exact ------------------------------


async def test_hand_built_valuation_is_exact(
    app: Starlette, engine: AsyncEngine, client: httpx.AsyncClient
) -> None:
    owner = await make_principal(engine)
    assert owner.user_id is not None
    a, b, c = await make_securities(
        engine, 3, prices=[Decimal("10.500000"), Decimal("3.333333"), None]
    )
    full, empty = await make_portfolios(engine, owner.user_id, 2, cash=Decimal("1000.1234"))
    await make_holdings(
        engine,
        [
            (full, a, Decimal("2.5"), Decimal("10")),
            (full, b, Decimal("3"), Decimal("4")),
            (full, c, Decimal("7"), Decimal("1")),  # unpriced: worth 0, no P&L
        ],
    )
    act_as(app, owner)
    body = await gql(
        client,
        "query ($a: ID!, $b: ID!) { "
        "full: portfolio(id: $a) { cashBalance totalValue unrealizedPnl "
        "holdings { security { symbol } marketValue } } "
        "empty: portfolio(id: $b) { totalValue unrealizedPnl holdings { marketValue } } }",
        {"a": encode_id("Portfolio", full), "b": encode_id("Portfolio", empty)},
    )
    assert "errors" not in body, body
    data = body["data"]
    # 1000.1234 + 2.5 x 10.5 + 3 x 3.333333 + 7 x 0
    assert data["full"]["totalValue"] == "1036.373399"
    # 2.5 x (10.5 - 10) + 3 x (3.333333 - 4)
    assert data["full"]["unrealizedPnl"] == "-0.750001"
    assert [h["marketValue"] for h in data["full"]["holdings"]] == ["26.2500", "9.999999", "0.0000"]
    assert data["empty"] == {"totalValue": "1000.1234", "unrealizedPnl": "0.0000", "holdings": []}


INDEPENDENT_VALUATION = text(
    """
    SELECT p.id,
           p.cash_balance + COALESCE((
               SELECT SUM(h.quantity * s.last_price)
               FROM holdings h JOIN securities s ON s.id = h.security_id
               WHERE h.portfolio_id = p.id AND s.last_price IS NOT NULL), 0),
           COALESCE((
               SELECT SUM(h.quantity * (s.last_price - h.average_cost))
               FROM holdings h JOIN securities s ON s.id = h.security_id
               WHERE h.portfolio_id = p.id AND s.last_price IS NOT NULL), 0)
    FROM portfolios p ORDER BY p.id
    """
)


async def test_seeded_total_value_matches_independent_sql(
    app: Starlette, engine: AsyncEngine, client: httpx.AsyncClient
) -> None:
    await seed_demo(engine, scale=1, today=dt.date(2026, 3, 2))
    async with engine.connect() as conn:
        expected = {row[0]: (row[1], row[2]) for row in await conn.execute(INDEPENDENT_VALUATION)}
    assert 0 < len(expected) <= 100
    act_as(app, Principal(user_id=await make_user(engine, role=Role.ADMIN), role=Role.ADMIN))
    body = await gql(
        client,
        "query ($ids: [ID!]!) { nodes(ids: $ids) { id ... on Portfolio { cashBalance "
        "totalValue unrealizedPnl holdings { quantity marketValue } } } }",
        {"ids": [encode_id("Portfolio", pk) for pk in expected]},
    )
    assert "errors" not in body, body
    held = 0
    for pk, node in zip(expected, body["data"]["nodes"], strict=True):
        total, pnl = expected[pk]
        assert Decimal(node["totalValue"]) == total, pk
        assert Decimal(node["unrealizedPnl"]) == pnl, pk
        market = sum((Decimal(h["marketValue"]) for h in node["holdings"]), Decimal(0))
        assert Decimal(node["cashBalance"]) + market == total
        held += len(node["holdings"])
    assert held > 0


# --- R7: owner and admin see a portfolio; for everyone else it does not exist -------------


async def _portfolio_with_history(engine: AsyncEngine) -> tuple[Principal, int, int]:
    owner = await make_principal(engine)
    assert owner.user_id is not None
    security_ids = await make_securities(engine, 2)
    [portfolio_id] = await make_portfolios(
        engine, owner.user_id, 1, name="Secret Stash 7731", cash=Decimal("4242.4242")
    )
    await make_holdings(engine, [(portfolio_id, security_ids[0], Decimal(5), Decimal(9))])
    [tx_id] = await make_transactions(engine, portfolio_id, security_ids, 1)
    return owner, portfolio_id, tx_id


async def test_owner_and_admin_see_the_portfolio(
    app: Starlette, engine: AsyncEngine, client: httpx.AsyncClient
) -> None:
    owner, portfolio_id, tx_id = await _portfolio_with_history(engine)
    admin = await make_principal(engine, Role.ADMIN)
    pid, tid = encode_id("Portfolio", portfolio_id), encode_id("Transaction", tx_id)
    for principal in (owner, admin):
        act_as(app, principal)
        body = await gql(client, PORTFOLIO, {"id": pid})
        assert "errors" not in body, body
        portfolio = body["data"]["portfolio"]
        assert portfolio["name"] == "Secret Stash 7731"
        assert portfolio["cashBalance"] == "4242.4242"
        assert portfolio["holdings"] == [{"quantity": "5.000000"}]
        assert portfolio["transactions"]["edges"] == [{"node": {"id": tid}}]
        node = await gql(client, NODE, {"id": pid})
        assert node["data"]["node"] == {
            "id": pid,
            "name": "Secret Stash 7731",
            "cashBalance": "4242.4242",
        }
        tx = await gql(client, TX_NODE, {"id": tid})
        assert tx["data"]["node"] == {"id": tid, "side": "SELL", "quantity": "1.000000"}


async def test_others_get_not_found_and_no_portfolio_data(
    app: Starlette, engine: AsyncEngine, client: httpx.AsyncClient
) -> None:
    _, portfolio_id, tx_id = await _portfolio_with_history(engine)
    other = await make_principal(engine)
    editor = await make_principal(engine, Role.EDITOR)
    service = Principal(api_key_id=1, scopes=frozenset({"prices:write", "briefings:write"}))
    pid, tid = encode_id("Portfolio", portfolio_id), encode_id("Transaction", tx_id)
    missing_pid = encode_id("Portfolio", portfolio_id + 1000)
    missing_tid = encode_id("Transaction", tx_id + 1000)
    for principal in (other, editor, ANONYMOUS, service):
        act_as(app, principal)
        for query, hidden, missing in (
            (PORTFOLIO, pid, missing_pid),
            (NODE, pid, missing_pid),
            (TX_NODE, tid, missing_tid),
        ):
            response = await client.post(
                "/graphql", json={"query": query, "variables": {"id": hidden}}
            )
            body = response.json()
            assert error_codes(body) == ["NOT_FOUND"], (principal, body)
            assert set(body["data"].values()) == {None}
            assert "Secret Stash" not in response.text
            assert "4242" not in response.text
            # Exactly what a missing ID gets: nothing tells that the row exists.
            absent = await gql(client, query, {"id": missing})
            assert body == absent


async def test_user_portfolios_are_forbidden_to_others(
    app: Starlette, engine: AsyncEngine, client: httpx.AsyncClient
) -> None:
    owner, _, _ = await _portfolio_with_history(engine)
    assert owner.user_id is not None
    uid = encode_id("User", owner.user_id)
    query = "query ($id: ID!) { node(id: $id) { ... on User { displayName portfolios { name } } } }"
    for principal in (
        await make_principal(engine),
        await make_principal(engine, Role.EDITOR),
        ANONYMOUS,
    ):
        act_as(app, principal)
        response = await client.post("/graphql", json={"query": query, "variables": {"id": uid}})
        body = response.json()
        assert error_codes(body) == ["FORBIDDEN"], body
        assert body["errors"][0]["path"] == ["node", "portfolios"]
        assert "Secret Stash" not in response.text
    act_as(app, await make_principal(engine, Role.ADMIN))
    body = await gql(client, query, {"id": uid})
    assert "errors" not in body, body
    assert body["data"]["node"]["portfolios"] == [{"name": "Secret Stash 7731"}]


async def test_portfolio_with_an_id_of_another_type_is_bad_input(
    client: httpx.AsyncClient,
) -> None:
    body = await gql(client, PORTFOLIO, {"id": encode_id("Security", 1)})
    assert error_codes(body) == ["BAD_USER_INPUT"]
    assert body["errors"][0]["extensions"]["field"] == "id"


# --- Pagination -------------------------------------------------------------------------


async def test_walk_transactions_newest_first(
    app: Starlette, engine: AsyncEngine, client: httpx.AsyncClient
) -> None:
    owner = await make_principal(engine)
    assert owner.user_id is not None
    security_ids = await make_securities(engine, 2)
    [portfolio_id] = await make_portfolios(engine, owner.user_id, 1)
    tx_ids = await make_transactions(engine, portfolio_id, security_ids, 23)
    act_as(app, owner)
    query = (
        "query ($id: ID!, $after: String) { portfolio(id: $id) { transactions(first: 5, "
        "after: $after) { edges { node { id executedAt } } "
        "pageInfo { hasNextPage hasPreviousPage endCursor } totalCount } } }"
    )
    seen: list[str] = []
    after = None
    while True:
        body = await gql(
            client, query, {"id": encode_id("Portfolio", portfolio_id), "after": after}
        )
        assert "errors" not in body, body
        conn = body["data"]["portfolio"]["transactions"]
        assert conn["totalCount"] == 23
        assert conn["pageInfo"]["hasPreviousPage"] is (after is not None)
        seen += [e["node"]["id"] for e in conn["edges"]]
        if not conn["pageInfo"]["hasNextPage"]:
            break
        after = conn["pageInfo"]["endCursor"]
    # The factory puts trade i at minute i, except that every third shares the previous
    # minute: newest first, ties by id descending.
    minute = {tx: (i - 1 if i % 3 == 2 else i) for i, tx in enumerate(tx_ids)}
    expected = sorted(tx_ids, key=lambda tx: (minute[tx], tx), reverse=True)
    assert seen == [encode_id("Transaction", tx) for tx in expected]


async def test_bad_transactions_cursor_is_bad_input(
    app: Starlette, engine: AsyncEngine, client: httpx.AsyncClient
) -> None:
    owner = await make_principal(engine)
    assert owner.user_id is not None
    [portfolio_id] = await make_portfolios(engine, owner.user_id, 1)
    act_as(app, owner)
    body = await gql(
        client,
        'query ($id: ID!) { portfolio(id: $id) { name transactions(after: "WyJ4IiwxLDJd") '
        "{ edges { cursor } } } }",
        {"id": encode_id("Portfolio", portfolio_id)},
    )
    assert error_codes(body) == ["BAD_USER_INPUT"]
    assert body["errors"][0]["extensions"]["field"] == "after"


async def test_walk_securities_by_symbol(engine: AsyncEngine, client: httpx.AsyncClient) -> None:
    # Inserted out of symbol order: the list must still come back by symbol.
    await make_securities(engine, 12, prefix="B")
    await make_securities(engine, 11, prefix="A")
    seen: list[str] = []
    after = None
    while True:
        body = await gql(client, SECURITIES_PAGE, {"first": 5, "after": after})
        conn = body["data"]["securities"]
        assert conn["totalCount"] == 23
        seen += [e["node"]["symbol"] for e in conn["edges"]]
        if not conn["pageInfo"]["hasNextPage"]:
            break
        after = conn["pageInfo"]["endCursor"]
    assert seen == [f"A{i:04d}" for i in range(11)] + [f"B{i:04d}" for i in range(12)]


async def test_securities_filtered_by_symbols(
    engine: AsyncEngine, client: httpx.AsyncClient
) -> None:
    await make_securities(
        engine, 5, prices=[Decimal("1.5"), None, Decimal(3), Decimal(4), Decimal(5)]
    )
    body = await gql(client, SECURITIES_PAGE, {"symbols": ["S0003", "S0001", "NOPE"]})
    conn: dict[str, Any] = body["data"]["securities"]
    assert [e["node"]["symbol"] for e in conn["edges"]] == ["S0001", "S0003"]
    assert [e["node"]["lastPrice"] for e in conn["edges"]] == [None, "4.000000"]
    assert conn["totalCount"] == 2


@pytest.mark.parametrize(
    ("variables", "field"),
    [({"first": 101}, "first"), ({"symbols": ["X"] * 101}, "symbols"), ({"after": "zz"}, "after")],
)
async def test_bad_securities_arguments(
    client: httpx.AsyncClient, variables: dict[str, Any], field: str
) -> None:
    body = await gql(client, SECURITIES_PAGE, variables)
    assert error_codes(body) == ["BAD_USER_INPUT"]
    assert body["errors"][0]["extensions"]["field"] == field
