"""Concurrent trades against real PostgreSQL: no overdraft, no oversell, one fill per
idempotency key, no deadlock and no 500 (R12).

Each request of `asyncio.gather` runs through the in-process ASGI client with its own
session and connection; the pool is raised so all 50 are in flight at once, and the test
checks that they really were (peak of checked-out write connections).
"""

from __future__ import annotations

import asyncio
import dataclasses
import random
from collections import Counter
from collections.abc import Awaitable
from decimal import Decimal
from typing import Any, TypeVar

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.applications import Starlette

from graphql_api.core.config import Settings
from graphql_api.core.db.enums import Role
from graphql_api.core.ids import encode_id
from graphql_api.services.portfolios import update_prices
from tests.conftest import act_as
from tests.factories_mutations_bp import post
from tests.factories_portfolios import (
    make_holdings,
    make_portfolios,
    make_principal,
    make_securities,
)

TRADE = """
mutation ($input: PlaceTradeInput!) {
  placeTrade(input: $input) {
    transaction { id quantity price fee }
    portfolio { cashBalance holdings { quantity } }
    replayed
    errors { field code }
  }
}
"""

CONCURRENCY = 50
T = TypeVar("T")


@pytest.fixture
def settings(settings: Settings) -> Settings:
    # Room for every request of a burst to hold its own connection at once.
    return dataclasses.replace(settings, db_pool_size=CONCURRENCY + 10, db_max_overflow=10)


async def gather_watching_pool(app: Starlette, calls: list[Awaitable[T]]) -> tuple[list[T], int]:
    """Run `calls` concurrently (60 s limit: a deadlock fails, not hangs); also return the
    peak number of write connections checked out at once."""
    pool = app.state.db.engine.pool
    peak = 0
    done = asyncio.Event()

    async def watch() -> None:
        nonlocal peak
        while not done.is_set():
            peak = max(peak, pool.checkedout())
            await asyncio.sleep(0.001)

    watcher = asyncio.create_task(watch())
    try:
        results = await asyncio.wait_for(asyncio.gather(*calls), timeout=60)
    finally:
        done.set()
        await watcher
    return list(results), peak


async def place(
    client: httpx.AsyncClient,
    portfolio_id: int,
    side: str,
    quantity: str,
    key: str | None = None,
    symbol: str = "S0000",
) -> dict[str, Any]:
    body = await post(
        client,
        TRADE,
        {
            "input": {
                "portfolioId": encode_id("Portfolio", portfolio_id),
                "symbol": symbol,
                "side": side,
                "quantity": quantity,
                "idempotencyKey": key,
            }
        },
    )
    assert "errors" not in body, body  # no INTERNAL_SERVER_ERROR, no deadlock error
    payload: dict[str, Any] = body["data"]["placeTrade"]
    return payload


def outcome(payload: dict[str, Any]) -> str:
    return payload["errors"][0]["code"] if payload["errors"] else "FILLED"


async def state(engine: AsyncEngine, portfolio_id: int) -> dict[str, Any]:
    """Cash, holdings {security id: quantity} and trade rows (in order) of a portfolio."""
    args = {"p": portfolio_id}
    async with engine.connect() as conn:
        cash = (
            await conn.execute(text("SELECT cash_balance FROM portfolios WHERE id = :p"), args)
        ).scalar_one()
        holdings = await conn.execute(
            text("SELECT security_id, quantity FROM holdings WHERE portfolio_id = :p"), args
        )
        trades = await conn.execute(
            text(
                "SELECT security_id, side, quantity, price, fee FROM transactions "
                "WHERE portfolio_id = :p ORDER BY id"
            ),
            args,
        )
        return {
            "cash": cash,
            "holdings": {h.security_id: h.quantity for h in holdings},
            "trades": trades.all(),
        }


async def test_50_concurrent_sells_of_a_20_unit_holding_fill_exactly_20(
    app: Starlette, engine: AsyncEngine, client: httpx.AsyncClient
) -> None:
    owner = await make_principal(engine, Role.MEMBER)
    assert owner.user_id is not None
    (sid,) = await make_securities(engine, 1, prices=[Decimal("10.5")])
    (pid,) = await make_portfolios(engine, owner.user_id, 1, cash=Decimal("100.0000"))
    await make_holdings(engine, [(pid, sid, Decimal(20), Decimal(9))])
    act_as(app, owner)

    results, peak = await gather_watching_pool(
        app, [place(client, pid, "SELL", "1") for _ in range(CONCURRENCY)]
    )

    assert Counter(outcome(r) for r in results) == {"FILLED": 20, "INSUFFICIENT_HOLDINGS": 30}
    assert all(r["errors"][0]["field"] == "input.quantity" for r in results if r["errors"])
    assert peak > 10, f"requests did not overlap (peak {peak} connections)"
    final = await state(engine, pid)
    assert len(final["trades"]) == 20
    assert final["holdings"] == {}  # sold to zero: deleted
    # Each fill: notional 10.5, fee 0.0105 -> 0.0105 (4 dp); cash += 10.4895.
    proceeds = sum((t.quantity * t.price - t.fee for t in final["trades"]), Decimal(0))
    assert final["cash"] == Decimal("100.0000") + proceeds == Decimal("309.7900")


