"""Invariant: cash and holdings are exactly what replaying the transaction rows gives (R4, R12).

A seeded random sequence of 500 operations (trades with up to 6 decimal places, retries of
idempotency keys, refused trades, price batches) runs across several portfolios of two
owners, in concurrent chunks. Afterwards every portfolio's cash, holdings (quantity and
average cost) and valuation are recomputed in Python from its transaction rows alone, with
Decimal and the documented rounding, and must match the database exactly.
"""

from __future__ import annotations

import asyncio
import dataclasses
import random
from collections import Counter
from decimal import ROUND_HALF_EVEN, Decimal, localcontext
from typing import Any

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.applications import Starlette
from starlette.requests import Request

from graphql_api.core.auth.principal import Principal
from graphql_api.core.config import Settings
from graphql_api.core.db.enums import Role
from graphql_api.core.ids import decode_id, encode_id
from tests.factories_mutations_bp import make_service
from tests.factories_portfolios import make_principal, make_securities

OPERATIONS = 500
CHUNK = 10
SEED = 20260105
FEE_BPS = 10
CASH_Q = Decimal("0.0001")
PRICE_Q = Decimal("0.000001")

CREATE = """
mutation ($input: CreatePortfolioInput!) {
  createPortfolio(input: $input) { portfolio { id } errors { code } }
}
"""
TRADE = """
mutation ($input: PlaceTradeInput!) {
  placeTrade(input: $input) { transaction { id } replayed errors { code field } }
}
"""
PRICES = """
mutation ($prices: [PriceInput!]!) {
  updatePrices(prices: $prices) { updatedCount errors { code } }
}
"""
VALUE = "query ($id: ID!) { portfolio(id: $id) { cashBalance totalValue unrealizedPnl } }"


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return dataclasses.replace(
        settings, trade_fee_bps=FEE_BPS, db_pool_size=CHUNK + 10, db_max_overflow=10
    )


def act_by_header(app: Starlette, principals: dict[str, Principal]) -> None:
    """Each request runs as the principal named by its `x-test-caller` header, so requests
    of different callers can be in flight at once."""

    async def by_header(request: Request) -> Principal:
        return principals[request.headers["x-test-caller"]]

    app.state.authenticate = by_header


