"""updatePrices: one UPDATE per batch, all or nothing, events for holders (R4, R7, R11, R14)."""

from __future__ import annotations

import asyncio
import random
from decimal import Decimal
from typing import Any

import httpx
import orjson
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.applications import Starlette

from graphql_api.core.ids import encode_id
from tests.conftest import StatementCounter, act_as
from tests.factories_mutations_bp import (
    EventListener,
    make_callers,
    make_service,
    post,
    snapshot,
)
from tests.factories_portfolios import make_holdings, make_portfolios, make_securities, make_user
from tests.graphql_client import error_codes

UPDATE_PRICES = """
mutation ($prices: [PriceInput!]!) {
  updatePrices(prices: $prices) {
    updatedCount
    securities { id symbol lastPrice priceUpdatedAt }
    errors { field message code }
  }
}
"""


async def prices_by_symbol(engine: AsyncEngine) -> dict[str, tuple[Decimal | None, Any]]:
    async with engine.connect() as conn:
        rows = await conn.execute(
            text("SELECT symbol, last_price, price_updated_at FROM securities")
        )
        return {row.symbol: (row.last_price, row.price_updated_at) for row in rows}


@pytest.fixture
async def feed(app: Starlette, engine: AsyncEngine) -> None:
    act_as(app, await make_service(engine, "prices:write"))


@pytest.mark.usefixtures("feed")
async def test_updates_prices_and_returns_them_in_input_order(
    engine: AsyncEngine, client: httpx.AsyncClient
) -> None:
    ids = await make_securities(engine, 3)
    before = await prices_by_symbol(engine)
    body = await post(
        client,
        UPDATE_PRICES,
        {"prices": [{"symbol": "S0002", "price": "99.123456"}, {"symbol": "S0000", "price": "7"}]},
    )
    assert "errors" not in body, body
    payload = body["data"]["updatePrices"]
    assert payload["errors"] == []
    assert payload["updatedCount"] == 2
    assert [(s["id"], s["symbol"], Decimal(s["lastPrice"])) for s in payload["securities"]] == [
        (encode_id("Security", ids[2]), "S0002", Decimal("99.123456")),
        (encode_id("Security", ids[0]), "S0000", Decimal(7)),
    ]
    after = await prices_by_symbol(engine)
    assert after["S0002"][0] == Decimal("99.123456")
    assert after["S0000"][0] == Decimal(7)
    assert after["S0002"][1] > before["S0002"][1]
    assert after["S0001"] == before["S0001"]


async def _price_batch_statements(
    engine: AsyncEngine, client: httpx.AsyncClient, sql: StatementCounter, n: int, prefix: str
) -> list[str]:
    await make_securities(engine, n, prefix=prefix)
    prices = [{"symbol": f"{prefix}{i:04d}", "price": f"{i + 1}.25"} for i in range(n)]
    sql.reset()
    body = await post(client, UPDATE_PRICES, {"prices": prices})
    assert body["data"]["updatePrices"]["updatedCount"] == n, body
    return list(sql.statements)


@pytest.mark.usefixtures("feed")
async def test_a_batch_of_500_prices_is_one_update_statement(
    engine: AsyncEngine, client: httpx.AsyncClient, sql: StatementCounter
) -> None:
    small = await _price_batch_statements(engine, client, sql, 10, "A")
    large = await _price_batch_statements(engine, client, sql, 500, "B")
    writes = [s for s in large if any(w in s.upper() for w in ("UPDATE", "INSERT", "DELETE"))]
    assert len(writes) == 1
    assert "UPDATE securities SET" in writes[0]
    assert "unnest" in writes[0]
    # Same statements whatever the batch size (R14): the update, the holders, BEGIN/COMMIT.
    assert len(small) == len(large)
    assert small == large
    stored = await prices_by_symbol(engine)
    assert stored["B0499"][0] == Decimal("500.25")


