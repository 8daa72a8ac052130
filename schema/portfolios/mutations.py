"""Portfolio writes: `updatePrices` (price feed), `createPortfolio` and `placeTrade` (R4, R11,
R12). Money and quantities are Decimal end to end (strings on the wire), never float.

The workflows, with their rules and errors, live in `graphql_api.services.portfolios`; these
resolvers check access, pass the input on as plain values and map the outcome.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated

import strawberry

from graphql_api.core.db.enums import TradeSide
from graphql_api.core.errors import Rejected
from graphql_api.services import portfolios
from graphql_api.services.inputs import decode_global_id
from loaders.written import refresh
from schema.errors import UserError
from schema.payloads import Payload
from schema.portfolios.permissions import require_price_writer, require_user
from schema.portfolios.types import PortfolioType, SecurityType, TransactionType
from schema.types import Info

# --- Inputs and payloads -------------------------------------------------------------


@strawberry.input(description="A new last price for one security.")
class PriceInput:
    symbol: str = strawberry.field(description="Symbol of an existing security (exact match).")
    price: Decimal = strawberry.field(
        description="The new last price in the security's currency: above 0, at most "
        "10^12, at most 6 decimal places."
    )


@strawberry.type(description="Result of `updatePrices`.")
class UpdatePricesPayload(Payload):
    updated_count: int | None = strawberry.field(
        description="How many securities were repriced; null when `errors` is not empty."
    )
    securities: list[SecurityType] | None = strawberry.field(
        description="The repriced securities, in the order of the input; null when "
        "`errors` is not empty."
    )
    errors: list[UserError] = strawberry.field(
        description="Why nothing was written (the whole batch is refused); empty on success."
    )


@strawberry.input(description="A new portfolio of the signed-in user.")
class CreatePortfolioInput:
    name: str = strawberry.field(
        description="Name, 1 to 100 characters, unique among the user's portfolios."
    )
    base_currency: str = strawberry.field(
        default="USD",
        description="ISO 4217 code (three capital letters) of its cash; only securities "
        "priced in this currency can be traded in it. Default USD.",
    )
    initial_cash: Decimal = strawberry.field(
        description="Starting cash: 0 to 10^12, at most 4 decimal places."
    )


@strawberry.type(description="Result of `createPortfolio`.")
class PortfolioPayload(Payload):
    portfolio: PortfolioType | None = strawberry.field(
        description="The new portfolio; null when `errors` is not empty."
    )
    errors: list[UserError] = strawberry.field(
        description="Why nothing was written; empty on success."
    )


@strawberry.input(description="A market order in one of the caller's portfolios.")
class PlaceTradeInput:
    portfolio_id: strawberry.ID = strawberry.field(
        description="Global ID of a Portfolio the caller owns."
    )
    symbol: str = strawberry.field(description="Symbol of the security to trade (exact match).")
    # The stored enum itself: `described_enum` made it the GraphQL TradeSide (types module).
    side: TradeSide = strawberry.field(description="BUY or SELL.")
    quantity: Decimal = strawberry.field(
        description="Units to trade: above 0, at most 10^12, at most 6 decimal places."
    )
    idempotency_key: str | None = strawberry.field(
        default=None,
        description="Client-chosen key (1 to 64 characters), unique per portfolio. A retry "
        "with the same key returns the first execution instead of trading again; reusing it "
        "for a different trade is an error.",
    )


@strawberry.type(description="Result of `placeTrade`.")
class TradePayload(Payload):
    transaction: TransactionType | None = strawberry.field(
        description="The executed trade (the first one for a retried idempotency key); "
        "null when `errors` is not empty."
    )
    portfolio: PortfolioType | None = strawberry.field(
        description="The portfolio after the trade (cash, holdings); null when `errors` is "
        "not empty."
    )
    replayed: bool = strawberry.field(
        default=False,
        description="True when the idempotency key matched an earlier trade, returned here "
        "unchanged instead of trading again.",
    )
    errors: list[UserError] = strawberry.field(
        description="Why nothing was traded; empty on success."
    )


# --- Mutations -----------------------------------------------------------------------


@strawberry.type
class PortfolioMutations:
    @strawberry.mutation(
        description="Set the last prices of securities, all or nothing, in one statement "
        "(admins, and services with the prices:write scope). 1 to 1,000 prices, each symbol "
        "once; any unknown symbol refuses the whole batch. Holders' portfolios are notified."
    )
    async def update_prices(
        self,
        info: Info,
        prices: Annotated[
            list[PriceInput], strawberry.argument(description="The new prices, 1 to 1,000.")
        ],
    ) -> UpdatePricesPayload:
        ctx = info.context
        require_price_writer(ctx.principal)
        try:
            securities = await portfolios.update_prices(
                db=ctx.db, prices=[(item.symbol, item.price) for item in prices]
            )
        except Rejected as refusal:
            return UpdatePricesPayload.failed(refusal)
        for security in securities:
            refresh(ctx.loaders, security)
        return UpdatePricesPayload.ok(updated_count=len(securities), securities=securities)

    @strawberry.mutation(
        description="Create a portfolio owned by the signed-in user (UNAUTHENTICATED "
        "otherwise), with its starting cash."
    )
    async def create_portfolio(
        self,
        info: Info,
        input: Annotated[
            CreatePortfolioInput, strawberry.argument(description="The new portfolio.")
        ],
    ) -> PortfolioPayload:
        ctx = info.context
        require_user(ctx.principal)
        try:
            portfolio = await portfolios.create_portfolio(
                db=ctx.db,
                actor=ctx.actor,
                name=input.name,
                base_currency=input.base_currency,
                initial_cash=input.initial_cash,
            )
        except Rejected as refusal:
            return PortfolioPayload.failed(refusal)
        refresh(ctx.loaders, portfolio)
        return PortfolioPayload.ok(portfolio=portfolio)

    @strawberry.mutation(
        description="Buy or sell at the security's last price plus the configured fee, in "
        "one of the caller's own portfolios (anyone else's, admins included, is NOT_FOUND). "
        "Cash, holding, trade record and audit entry change together or not at all; "
        "concurrent trades on one portfolio run one after another, so cash is never "
        "overdrawn nor a holding oversold."
    )
    async def place_trade(
        self,
        info: Info,
        input: Annotated[PlaceTradeInput, strawberry.argument(description="The order.")],
    ) -> TradePayload:
        ctx = info.context
        require_user(ctx.principal)
        try:
            trade = await portfolios.place_trade(
                db=ctx.db,
                actor=ctx.actor,
                portfolio_id=decode_global_id(
                    input.portfolio_id, "input.portfolioId", type_name="Portfolio"
                ),
                symbol=input.symbol,
                side=input.side,
                quantity=input.quantity,
                idempotency_key=input.idempotency_key,
                fee_bps=ctx.settings.trade_fee_bps,
            )
        except Rejected as refusal:
            return TradePayload.failed(refusal)
        refresh(ctx.loaders, trade.portfolio)
        refresh(ctx.loaders, trade.transaction)
        return TradePayload.ok(
            transaction=trade.transaction, portfolio=trade.portfolio, replayed=trade.replayed
        )
