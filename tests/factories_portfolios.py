"""Test data builders for accounts and portfolios (users, securities, portfolios, trades)."""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncEngine

from graphql_api.core.auth.principal import Principal
from graphql_api.core.db.enums import Role, TradeSide
from graphql_api.core.db.models import Holding, Portfolio, Security, Transaction, User

BASE_TIME = datetime(2026, 1, 1, tzinfo=UTC)
_serial = itertools.count(1)


async def make_user(
    engine: AsyncEngine, *, role: Role = Role.MEMBER, name: str | None = None
) -> int:
    n = next(_serial)
    row = {
        "email": f"user{n}-{role.value.lower()}@example.test",
        "password_hash": "!",
        "display_name": name or f"User {n}",
        "role": role,
    }
    async with engine.begin() as conn:
        return int((await conn.execute(insert(User).returning(User.id), [row])).scalar_one())


async def make_users(engine: AsyncEngine, count: int, *, role: Role = Role.MEMBER) -> list[int]:
    rows = []
    for _ in range(count):
        n = next(_serial)
        rows.append(
            {
                "email": f"user{n}-{role.value.lower()}@example.test",
                "password_hash": "!",
                "display_name": f"User {n}",
                "role": role,
            }
        )
    async with engine.begin() as conn:
        return [r[0] for r in await conn.execute(insert(User).returning(User.id), rows)]


async def make_principal(engine: AsyncEngine, role: Role = Role.MEMBER) -> Principal:
    """A user row plus the principal acting as it."""
    return Principal(user_id=await make_user(engine, role=role), role=role)


async def make_securities(
    engine: AsyncEngine,
    count: int,
    *,
    prices: Sequence[Decimal | None] | None = None,
    prefix: str = "S",
) -> list[int]:
    """Securities `<prefix>0000`, `<prefix>0001`, ... (symbol order = insertion order)."""
    rows = [
        {
            "symbol": f"{prefix}{i:04d}",
            "name": f"Security {i}",
            "market": "NASDAQ",
            "currency": "USD",
            "last_price": prices[i] if prices is not None else Decimal("10.5") + i,
            "price_updated_at": BASE_TIME,
        }
        for i in range(count)
    ]
    async with engine.begin() as conn:
        result = await conn.execute(insert(Security).returning(Security.id), rows)
        return [r[0] for r in result]


async def make_portfolios(
    engine: AsyncEngine,
    owner_id: int,
    count: int,
    *,
    cash: Decimal = Decimal("1000.0000"),
    **overrides: Any,
) -> list[int]:
    rows = [
        {"owner_id": owner_id, "name": f"Portfolio {i}", "cash_balance": cash, **overrides}
        for i in range(count)
    ]
    async with engine.begin() as conn:
        result = await conn.execute(insert(Portfolio).returning(Portfolio.id), rows)
        return [r[0] for r in result]


async def make_holdings(
    engine: AsyncEngine, rows: Sequence[tuple[int, int, Decimal, Decimal]]
) -> None:
    """(portfolio_id, security_id, quantity, average_cost) per holding."""
    async with engine.begin() as conn:
        await conn.execute(
            insert(Holding),
            [
                {"portfolio_id": p, "security_id": s, "quantity": q, "average_cost": c}
                for p, s, q, c in rows
            ],
        )


async def make_transactions(
    engine: AsyncEngine, portfolio_id: int, security_ids: Sequence[int], count: int
) -> list[int]:
    """`count` trades, one minute apart (every third shares its predecessor's time)."""
    rows = [
        {
            "portfolio_id": portfolio_id,
            "security_id": security_ids[i % len(security_ids)],
            "side": TradeSide.BUY if i % 4 else TradeSide.SELL,
            "quantity": Decimal(1 + i),
            "price": Decimal("10.25"),
            "fee": Decimal("0.01"),
            "executed_at": BASE_TIME + timedelta(minutes=i - 1 if i % 3 == 2 else i),
        }
        for i in range(count)
    ]
    async with engine.begin() as conn:
        result = await conn.execute(insert(Transaction).returning(Transaction.id), rows)
        return [r[0] for r in result]


async def make_filled_portfolios(
    engine: AsyncEngine, owner_id: int, count: int, security_ids: Sequence[int]
) -> list[int]:
    """`count` portfolios, each holding 3 securities and with 5 trades in them."""
    portfolio_ids = await make_portfolios(engine, owner_id, count)
    holdings = [
        (p, security_ids[(i + k) % len(security_ids)], Decimal(k + 1), Decimal("9.5"))
        for i, p in enumerate(portfolio_ids)
        for k in range(3)
    ]
    await make_holdings(engine, holdings)
    trades = [
        {
            "portfolio_id": p,
            # Only held securities: realistic, and the same security keys as the holdings.
            "security_id": security_ids[(i + k % 3) % len(security_ids)],
            "side": TradeSide.BUY,
            "quantity": Decimal(1),
            "price": Decimal("9.5"),
            "executed_at": BASE_TIME + timedelta(minutes=k),
        }
        for i, p in enumerate(portfolio_ids)
        for k in range(5)
    ]
    async with engine.begin() as conn:
        await conn.execute(insert(Transaction), trades)
    return portfolio_ids
