"""createPortfolio and placeTrade: rules, arithmetic, idempotency, access (R4, R7, R9, R11, R12)."""

from __future__ import annotations

import dataclasses
from decimal import Decimal
from typing import Any

import httpx
import orjson
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.applications import Starlette

from graphql_api.core.auth.principal import Principal
from graphql_api.core.db.enums import Role
from graphql_api.core.ids import encode_id
from tests.conftest import StatementCounter, act_as
from tests.factories_mutations_bp import (
    EventListener,
    audit_actions,
    make_callers,
    make_service,
    post,
    snapshot,
)
from tests.factories_portfolios import (
    make_holdings,
    make_portfolios,
    make_principal,
    make_securities,
    make_transactions,
)
from tests.graphql_client import error_codes

CREATE = """
mutation ($input: CreatePortfolioInput!) {
  createPortfolio(input: $input) {
    portfolio { id name baseCurrency cashBalance owner { id } holdings { quantity } totalValue }
    errors { field message code }
  }
}
"""

TRADE = """
mutation ($input: PlaceTradeInput!) {
  placeTrade(input: $input) {
    transaction { id side quantity price fee security { symbol } }
    portfolio {
      id cashBalance totalValue
      holdings { security { symbol } quantity averageCost }
      transactions(first: 5) { totalCount edges { node { id } } }
    }
    replayed
    errors { field message code }
  }
}
"""


async def create(client: httpx.AsyncClient, data: dict[str, Any]) -> dict[str, Any]:
    body = await post(client, CREATE, {"input": data})
    assert "errors" not in body, body
    payload: dict[str, Any] = body["data"]["createPortfolio"]
    return payload


async def trade(
    client: httpx.AsyncClient,
    portfolio_id: int,
    symbol: str,
    side: str,
    quantity: str,
    key: str | None = None,
) -> dict[str, Any]:
    data = {
        "portfolioId": encode_id("Portfolio", portfolio_id),
        "symbol": symbol,
        "side": side,
        "quantity": quantity,
        "idempotencyKey": key,
    }
    body = await post(client, TRADE, {"input": data})
    assert "errors" not in body, body
    payload: dict[str, Any] = body["data"]["placeTrade"]
    return payload


async def ledger(engine: AsyncEngine, portfolio_id: int) -> dict[str, Any]:
    async with engine.connect() as conn:
        cash = (
            await conn.execute(
                text("SELECT cash_balance FROM portfolios WHERE id = :p"), {"p": portfolio_id}
            )
        ).scalar_one()
        holdings = (
            await conn.execute(
                text(
                    "SELECT s.symbol, h.quantity, h.average_cost FROM holdings h "
                    "JOIN securities s ON s.id = h.security_id WHERE h.portfolio_id = :p "
                    "ORDER BY s.symbol"
                ),
                {"p": portfolio_id},
            )
        ).all()
        trades = (
            await conn.execute(
                text(
                    "SELECT side, quantity, price, fee, idempotency_key FROM transactions "
                    "WHERE portfolio_id = :p ORDER BY id"
                ),
                {"p": portfolio_id},
            )
        ).all()
    return {"cash": cash, "holdings": [tuple(h) for h in holdings], "trades": trades}


async def set_price(engine: AsyncEngine, symbol: str, price: Decimal | None) -> None:
    async with engine.begin() as conn:
        await conn.execute(
            text("UPDATE securities SET last_price = :v WHERE symbol = :s"),
            {"v": price, "s": symbol},
        )


@pytest.fixture
async def member(app: Starlette, engine: AsyncEngine) -> Principal:
    principal = await make_principal(engine, Role.MEMBER)
    act_as(app, principal)
    return principal


# --- createPortfolio --------------------------------------------------------------------


async def test_create_portfolio_for_the_caller(
    engine: AsyncEngine, client: httpx.AsyncClient, member: Principal
) -> None:
    payload = await create(client, {"name": " Main ", "initialCash": "2500.5"})
    assert payload["errors"] == []
    portfolio = payload["portfolio"]
    assert portfolio["name"] == "Main"
    assert portfolio["baseCurrency"] == "USD"
    assert Decimal(portfolio["cashBalance"]) == Decimal("2500.5")
    assert Decimal(portfolio["totalValue"]) == Decimal("2500.5")
    assert portfolio["holdings"] == []
    assert portfolio["owner"]["id"] == encode_id("User", member.user_id or 0)
    krw = await create(client, {"name": "Korea", "baseCurrency": "KRW", "initialCash": "0"})
    assert krw["portfolio"]["baseCurrency"] == "KRW"
    assert await audit_actions(engine) == ["portfolio.created", "portfolio.created"]


