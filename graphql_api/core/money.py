"""Money arithmetic of trades: the one home of every rounding and fee rule (R4, R12).

Decimal throughout, in a wide context so products are exact before they are rounded:
notional = quantity x price rounded to cash scale (4 dp, half-even); fee = notional x
fee_bps / 10000 (4 dp, half-even); average cost weighted by price only (fees excluded),
6 dp half-even. Trades, the seed and the tests use these functions, never their own sums.
"""

from __future__ import annotations

from decimal import ROUND_HALF_EVEN, Decimal, localcontext
from typing import Final

PRICE_PLACES: Final = Decimal("0.000001")
CASH_PLACES: Final = Decimal("0.0001")
# Column bounds: NUMERIC(20, 4) money, NUMERIC(20, 6) quantities and prices.
MONEY_LIMIT: Final = Decimal(10) ** 16
QUANTITY_LIMIT: Final = Decimal(10) ** 14
_PRECISION: Final = 80


def rounded(value: Decimal, places: Decimal) -> Decimal:
    with localcontext() as ctx:
        ctx.prec = _PRECISION
        return value.quantize(places, rounding=ROUND_HALF_EVEN)


def trade_fee(notional: Decimal, fee_bps: int) -> Decimal:
    with localcontext() as ctx:
        ctx.prec = _PRECISION
        return rounded(notional * fee_bps / Decimal(10_000), CASH_PLACES)


def notional_of(quantity: Decimal, price: Decimal) -> Decimal:
    with localcontext() as ctx:
        ctx.prec = _PRECISION
        return rounded(quantity * price, CASH_PLACES)


def average_cost_after_buy(
    quantity: Decimal, average_cost: Decimal, bought: Decimal, price: Decimal
) -> Decimal:
    with localcontext() as ctx:
        ctx.prec = _PRECISION
        return rounded(
            (quantity * average_cost + bought * price) / (quantity + bought), PRICE_PLACES
        )