@pytest.mark.usefixtures("feed")
async def test_concurrent_overlapping_batches_in_any_order_do_not_deadlock(
    engine: AsyncEngine, client: httpx.AsyncClient
) -> None:
    """Row locks are taken in id order whatever the input order (R12)."""
    await make_securities(engine, 150)
    rng = random.Random(7)
    batches = []
    for n in range(20):
        symbols = [f"S{i:04d}" for i in range(150)]
        rng.shuffle(symbols)
        batches.append([{"symbol": s, "price": f"{n + 1}.5"} for s in symbols[:120]])
    bodies = await asyncio.wait_for(
        asyncio.gather(*(post(client, UPDATE_PRICES, {"prices": b}) for b in batches)),
        timeout=60,
    )
    assert all("errors" not in body for body in bodies), [b for b in bodies if "errors" in b][:1]
    assert all(body["data"]["updatePrices"]["updatedCount"] == 120 for body in bodies)


@pytest.mark.usefixtures("feed")
async def test_unknown_symbols_refuse_the_whole_batch(
    engine: AsyncEngine, client: httpx.AsyncClient, redis_url: str
) -> None:
    await make_securities(engine, 3)
    before = await snapshot(engine)
    async with EventListener(redis_url) as events:
        body = await post(
            client,
            UPDATE_PRICES,
            {
                "prices": [
                    {"symbol": "S0000", "price": "1"},
                    {"symbol": "NOPE", "price": "2"},
                    {"symbol": "S0001", "price": "3"},
                    {"symbol": "s0002", "price": "4"},
                ]
            },
        )
        payload = body["data"]["updatePrices"]
        assert payload["updatedCount"] is None
        assert payload["securities"] is None
        assert [(e["code"], e["field"]) for e in payload["errors"]] == [
            ("UNKNOWN_SYMBOL", "prices.1.symbol"),
            ("UNKNOWN_SYMBOL", "prices.3.symbol"),
        ]
        assert await snapshot(engine) == before
        assert await events.drain() == []


@pytest.mark.usefixtures("feed")
async def test_events_name_the_securities_and_the_holders_portfolios(
    engine: AsyncEngine, client: httpx.AsyncClient, redis_url: str
) -> None:
    held, other, unheld = await make_securities(engine, 3)
    owner = await make_user(engine)
    p1, p2, p3 = await make_portfolios(engine, owner, 3)
    await make_holdings(
        engine,
        [
            (p2, held, Decimal(1), Decimal(10)),
            (p1, held, Decimal(2), Decimal(10)),
            (p1, other, Decimal(2), Decimal(10)),
            (p3, other, Decimal(1), Decimal(10)),
        ],
    )
    async with EventListener(redis_url) as events:
        await post(
            client,
            UPDATE_PRICES,
            {"prices": [{"symbol": "S0002", "price": "5"}, {"symbol": "S0000", "price": "6"}]},
        )
        received = await events.drain()
    assert received == [
        ("prices.updated", orjson.dumps({"security_ids": sorted([held, unheld])})),
        ("portfolio.updated", orjson.dumps({"portfolio_ids": [p1, p2], "reason": "prices"})),
    ]


@pytest.mark.usefixtures("feed")
async def test_no_holders_means_no_portfolio_event(
    engine: AsyncEngine, client: httpx.AsyncClient, redis_url: str
) -> None:
    await make_securities(engine, 1)
    async with EventListener(redis_url) as events:
        await post(client, UPDATE_PRICES, {"prices": [{"symbol": "S0000", "price": "5"}]})
        assert [topic for topic, _ in await events.drain()] == ["prices.updated"]


# --- Validation (R11) -------------------------------------------------------------------


def _one(symbol: str = "S0000", price: str = "10") -> list[dict[str, str]]:
    return [{"symbol": symbol, "price": price}]


