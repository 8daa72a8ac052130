"""GraphQL types of the portfolios domain (R4)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal, localcontext
from typing import TYPE_CHECKING, Annotated

import strawberry

from graphql_api.core.db.enums import TradeSide
from graphql_api.core.db.queries.accounts import AnyUser
from graphql_api.core.db.queries.portfolios import (
    PORTFOLIO_CLASSES,
    SECURITY_CLASSES,
    TRANSACTION_CLASSES,
    TRANSACTION_SORT,
    AnyHolding,
    AnyPortfolio,
    AnySecurity,
    AnyTransaction,
    HoldingRow,
    TransactionRow,
    Valuation,
)
from graphql_api.core.errors import NotFound
from graphql_api.core.pagination import page_size
from loaders.pages import PageKey
from schema.cache import Scope, cache_hint
from schema.types import (
    AfterArg,
    Connection,
    FirstArg,
    Info,
    Node,
    described_enum,
    later,
    node_type,
)

if TYPE_CHECKING:
    from schema.accounts.types import UserType

UserRef = Annotated["UserType", strawberry.lazy("schema.accounts.types")]

described_enum(
    TradeSide,
    name="TradeSide",
    description="Direction of a trade.",
    values={
        "BUY": "Bought: cash went down, the holding went up.",
        "SELL": "Sold: the holding went down, cash went up.",
    },
)

# Money and quantities are NUMERIC; products of two NUMERIC(20, 6) need up to 40 digits, so
# arithmetic runs with ample precision and results are exact, never rounded.
_PRECISION = 80
_MONEY_PLACES = Decimal("0.0001")


def exact_money(value: Decimal) -> Decimal:
    """`value` without trailing zeros beyond 4 decimal places (the cash scale); exact."""
    with localcontext() as ctx:
        ctx.prec = _PRECISION
        trimmed = value.normalize()
        exponent = trimmed.as_tuple().exponent
        if isinstance(exponent, int) and exponent >= -4:
            return value.quantize(_MONEY_PLACES)
        return trimmed


def exact_product(a: Decimal, b: Decimal) -> Decimal:
    with localcontext() as ctx:
        ctx.prec = _PRECISION
        return a * b


@node_type(
    "Security",
    SECURITY_CLASSES,
    description="A tradable instrument with its last known price (updated by the price feed).",
)
class SecurityType(Node):
    symbol: str = strawberry.field(description="Ticker symbol, unique across markets.")
    name: str = strawberry.field(description="Name of the issuer or instrument.")
    market: str = strawberry.field(description="Market it trades on (e.g. NASDAQ, KOSPI).")
    currency: str = strawberry.field(description="ISO 4217 code of the currency it is priced in.")
    last_price: Decimal | None = strawberry.field(
        description="Last known price in `currency`; null until the feed has priced it."
    )
    price_updated_at: datetime | None = strawberry.field(
        description="When `lastPrice` was last updated."
    )


SecurityConnection = Connection[SecurityType]


async def _security(info: Info, security_id: int) -> AnySecurity:
    security = await info.context.loaders.security_by_id.load(security_id)
    if security is None:  # the foreign key is RESTRICT, so this means a concurrent purge
        raise NotFound("The security no longer exists.")
    return security


@cache_hint(Scope.USER)
@strawberry.type(
    name="Holding",
    description="A position in one security, kept up to date by every trade (never replayed).",
)
class HoldingType:
    quantity: Decimal = strawberry.field(description="Units held.")
    average_cost: Decimal = strawberry.field(
        description="Average price paid per unit of the current position."
    )

    @strawberry.field(description="The security held.", graphql_type=SecurityType)
    @staticmethod
    async def security(root: strawberry.Parent[AnyHolding], info: Info) -> AnySecurity:
        return await _security(info, root.security_id)

    @strawberry.field(
        description="quantity x the security's lastPrice; 0 while the security has no price."
    )
    @staticmethod
    async def market_value(root: strawberry.Parent[AnyHolding], info: Info) -> Decimal:
        security = await _security(info, root.security_id)
        if security.last_price is None:
            return exact_money(Decimal(0))
        return exact_money(exact_product(root.quantity, security.last_price))


@cache_hint(Scope.USER)
@node_type(
    "Transaction",
    TRANSACTION_CLASSES,
    description="One executed trade of a portfolio; the append-only history next to holdings.",
)
class TransactionType(Node):
    side: TradeSide = strawberry.field(description="Whether it bought or sold.")
    quantity: Decimal = strawberry.field(description="Units traded.")
    price: Decimal = strawberry.field(description="Fill price per unit.")
    fee: Decimal = strawberry.field(description="Fee charged, in the portfolio's currency.")
    executed_at: datetime = strawberry.field(description="When the trade was executed.")

    @strawberry.field(description="The security traded.", graphql_type=SecurityType)
    @staticmethod
    async def security(root: strawberry.Parent[AnyTransaction], info: Info) -> AnySecurity:
        return await _security(info, root.security_id)


TransactionConnection = Connection[TransactionType]


async def _valuation(root: AnyPortfolio, info: Info) -> Valuation:
    valuation = await info.context.loaders.portfolio_valuation_by_portfolio_id.load(root.id)
    if valuation is None:  # deleted between loading the row and valuing it
        raise NotFound("The portfolio no longer exists.")
    return valuation


@cache_hint(Scope.USER)
@node_type(
    "Portfolio",
    PORTFOLIO_CLASSES,
    description="A mock-trading portfolio: cash plus holdings. Visible to its owner and to "
    "admins only; for anyone else it does not exist (NOT_FOUND).",
)
class PortfolioType(Node):
    name: str = strawberry.field(description="Name, unique among its owner's portfolios.")
    base_currency: str = strawberry.field(
        description="ISO 4217 code of the currency of its cash and valuation."
    )
    cash_balance: Decimal = strawberry.field(description="Cash available for trading.")
    created_at: datetime = strawberry.field(description="When it was created.")

    @strawberry.field(description="The user who owns it.", graphql_type=UserRef)
    @staticmethod
    async def owner(root: strawberry.Parent[AnyPortfolio], info: Info) -> AnyUser:
        owner = await info.context.loaders.user_by_id.load(root.owner_id)
        if owner is None:  # the foreign key cascades, so this means a concurrent delete
            raise NotFound("The owner no longer exists.")
        return owner

    @strawberry.field(
        description="Open positions (quantity above zero), by security.",
        graphql_type=list[HoldingType],
    )
    @staticmethod
    def holdings(root: strawberry.Parent[AnyPortfolio], info: Info) -> list[HoldingRow]:
        return later(info.context.loaders.holdings_by_portfolio_id.load(root.id))

    @strawberry.field(
        description="Executed trades, newest first.", graphql_type=TransactionConnection
    )
    @staticmethod
    async def transactions(
        root: strawberry.Parent[AnyPortfolio],
        info: Info,
        first: FirstArg = None,
        after: AfterArg = None,
    ) -> Connection[TransactionRow]:
        loaders = info.context.loaders
        size = page_size(first)
        if after is not None:
            TRANSACTION_SORT.decode(after)  # a bad cursor fails this field, not the batch
        page = await loaders.transactions_by_portfolio_id.load(
            PageKey(parent_id=root.id, first=size, after=after)
        )

        async def count() -> int:
            return await loaders.transaction_count_by_portfolio_id.load(root.id)

        return Connection.from_page(page, count)

    @strawberry.field(
        description="cashBalance + sum(quantity x lastPrice) over holdings (unpriced holdings "
        "count as 0), from the maintained holdings; exact."
    )
    @staticmethod
    async def total_value(root: strawberry.Parent[AnyPortfolio], info: Info) -> Decimal:
        return exact_money((await _valuation(root, info)).total_value)

    @strawberry.field(
        description="sum(quantity x (lastPrice - averageCost)) over priced holdings; exact."
    )
    @staticmethod
    async def unrealized_pnl(root: strawberry.Parent[AnyPortfolio], info: Info) -> Decimal:
        return exact_money((await _valuation(root, info)).unrealized_pnl)