async def test_portfolio_names_are_unique_per_owner(
    app: Starlette, engine: AsyncEngine, client: httpx.AsyncClient, member: Principal
) -> None:
    await create(client, {"name": "Main", "initialCash": "1"})
    before = await snapshot(engine)
    duplicate = await create(client, {"name": "Main", "initialCash": "2"})
    assert duplicate["portfolio"] is None
    assert [(e["code"], e["field"]) for e in duplicate["errors"]] == [("DUPLICATE", "input.name")]
    assert await snapshot(engine) == before
    act_as(app, await make_principal(engine))
    assert (await create(client, {"name": "Main", "initialCash": "2"}))["errors"] == []


CREATE_BAD_INPUTS: list[tuple[str, dict[str, Any], str, str]] = [
    ("empty name", {"name": "  "}, "REQUIRED", "input.name"),
    ("name too long", {"name": "n" * 101}, "TOO_LONG", "input.name"),
    ("lower-case currency", {"baseCurrency": "usd"}, "INVALID_FORMAT", "input.baseCurrency"),
    ("short currency", {"baseCurrency": "US"}, "INVALID_FORMAT", "input.baseCurrency"),
    ("long currency", {"baseCurrency": "USDX"}, "INVALID_FORMAT", "input.baseCurrency"),
    ("negative cash", {"initialCash": "-0.01"}, "OUT_OF_RANGE", "input.initialCash"),
    ("too many decimals", {"initialCash": "1.00001"}, "INVALID_FORMAT", "input.initialCash"),
    ("absurd cash", {"initialCash": "1000000000000.0001"}, "OUT_OF_RANGE", "input.initialCash"),
    ("infinite cash", {"initialCash": "Infinity"}, "INVALID_VALUE", "input.initialCash"),
]


@pytest.mark.parametrize(
    ("case", "overrides", "code", "field"), CREATE_BAD_INPUTS, ids=[c[0] for c in CREATE_BAD_INPUTS]
)
async def test_create_portfolio_bad_input(
    engine: AsyncEngine,
    client: httpx.AsyncClient,
    member: Principal,
    case: str,
    overrides: dict[str, Any],
    code: str,
    field: str,
) -> None:
    before = await snapshot(engine)
    payload = await create(client, {"name": "Main", "initialCash": "100", **overrides})
    assert payload["portfolio"] is None
    assert {(e["code"], e["field"]) for e in payload["errors"]} == {(code, field)}
    assert await snapshot(engine) == before


async def test_create_portfolio_cash_that_is_not_a_decimal_is_bad_user_input(
    engine: AsyncEngine, client: httpx.AsyncClient, member: Principal
) -> None:
    before = await snapshot(engine)
    body = await post(client, CREATE, {"input": {"name": "Main", "initialCash": "lots"}})
    assert error_codes(body) == ["BAD_USER_INPUT"]
    assert await snapshot(engine) == before


async def test_who_may_create_portfolios(
    app: Starlette, engine: AsyncEngine, client: httpx.AsyncClient
) -> None:
    callers = (await make_callers(engine, "prices:write")).named()
    expected = {
        "anonymous": "UNAUTHENTICATED",
        "member": None,
        "other_member": None,
        "editor": None,
        "admin": None,
        # Portfolios belong to users; a service key has none.
        "service_with_scope": "UNAUTHENTICATED",
        "service_without_scope": "UNAUTHENTICATED",
    }
    for name, principal in callers.items():
        act_as(app, principal)
        before = await snapshot(engine)
        body = await post(client, CREATE, {"input": {"name": "Mine", "initialCash": "10"}})
        if expected[name] is None:
            assert body["data"]["createPortfolio"]["errors"] == [], (name, body)
            assert body["data"]["createPortfolio"]["portfolio"]["owner"]["id"] == encode_id(
                "User", principal.user_id or 0
            )
        else:
            assert error_codes(body) == [expected[name]], (name, body)
            assert await snapshot(engine) == before


