"""Securities, and portfolios whose cash and holdings are what replaying their trades gives.

Every amount goes through ``graphql_api.core.money`` (notional, fee, average cost, cash
rounding), the same functions a real trade uses, so a seeded portfolio is one that trading
could have produced.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Final

from graphql_api.core.db.enums import TradeSide
from graphql_api.core.money import (
    CASH_PLACES,
    PRICE_PLACES,
    average_cost_after_buy,
    notional_of,
    rounded,
    trade_fee,
)
from graphql_api.devtools.seed.common import Ctx, pick_weighted

# Starting cash of every seeded portfolio, by base currency. Holdings and cash_balance are
# what replaying the portfolio's transactions from this amount gives.
INITIAL_CASH: Final[dict[str, Decimal]] = {
    "USD": Decimal("100000.0000"),
    "KRW": Decimal("100000000.0000"),
}
# Seeded trades pay what a trade pays on a server with the default Settings.trade_fee_bps.
FEE_BPS: Final = 10

_SECURITY_STEMS: Final = (
    "Hanbit", "Daehan", "Samil", "Kumho", "Dongyang", "Seohae", "Taeyang", "Hanul", "Jinro",
    "Poseung", "Sinhan", "Yulchon", "Hyeonam", "Gyeongnam", "Bukhan", "Cheonan",
)  # fmt: skip
_US_STEMS: Final = (
    "Northwind", "Bluefin", "Cedar", "Summit", "Harbor", "Ironwood", "Lumen", "Pioneer",
    "Redwood", "Silverline", "Atlas", "Beacon", "Crescent", "Evergreen",
)  # fmt: skip
_SECURITY_SECTORS: Final = (
    "Semiconductor", "Electronics", "Bio", "Chemical", "Motors", "Steel", "Energy",
    "Software", "Foods", "Heavy Industries", "Financial", "Telecom", "Entertainment",
)  # fmt: skip
_MARKETS: Final = (
    (("KOSPI", "KRW"), 40), (("KOSDAQ", "KRW"), 20),
    (("NASDAQ", "USD"), 20), (("NYSE", "USD"), 20),
)  # fmt: skip

_PORTFOLIO_NAMES: Final = (
    "Main", "Long-term growth", "Dividend income", "Tech bets", "Korea value", "US core",
    "Retirement", "Swing trades", "Semiconductor theme", "Green energy",
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class SecurityRow:
    currency: str
    last_price: Decimal
    tick: Decimal


def make_securities(ctx: Ctx) -> tuple[list[dict[str, Any]], list[SecurityRow]]:
    rng = ctx.rng
    rows: list[dict[str, Any]] = []
    meta: list[SecurityRow] = []
    symbols: set[str] = set()
    for _ in range(50 * ctx.scale):
        market, currency = pick_weighted(rng, _MARKETS)
        if currency == "KRW":
            symbol = f"{rng.randint(1, 99999):05d}0"
            while symbol in symbols:
                symbol = f"{rng.randint(1, 99999):05d}0"
            name = f"{rng.choice(_SECURITY_STEMS)} {rng.choice(_SECURITY_SECTORS)}"
            # Whole won prices: every notional and fee is then exact at 4 decimal places.
            tick = Decimal(1)
            price = Decimal(rng.randint(1_000, 900_000))
        else:
            letters = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
            symbol = "".join(rng.choice(letters) for _ in range(rng.randint(2, 4)))
            while symbol in symbols:
                symbol = "".join(rng.choice(letters) for _ in range(rng.randint(2, 4)))
            name = f"{rng.choice(_US_STEMS)} {rng.choice(_SECURITY_SECTORS)}"
            tick = Decimal("0.01")
            price = Decimal(rng.randint(500, 90_000)) / 100
        symbols.add(symbol)
        price = rounded(price, PRICE_PLACES)
        rows.append(
            {
                "symbol": symbol,
                "name": name,
                "market": market,
                "currency": currency,
                "last_price": price,
                "price_updated_at": ctx.anchor - dt.timedelta(minutes=rng.randint(1, 600)),
            }
        )
        meta.append(SecurityRow(currency=currency, last_price=price, tick=tick))
    return rows, meta


@dataclass(slots=True)
class Position:
    quantity: Decimal = Decimal(0)
    average_cost: Decimal = Decimal(0)
    updated_at: dt.datetime | None = None


@dataclass(slots=True)
class PortfolioPlan:
    row: dict[str, Any]
    trades: list[dict[str, Any]]
    positions: dict[int, Position]


def _portfolio_plan(
    ctx: Ctx, index: int, owner: int, name: str, securities: list[SecurityRow]
) -> PortfolioPlan:
    """Trades first; cash and holdings are then exactly what replaying them gives."""
    rng = ctx.rng
    currency = rng.choice(("USD", "KRW"))
    universe = [s for s, security in enumerate(securities) if security.currency == currency]
    focus = rng.sample(universe, min(len(universe), rng.randint(3, 8)))
    cash = INITIAL_CASH[currency]
    positions: dict[int, Position] = {}
    trades: list[dict[str, Any]] = []
    start = ctx.anchor - dt.timedelta(days=rng.randint(60, 365))
    span = int((ctx.anchor - dt.timedelta(hours=1) - start).total_seconds())
    n_trades = rng.randint(8, 32)
    offsets = sorted(rng.sample(range(span), n_trades))
    for offset in offsets:
        executed = start + dt.timedelta(seconds=offset)
        held = [s for s in focus if s in positions and positions[s].quantity > 0]
        side = TradeSide.SELL if held and rng.random() < 0.35 else TradeSide.BUY
        security_index = rng.choice(held) if side is TradeSide.SELL else rng.choice(focus)
        security = securities[security_index]
        # Historic fill: the last price moved back in time by a random walk.
        years_ago = (ctx.anchor - executed).days / 365
        drift = Decimal(str(round(1 + rng.gauss(0.0, 0.25) * years_ago**0.5, 4)))
        price = rounded(security.last_price * max(drift, Decimal("0.3")), security.tick)
        price = rounded(price, PRICE_PLACES)
        position = positions.setdefault(security_index, Position())
        if side is TradeSide.BUY:
            budget = cash * Decimal(str(round(rng.uniform(0.05, 0.25), 4)))
            # About the most whole shares the budget buys, fee included; a share of a
            # quarter of the cash at most, so cash never goes below zero.
            quantity = Decimal(int(budget / (price * (1 + Decimal(FEE_BPS) / 10_000))))
            if quantity < 1:
                continue
        else:
            quantity = Decimal(rng.randint(1, int(position.quantity)))
        notional = notional_of(quantity, price)
        fee = trade_fee(notional, FEE_BPS)
        if side is TradeSide.BUY:
            cash -= notional + fee
            position.average_cost = average_cost_after_buy(
                position.quantity, position.average_cost, quantity, price
            )
            position.quantity += quantity
        else:
            cash += notional - fee
            position.quantity -= quantity
            if position.quantity == 0:
                position.average_cost = Decimal(0)
        position.updated_at = executed
        trades.append(
            {
                "portfolio_id": index,  # position; replaced by the id before insert
                "security_id": security_index,
                "side": side,
                "quantity": rounded(quantity, PRICE_PLACES),
                "price": price,
                "fee": fee,
                "idempotency_key": (
                    str(uuid.UUID(int=rng.getrandbits(128), version=4))
                    if rng.random() < 0.6
                    else None
                ),
                "executed_at": executed,
            }
        )
    assert cash >= 0
    last = trades[-1]["executed_at"] if trades else start
    row = {
        "owner_id": owner,
        "name": name,
        "base_currency": currency,
        "cash_balance": rounded(cash, CASH_PLACES),
        "created_at": start - dt.timedelta(days=1),
        "updated_at": last,
    }
    return PortfolioPlan(row=row, trades=trades, positions=positions)


def make_portfolios(
    ctx: Ctx, members: list[int], securities: list[SecurityRow]
) -> list[PortfolioPlan]:
    rng = ctx.rng
    plans: list[PortfolioPlan] = []
    names_by_owner: dict[int, list[str]] = {}
    for index in range(40 * ctx.scale):
        owner = rng.choice(members)
        taken = names_by_owner.setdefault(owner, [])
        free = [n for n in _PORTFOLIO_NAMES if n not in taken]
        name = rng.choice(free) if free else f"Portfolio {len(taken) + 1}"
        taken.append(name)
        plans.append(_portfolio_plan(ctx, index, owner, name, securities))
    return plans