async def test_50_concurrent_buys_against_cash_for_20_fill_exactly_20(
    app: Starlette, engine: AsyncEngine, client: httpx.AsyncClient
) -> None:
    owner = await make_principal(engine, Role.MEMBER)
    assert owner.user_id is not None
    await make_securities(engine, 1, prices=[Decimal(10)])
    # One unit costs 10 + 0.01 fee: cash for exactly 20.
    (pid,) = await make_portfolios(engine, owner.user_id, 1, cash=Decimal("200.2000"))
    act_as(app, owner)

    results, peak = await gather_watching_pool(
        app, [place(client, pid, "BUY", "1") for _ in range(CONCURRENCY)]
    )

    assert Counter(outcome(r) for r in results) == {"FILLED": 20, "INSUFFICIENT_CASH": 30}
    assert peak > 10, f"requests did not overlap (peak {peak} connections)"
    final = await state(engine, pid)
    assert len(final["trades"]) == 20
    assert final["cash"] == Decimal(0)
    assert list(final["holdings"].values()) == [Decimal(20)]
    spent = sum((t.quantity * t.price + t.fee for t in final["trades"]), Decimal(0))
    assert spent == Decimal("200.2000")
    # Every fill saw its predecessors: the cash it reported is what was left after it.
    reported = sorted(Decimal(r["portfolio"]["cashBalance"]) for r in results if not r["errors"])
    assert reported == [Decimal("10.01") * n for n in range(20)]


async def test_one_idempotency_key_sent_10_times_at_once_trades_once(
    app: Starlette, engine: AsyncEngine, client: httpx.AsyncClient
) -> None:
    owner = await make_principal(engine, Role.MEMBER)
    assert owner.user_id is not None
    await make_securities(engine, 1, prices=[Decimal(10)])
    (pid,) = await make_portfolios(engine, owner.user_id, 1, cash=Decimal("1000.0000"))
    act_as(app, owner)

    results, _ = await gather_watching_pool(
        app, [place(client, pid, "BUY", "3", key="retry-me") for _ in range(10)]
    )

    assert all(r["errors"] == [] for r in results)
    assert len({r["transaction"]["id"] for r in results}) == 1
    assert sorted(r["replayed"] for r in results) == [False] + [True] * 9
    final = await state(engine, pid)
    assert len(final["trades"]) == 1
    assert final["cash"] == Decimal("1000") - Decimal("30.03")
    assert list(final["holdings"].values()) == [Decimal(3)]
    async with engine.connect() as conn:
        audits = (
            await conn.execute(
                text("SELECT count(*) FROM audit_logs WHERE action = 'trade.placed'")
            )
        ).scalar_one()
    assert audits == 1


async def test_trades_on_many_portfolios_mixed_with_price_batches_never_deadlock(
    app: Starlette, engine: AsyncEngine, client: httpx.AsyncClient
) -> None:
    """Buys and sells on 10 portfolios and 3 securities, interleaved with price batches of
    all 3 securities in shuffled orders: everything finishes without a deadlock, and each
    portfolio's cash and holdings match its own trade rows."""
    owner = await make_principal(engine, Role.MEMBER)
    assert owner.user_id is not None
    symbols = ["S0000", "S0001", "S0002"]
    sids = await make_securities(engine, 3, prices=[Decimal(10)] * 3)
    pids = await make_portfolios(engine, owner.user_id, 10, cash=Decimal("5000.0000"))
    await make_holdings(engine, [(p, s, Decimal(5), Decimal(10)) for p in pids for s in sids])
    rng = random.Random(5)

    async def reprice(order: list[str], prices: list[int]) -> None:
        # act_as fixes one principal per app, so the feed's batches call the service the
        # mutation calls, in their own transactions, concurrently with the trades.
        await update_prices(
            db=app.state.db,
            prices=[(s, Decimal(p)) for s, p in zip(order, prices, strict=True)],
        )

    act_as(app, owner)
    calls: list[Awaitable[Any]] = []
    for n in range(2 * CONCURRENCY):
        side = rng.choice(["BUY", "SELL"])
        calls.append(place(client, rng.choice(pids), side, "1", symbol=rng.choice(symbols)))
        if n % 2 == 0:
            calls.append(reprice(rng.sample(symbols, 3), [rng.randint(5, 20) for _ in symbols]))
    await gather_watching_pool(app, calls)

    for pid in pids:
        final = await state(engine, pid)
        cash = Decimal("5000")
        held = dict.fromkeys(sids, Decimal(5))
        for t in final["trades"]:
            if t.side == "BUY":
                cash -= t.quantity * t.price + t.fee
                held[t.security_id] += t.quantity
            else:
                cash += t.quantity * t.price - t.fee
                held[t.security_id] -= t.quantity
        assert final["cash"] == cash
        assert final["holdings"] == {s: q for s, q in held.items() if q}