# --- placeTrade: arithmetic and state -----------------------------------------------------


async def test_buy_buy_sell_moves_cash_and_holdings_exactly(
    engine: AsyncEngine, client: httpx.AsyncClient, member: Principal
) -> None:
    assert member.user_id is not None
    await make_securities(engine, 2)  # S0000 at 10.5, S0001 at 11.5
    (pid,) = await make_portfolios(engine, member.user_id, 1, cash=Decimal("1000.0000"))

    first = await trade(client, pid, "S0000", "BUY", "3.5")
    assert first["errors"] == []
    assert first["replayed"] is False
    tx = first["transaction"]
    assert (tx["side"], tx["security"]["symbol"]) == ("BUY", "S0000")
    assert Decimal(tx["quantity"]) == Decimal("3.5")
    assert Decimal(tx["price"]) == Decimal("10.5")
    # notional 36.75; fee 10 bps = 0.03675 -> 0.0368 (half-even, 4 dp).
    assert Decimal(tx["fee"]) == Decimal("0.0368")
    portfolio = first["portfolio"]
    assert Decimal(portfolio["cashBalance"]) == Decimal("963.2132")
    holdings = [
        (h["security"]["symbol"], Decimal(h["quantity"]), Decimal(h["averageCost"]))
        for h in portfolio["holdings"]
    ]
    assert holdings == [("S0000", Decimal("3.5"), Decimal("10.5"))]
    assert portfolio["transactions"]["totalCount"] == 1
    assert portfolio["transactions"]["edges"][0]["node"]["id"] == tx["id"]
    assert Decimal(portfolio["totalValue"]) == Decimal("963.2132") + Decimal("36.75")

    await set_price(engine, "S0000", Decimal(12))
    second = await trade(client, pid, "S0000", "BUY", "1.5")
    # notional 18, fee 0.018 -> 0.0180; average cost (36.75 + 18) / 5 = 10.95 (fees excluded).
    assert Decimal(second["transaction"]["fee"]) == Decimal("0.018")
    holding = second["portfolio"]["holdings"][0]
    assert (Decimal(holding["quantity"]), Decimal(holding["averageCost"])) == (
        Decimal(5),
        Decimal("10.95"),
    )
    assert Decimal(second["portfolio"]["cashBalance"]) == Decimal("945.1952")

    sold = await trade(client, pid, "S0000", "SELL", "5")
    # notional 60, fee 0.06: cash + 59.94; the holding sold to zero is deleted.
    assert Decimal(sold["portfolio"]["cashBalance"]) == Decimal("1005.1352")
    assert sold["portfolio"]["holdings"] == []
    assert sold["portfolio"]["transactions"]["totalCount"] == 3

    state = await ledger(engine, pid)
    assert state["cash"] == Decimal("1005.1352")
    assert state["holdings"] == []
    assert [(t.side, t.quantity, t.price, t.fee) for t in state["trades"]] == [
        ("BUY", Decimal("3.5"), Decimal("10.5"), Decimal("0.0368")),
        ("BUY", Decimal("1.5"), Decimal(12), Decimal("0.018")),
        ("SELL", Decimal(5), Decimal(12), Decimal("0.06")),
    ]
    assert await audit_actions(engine) == ["trade.placed"] * 3


async def test_partial_sell_keeps_the_average_cost(
    engine: AsyncEngine, client: httpx.AsyncClient, member: Principal
) -> None:
    assert member.user_id is not None
    (sid,) = await make_securities(engine, 1, prices=[Decimal("20")])
    (pid,) = await make_portfolios(engine, member.user_id, 1)
    await make_holdings(engine, [(pid, sid, Decimal("10"), Decimal("15.123456"))])
    payload = await trade(client, pid, "S0000", "SELL", "2.25")
    assert payload["errors"] == []
    assert (await ledger(engine, pid))["holdings"] == [
        ("S0000", Decimal("7.75"), Decimal("15.123456"))
    ]