async def call(
    client: httpx.AsyncClient, caller: str, query: str, variables: dict[str, Any]
) -> dict[str, Any]:
    response = await client.post(
        "/graphql",
        json={"query": query, "variables": variables},
        headers={"x-test-caller": caller},
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    assert "errors" not in body, body
    data: dict[str, Any] = body["data"]
    return data


def q(value: Decimal, quantum: Decimal) -> Decimal:
    return value.quantize(quantum, rounding=ROUND_HALF_EVEN)


def random_quantity(rng: random.Random) -> Decimal:
    """Mostly small lots with up to 6 decimal places; now and then one far too large."""
    if rng.random() < 0.05:
        return Decimal(rng.randint(10_000, 50_000))
    return Decimal(rng.randint(1, 8_000_000)) / Decimal(1_000_000)


def random_price(rng: random.Random) -> Decimal:
    return Decimal(rng.randint(500_000, 400_000_000)) / Decimal(1_000_000)


@dataclasses.dataclass
class Position:
    quantity: Decimal = Decimal(0)
    average_cost: Decimal = Decimal(0)


def replay(initial_cash: Decimal, trades: list[Any]) -> tuple[Decimal, dict[int, Position]]:
    """Cash and positions from the transaction rows alone (ordered by id)."""
    cash = initial_cash
    positions: dict[int, Position] = {}
    with localcontext() as ctx:
        ctx.prec = 60
        for t in trades:
            notional = q(t.quantity * t.price, CASH_Q)
            assert t.fee == q(notional * FEE_BPS / Decimal(10_000), CASH_Q), t
            position = positions.setdefault(t.security_id, Position())
            if t.side == "BUY":
                cash -= notional + t.fee
                total = position.quantity + t.quantity
                position.average_cost = q(
                    (position.quantity * position.average_cost + t.quantity * t.price) / total,
                    PRICE_Q,
                )
                position.quantity = total
            else:
                cash += notional - t.fee
                position.quantity -= t.quantity
                if position.quantity == 0:
                    del positions[t.security_id]
            # The invariant holds after every single trade, not only at the end.
            assert cash >= 0, t
            assert all(p.quantity > 0 for p in positions.values()), t
    return cash, positions


async def test_cash_and_holdings_reconcile_with_replayed_transactions(
    app: Starlette, engine: AsyncEngine, client: httpx.AsyncClient
) -> None:
    rng = random.Random(SEED)
    symbols = [f"S{i:04d}" for i in range(6)]
    security_ids = await make_securities(
        engine, len(symbols), prices=[random_price(rng) for _ in symbols]
    )
    callers = {
        "alice": await make_principal(engine, Role.MEMBER),
        "bob": await make_principal(engine, Role.MEMBER),
        "feed": await make_service(engine, "prices:write"),
    }
    act_by_header(app, callers)

    portfolios: list[tuple[str, int, Decimal]] = []  # (owner, id, initial cash)
    for n, owner in enumerate(["alice", "alice", "alice", "bob", "bob"]):
        cash = q(
            Decimal(rng.randint(2_000, 20_000)) + Decimal(rng.randint(0, 9999)) / 10_000, CASH_Q
        )
        data = await call(
            client, owner, CREATE, {"input": {"name": f"P{n}", "initialCash": str(cash)}}
        )
        _, pk = decode_id(data["createPortfolio"]["portfolio"]["id"])
        portfolios.append((owner, pk, cash))

    used_keys: list[tuple[str, int, dict[str, Any]]] = []
    operations: list[tuple[str, str, dict[str, Any]]] = []
    for n in range(OPERATIONS):
        roll = rng.random()
        if roll < 0.15:
            batch = rng.sample(symbols, rng.randint(1, 4))
            prices = [{"symbol": s, "price": str(random_price(rng))} for s in batch]
            operations.append(("feed", PRICES, {"prices": prices}))
            continue
        if roll < 0.22 and used_keys:
            owner, _, retried = rng.choice(used_keys)  # a client retrying an earlier order
            operations.append((owner, TRADE, {"input": retried}))
            continue
        owner, pid, _ = rng.choice(portfolios)
        trade = {
            "portfolioId": encode_id("Portfolio", pid),
            "symbol": rng.choice(symbols),
            "side": "SELL" if rng.random() < 0.4 else "BUY",
            "quantity": str(random_quantity(rng)),
            "idempotencyKey": f"op-{n}" if rng.random() < 0.5 else None,
        }
        if trade["idempotencyKey"]:
            used_keys.append((owner, pid, trade))
        operations.append((owner, TRADE, {"input": trade}))

    outcomes: Counter[str] = Counter()
    for start in range(0, len(operations), CHUNK):
        chunk = operations[start : start + CHUNK]
        results = await asyncio.wait_for(
            asyncio.gather(*(call(client, who, doc, args) for who, doc, args in chunk)),
            timeout=60,
        )
        for data in results:
            if "updatePrices" in data:
                assert data["updatePrices"]["errors"] == []
                outcomes["PRICES"] += 1
                continue
            payload = data["placeTrade"]
            if payload["errors"]:
                outcomes[payload["errors"][0]["code"]] += 1
            else:
                outcomes["REPLAYED" if payload["replayed"] else "FILLED"] += 1

    # The sequence exercised every path it is meant to.
    assert outcomes["FILLED"] > 150
    assert outcomes["PRICES"] > 40
    assert outcomes["REPLAYED"] > 0
    assert outcomes["INSUFFICIENT_CASH"] > 0
    assert outcomes["INSUFFICIENT_HOLDINGS"] > 0
    assert set(outcomes) <= {
        "FILLED",
        "PRICES",
        "REPLAYED",
        "INSUFFICIENT_CASH",
        "INSUFFICIENT_HOLDINGS",
    }

    async with engine.connect() as conn:
        trades = (
            await conn.execute(
                text(
                    "SELECT portfolio_id, security_id, side, quantity, price, fee "
                    "FROM transactions ORDER BY id"
                )
            )
        ).all()
        holdings = (
            await conn.execute(
                text("SELECT portfolio_id, security_id, quantity, average_cost FROM holdings")
            )
        ).all()
        cash_rows = dict(
            (await conn.execute(text("SELECT id, cash_balance FROM portfolios"))).all()
        )
        last_prices = dict(
            (await conn.execute(text("SELECT id, last_price FROM securities"))).all()
        )
    assert len(trades) == outcomes["FILLED"]

    for owner, pid, initial in portfolios:
        cash, positions = replay(initial, [t for t in trades if t.portfolio_id == pid])
        assert cash_rows[pid] == cash, pid
        stored = {
            h.security_id: (h.quantity, h.average_cost) for h in holdings if h.portfolio_id == pid
        }
        assert stored == {s: (p.quantity, p.average_cost) for s, p in positions.items()}, pid

        # Valuation from the maintained holdings equals the replayed one.
        value = (await call(client, owner, VALUE, {"id": encode_id("Portfolio", pid)}))["portfolio"]
        with localcontext() as ctx:
            ctx.prec = 60
            total = cash + sum(
                (p.quantity * last_prices[s] for s, p in positions.items()), Decimal(0)
            )
            pnl = sum(
                (p.quantity * (last_prices[s] - p.average_cost) for s, p in positions.items()),
                Decimal(0),
            )
        assert Decimal(value["cashBalance"]) == cash
        assert Decimal(value["totalValue"]) == total
        assert Decimal(value["unrealizedPnl"]) == pnl
    assert set(security_ids) >= {h.security_id for h in holdings}