BAD_INPUTS: list[tuple[str, list[dict[str, Any]], str, str]] = [
    ("empty list", [], "REQUIRED", "prices"),
    (
        "too many",
        [{"symbol": f"S{i}", "price": "1"} for i in range(1001)],
        "OUT_OF_RANGE",
        "prices",
    ),
    ("empty symbol", _one(symbol=" "), "REQUIRED", "prices.0.symbol"),
    ("symbol too long", _one(symbol="X" * 17), "TOO_LONG", "prices.0.symbol"),
    ("zero price", _one(price="0"), "OUT_OF_RANGE", "prices.0.price"),
    ("negative price", _one(price="-1.5"), "OUT_OF_RANGE", "prices.0.price"),
    ("too many decimals", _one(price="1.1234567"), "INVALID_FORMAT", "prices.0.price"),
    ("absurd price", _one(price="1e15"), "OUT_OF_RANGE", "prices.0.price"),
    ("not a number", _one(price="NaN"), "INVALID_VALUE", "prices.0.price"),
    ("duplicate symbol", [*_one(), *_one(price="11")], "DUPLICATE", "prices.1.symbol"),
    ("unknown symbol", _one(symbol="ZZZZ"), "UNKNOWN_SYMBOL", "prices.0.symbol"),
]


@pytest.mark.parametrize(
    ("case", "prices", "code", "field"), BAD_INPUTS, ids=[c[0] for c in BAD_INPUTS]
)
@pytest.mark.usefixtures("feed")
async def test_bad_input_is_refused_with_code_and_field_and_writes_nothing(
    engine: AsyncEngine,
    client: httpx.AsyncClient,
    case: str,
    prices: list[dict[str, Any]],
    code: str,
    field: str,
) -> None:
    await make_securities(engine, 2)
    before = await snapshot(engine)
    body = await post(client, UPDATE_PRICES, {"prices": prices})
    assert "errors" not in body, body
    payload = body["data"]["updatePrices"]
    assert payload["updatedCount"] is None
    assert {(e["code"], e["field"]) for e in payload["errors"]} == {(code, field)}
    assert await snapshot(engine) == before


@pytest.mark.usefixtures("feed")
async def test_a_price_that_is_not_a_decimal_is_bad_user_input(
    engine: AsyncEngine, client: httpx.AsyncClient
) -> None:
    await make_securities(engine, 1)
    before = await snapshot(engine)
    body = await post(client, UPDATE_PRICES, {"prices": _one(price="ten")})
    assert "data" not in body  # a request error: nothing ran (GraphQL over HTTP)
    assert error_codes(body) == ["BAD_USER_INPUT"]
    assert "price" in body["errors"][0]["message"]
    assert await snapshot(engine) == before


# --- Permissions (R7) -------------------------------------------------------------------

EXPECTED_ACCESS = {
    "anonymous": "UNAUTHENTICATED",
    "member": "FORBIDDEN",
    "other_member": "FORBIDDEN",
    "editor": "FORBIDDEN",
    "admin": None,
    "service_with_scope": None,
    "service_without_scope": "FORBIDDEN",
}


async def test_who_may_update_prices(
    app: Starlette, engine: AsyncEngine, client: httpx.AsyncClient
) -> None:
    await make_securities(engine, 1)
    callers = (await make_callers(engine, "prices:write")).named()
    for n, (name, principal) in enumerate(callers.items()):
        act_as(app, principal)
        before = await snapshot(engine)
        body = await post(client, UPDATE_PRICES, {"prices": _one(price=f"{20 + n}")})
        expected = EXPECTED_ACCESS[name]
        if expected is None:
            assert "errors" not in body, (name, body)
            assert body["data"]["updatePrices"]["updatedCount"] == 1, name
            assert (await prices_by_symbol(engine))["S0000"][0] == Decimal(20 + n)
        else:
            assert error_codes(body) == [expected], (name, body)
            assert body["data"] is None
            assert await snapshot(engine) == before, name