async def test_the_fee_rate_comes_from_settings(
    app: Starlette, engine: AsyncEngine, client: httpx.AsyncClient, member: Principal
) -> None:
    assert member.user_id is not None
    app.state.settings = dataclasses.replace(app.state.settings, trade_fee_bps=25)
    await make_securities(engine, 1, prices=[Decimal("100")])
    (pid,) = await make_portfolios(engine, member.user_id, 1)
    payload = await trade(client, pid, "S0000", "BUY", "3")
    # 300 x 25 bps = 0.75
    assert Decimal(payload["transaction"]["fee"]) == Decimal("0.75")
    assert Decimal(payload["portfolio"]["cashBalance"]) == Decimal("1000") - Decimal("300.75")


async def test_a_trade_is_audited_and_announced(
    engine: AsyncEngine, client: httpx.AsyncClient, member: Principal, redis_url: str
) -> None:
    assert member.user_id is not None
    await make_securities(engine, 1)
    (pid,) = await make_portfolios(engine, member.user_id, 1)
    async with EventListener(redis_url) as events:
        payload = await trade(client, pid, "S0000", "BUY", "1")
        assert await events.drain() == [
            ("portfolio.updated", orjson.dumps({"portfolio_ids": [pid], "reason": "trade"}))
        ]
        # A refused trade announces nothing.
        await trade(client, pid, "S0000", "SELL", "5")
        assert await events.drain() == []
    async with engine.connect() as conn:
        row = (
            await conn.execute(
                text(
                    "SELECT action, actor_user_id, target_type, target_id, details FROM audit_logs"
                )
            )
        ).one()
    assert row.action == "trade.placed"
    assert row.actor_user_id == member.user_id
    assert (row.target_type, row.target_id) == ("Portfolio", str(pid))
    assert row.details["side"] == "BUY"
    assert encode_id("Transaction", row.details["transaction_id"]) == payload["transaction"]["id"]


async def _trade_statements(
    engine: AsyncEngine,
    client: httpx.AsyncClient,
    sql: StatementCounter,
    owner: int,
    security_ids: list[int],
    n: int,
) -> int:
    (pid,) = await make_portfolios(engine, owner, 1, name=f"P{n}")
    await make_holdings(engine, [(pid, s, Decimal(1), Decimal(10)) for s in security_ids[:n]])
    await make_transactions(engine, pid, security_ids[:n], n)
    sql.reset()
    payload = await trade(client, pid, "S0000", "BUY", "1", key=f"k{n}")
    assert payload["errors"] == []
    return sql.count


async def test_statements_per_trade_do_not_grow_with_the_portfolio(
    engine: AsyncEngine, client: httpx.AsyncClient, member: Principal, sql: StatementCounter
) -> None:
    assert member.user_id is not None
    security_ids = await make_securities(engine, 40)
    small = await _trade_statements(engine, client, sql, member.user_id, security_ids, 2)
    large = await _trade_statements(engine, client, sql, member.user_id, security_ids, 40)
    assert small == large


# --- placeTrade: idempotency --------------------------------------------------------------


async def test_a_retried_key_returns_the_first_trade(
    engine: AsyncEngine, client: httpx.AsyncClient, member: Principal
) -> None:
    assert member.user_id is not None
    await make_securities(engine, 2)
    pid, other = await make_portfolios(engine, member.user_id, 2)
    first = await trade(client, pid, "S0000", "BUY", "2", key="order-1")
    again = await trade(client, pid, "S0000", "BUY", "2.000", key="order-1")
    assert again["errors"] == []
    assert again["replayed"] is True
    assert again["transaction"] == first["transaction"]
    assert again["portfolio"]["cashBalance"] == first["portfolio"]["cashBalance"]
    assert len((await ledger(engine, pid))["trades"]) == 1
    assert await audit_actions(engine) == ["trade.placed"]

    # Keys are per portfolio.
    elsewhere = await trade(client, other, "S0000", "BUY", "2", key="order-1")
    assert elsewhere["replayed"] is False
    assert elsewhere["transaction"]["id"] != first["transaction"]["id"]


@pytest.mark.parametrize(
    ("symbol", "side", "quantity"),
    [("S0001", "BUY", "2"), ("S0000", "SELL", "2"), ("S0000", "BUY", "3")],
    ids=["other symbol", "other side", "other quantity"],
)
async def test_a_key_reused_for_a_different_trade_is_refused(
    engine: AsyncEngine,
    client: httpx.AsyncClient,
    member: Principal,
    symbol: str,
    side: str,
    quantity: str,
) -> None:
    assert member.user_id is not None
    await make_securities(engine, 2)
    (pid,) = await make_portfolios(engine, member.user_id, 1)
    await trade(client, pid, "S0000", "BUY", "2", key="order-1")
    before = await snapshot(engine)
    payload = await trade(client, pid, symbol, side, quantity, key="order-1")
    assert [(e["code"], e["field"]) for e in payload["errors"]] == [
        ("INVALID_VALUE", "input.idempotencyKey")
    ]
    assert payload["transaction"] is None
    assert await snapshot(engine) == before


# --- placeTrade: refusals (R11, R12) --------------------------------------------------------

# (case, input overrides, code, field). The portfolio holds 2 S0000 and 1000 USD; S0001 has
# no price; K0000 is priced in KRW.
TRADE_BAD_INPUTS: list[tuple[str, dict[str, Any], str, str]] = [
    ("malformed ID", {"portfolioId": "not-an-id"}, "INVALID_FORMAT", "input.portfolioId"),
    (
        "ID of another type",
        {"portfolioId": encode_id("Security", 1)},
        "NOT_FOUND",
        "input.portfolioId",
    ),
    (
        "unknown ID",
        {"portfolioId": encode_id("Portfolio", 999_999)},
        "NOT_FOUND",
        "input.portfolioId",
    ),
    ("empty symbol", {"symbol": ""}, "REQUIRED", "input.symbol"),
    ("symbol too long", {"symbol": "S" * 17}, "TOO_LONG", "input.symbol"),
    ("unknown symbol", {"symbol": "NOPE"}, "UNKNOWN_SYMBOL", "input.symbol"),
    ("no price", {"symbol": "S0001"}, "NO_PRICE", "input.symbol"),
    ("other currency", {"symbol": "K0000"}, "INVALID_VALUE", "input.symbol"),
    ("zero quantity", {"quantity": "0"}, "OUT_OF_RANGE", "input.quantity"),
    ("negative quantity", {"quantity": "-1"}, "OUT_OF_RANGE", "input.quantity"),
    ("too many decimals", {"quantity": "0.0000001"}, "INVALID_FORMAT", "input.quantity"),
    ("absurd quantity", {"quantity": "1e13"}, "OUT_OF_RANGE", "input.quantity"),
    ("not a number", {"quantity": "NaN"}, "INVALID_VALUE", "input.quantity"),
    ("insufficient cash", {"quantity": "95.2"}, "INSUFFICIENT_CASH", "input.quantity"),
    (
        "selling more than held",
        {"side": "SELL", "quantity": "2.000001"},
        "INSUFFICIENT_HOLDINGS",
        "input.quantity",
    ),
    (
        "selling what is not held",
        {"side": "SELL", "symbol": "S0002"},
        "INSUFFICIENT_HOLDINGS",
        "input.quantity",
    ),
    ("blank key", {"idempotencyKey": " "}, "REQUIRED", "input.idempotencyKey"),
    ("key too long", {"idempotencyKey": "k" * 65}, "TOO_LONG", "input.idempotencyKey"),
]


@pytest.mark.parametrize(
    ("case", "overrides", "code", "field"), TRADE_BAD_INPUTS, ids=[c[0] for c in TRADE_BAD_INPUTS]
)
async def test_refused_trades_say_why_and_write_nothing(
    engine: AsyncEngine,
    client: httpx.AsyncClient,
    member: Principal,
    case: str,
    overrides: dict[str, Any],
    code: str,
    field: str,
) -> None:
    assert member.user_id is not None
    s0, _, _ = await make_securities(engine, 3, prices=[Decimal("10.5"), None, Decimal(3)])
    await make_securities(engine, 1, prefix="K")
    async with engine.begin() as conn:
        await conn.execute(text("UPDATE securities SET currency = 'KRW' WHERE symbol = 'K0000'"))
    (pid,) = await make_portfolios(engine, member.user_id, 1)
    await make_holdings(engine, [(pid, s0, Decimal(2), Decimal(10))])
    data = {
        "portfolioId": encode_id("Portfolio", pid),
        "symbol": "S0000",
        "side": "BUY",
        "quantity": "1",
        **overrides,
    }
    before = await snapshot(engine)
    body = await post(client, TRADE, {"input": data})
    assert "errors" not in body, body
    payload = body["data"]["placeTrade"]
    assert payload["transaction"] is None
    assert payload["portfolio"] is None
    assert {(e["code"], e["field"]) for e in payload["errors"]} == {(code, field)}
    assert await snapshot(engine) == before


async def test_the_whole_cash_can_be_spent_to_the_last_cent(
    engine: AsyncEngine, client: httpx.AsyncClient, member: Principal
) -> None:
    assert member.user_id is not None
    await make_securities(engine, 1, prices=[Decimal(10)])
    # 95 x 10 = 950, fee 0.95: exactly the cash.
    (pid,) = await make_portfolios(engine, member.user_id, 1, cash=Decimal("950.95"))
    payload = await trade(client, pid, "S0000", "BUY", "95")
    assert payload["errors"] == []
    assert Decimal(payload["portfolio"]["cashBalance"]) == 0


@pytest.mark.parametrize(
    "overrides", [{"side": "HOLD"}, {"quantity": "a few"}], ids=["wrong enum", "not a decimal"]
)
async def test_wrongly_typed_trade_input_is_bad_user_input(
    engine: AsyncEngine, client: httpx.AsyncClient, member: Principal, overrides: dict[str, Any]
) -> None:
    assert member.user_id is not None
    await make_securities(engine, 1)
    (pid,) = await make_portfolios(engine, member.user_id, 1)
    data = {
        "portfolioId": encode_id("Portfolio", pid),
        "symbol": "S0000",
        "side": "BUY",
        "quantity": "1",
        **overrides,
    }
    before = await snapshot(engine)
    body = await post(client, TRADE, {"input": data})
    assert "data" not in body  # a request error: nothing ran (GraphQL over HTTP)
    assert error_codes(body) == ["BAD_USER_INPUT"]
    assert next(iter(overrides)) in body["errors"][0]["message"]
    assert await snapshot(engine) == before


# --- placeTrade: access (R7) ----------------------------------------------------------------


async def test_only_the_owner_may_trade(
    app: Starlette, engine: AsyncEngine, client: httpx.AsyncClient
) -> None:
    callers = (await make_callers(engine, "prices:write")).named()
    owner = callers["member"]
    assert owner.user_id is not None
    await make_securities(engine, 1)
    (pid,) = await make_portfolios(engine, owner.user_id, 1)
    expected = {
        "anonymous": ("UNAUTHENTICATED", None),
        "other_member": (None, "NOT_FOUND"),
        "editor": (None, "NOT_FOUND"),
        # Admins may read every portfolio but trade in none but their own.
        "admin": (None, "NOT_FOUND"),
        "service_with_scope": ("UNAUTHENTICATED", None),
        "service_without_scope": ("UNAUTHENTICATED", None),
        "member": (None, None),
    }
    data = {
        "portfolioId": encode_id("Portfolio", pid),
        "symbol": "S0000",
        "side": "BUY",
        "quantity": "1",
    }
    for name, (top_level, user_error) in expected.items():
        act_as(app, callers[name])
        before = await snapshot(engine)
        body = await post(client, TRADE, {"input": data})
        if top_level is not None:
            assert error_codes(body) == [top_level], (name, body)
            assert await snapshot(engine) == before
            continue
        payload = body["data"]["placeTrade"]
        if user_error is not None:
            assert [(e["code"], e["field"]) for e in payload["errors"]] == [
                (user_error, "input.portfolioId")
            ], name
            # Exactly what a missing portfolio says: nothing leaks that it exists.
            assert payload["errors"][0]["message"] == "No portfolio with this ID."
            assert await snapshot(engine) == before, name
        else:
            assert payload["errors"] == []
            assert payload["portfolio"]["id"] == encode_id("Portfolio", pid)


async def test_a_service_key_cannot_trade(
    app: Starlette, engine: AsyncEngine, client: httpx.AsyncClient
) -> None:
    act_as(app, await make_service(engine, "prices:write", "briefings:write"))
    body = await post(
        client,
        TRADE,
        {
            "input": {
                "portfolioId": encode_id("Portfolio", 1),
                "symbol": "S",
                "side": "BUY",
                "quantity": "1",
            }
        },
    )
    assert error_codes(body) == ["UNAUTHENTICATED"]
