"""Portfolio writes: `updatePrices` (price feed), `createPortfolio` and `placeTrade` (R4, R11,
R12). Money and quantities are Decimal end to end (strings on the wire), never float."""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Annotated

import strawberry

from graphql_api.core.db import models
from graphql_api.core.db.enums import TradeSide as TradeSideEnum
from graphql_api.core.db.writes.portfolios import (
    TradeRejection,
    TradeRequest,
    apply_price_updates,
    create_portfolio,
    place_trade,
)
from graphql_api.core.validation import Checks
from loaders import Loaders
from schema.errors import UserError, UserErrorCode
from schema.portfolios.errors import (
    duplicate_portfolio_name,
    duplicate_symbol,
    trade_rejected,
    unknown_symbol,
)
from schema.portfolios.permissions import require_price_writer, require_user
from schema.portfolios.types import PortfolioType, SecurityType, TradeSide, TransactionType
from schema.types import Info

PRICES_MAX = 1_000
SYMBOL_MAX = 16
PRICE_MAX = Decimal(10) ** 12
NAME_MAX = 100
CASH_MAX = Decimal(10) ** 12
QUANTITY_MAX = Decimal(10) ** 12
IDEMPOTENCY_KEY_MAX = 64
_CURRENCY = re.compile(r"^[A-Z]{3}$")


# --- Inputs and payloads -------------------------------------------------------------


@strawberry.input(description="A new last price for one security.")
class PriceInput:
    symbol: str = strawberry.field(description="Symbol of an existing security (exact match).")
    price: Decimal = strawberry.field(
        description="The new last price in the security's currency: above 0, at most "
        "10^12, at most 6 decimal places."
    )


@strawberry.type(description="Result of `updatePrices`.")
class UpdatePricesPayload:
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
class PortfolioPayload:
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
    side: TradeSide = strawberry.field(description="BUY or SELL.")  # type: ignore[valid-type]
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
class TradePayload:
    transaction: TransactionType | None = strawberry.field(
        description="The executed trade (the first one for a retried idempotency key); "
        "null when `errors` is not empty."
    )
    portfolio: PortfolioType | None = strawberry.field(
        description="The portfolio after the trade (cash, holdings); null when `errors` is "
        "not empty."
    )
    replayed: bool = strawberry.field(
        description="True when the idempotency key matched an earlier trade, returned here "
        "unchanged instead of trading again."
    )
    errors: list[UserError] = strawberry.field(
        description="Why nothing was traded; empty on success."
    )


# --- Validation ----------------------------------------------------------------------


def _symbol(check: Checks, value: str, path: str) -> str | None:
    # Checks.text strips, bounds the length and refuses NUL characters.
    return check.text(value, path, max_length=SYMBOL_MAX)


def _prices(prices: list[PriceInput]) -> tuple[list[tuple[str, Decimal]], list[UserError]]:
    check = Checks()
    if not prices:
        check.fail(UserErrorCode.REQUIRED, "At least one price is required.", "prices")
    elif len(prices) > PRICES_MAX:
        check.fail(UserErrorCode.OUT_OF_RANGE, f"At most {PRICES_MAX} prices per call.", "prices")
    if not check.ok:
        return [], check.errors
    seen: set[str] = set()
    batch: list[tuple[str, Decimal]] = []
    for index, item in enumerate(prices):
        symbol = _symbol(check, item.symbol, f"prices.{index}.symbol")
        price = check.decimal(
            item.price,
            f"prices.{index}.price",
            minimum=Decimal(0),
            exclusive_minimum=True,
            maximum=PRICE_MAX,
            places=6,
            required=True,
        )
        if symbol is not None and symbol in seen:
            check.errors.append(duplicate_symbol(f"prices.{index}.symbol"))
        if symbol is not None:
            seen.add(symbol)
        if symbol is not None and price is not None:
            batch.append((symbol, price))
    return batch, check.errors


def _idempotency_key(check: Checks, key: str | None) -> str | None:
    """Used verbatim (never trimmed): it is the client's own opaque token."""
    path = "input.idempotencyKey"
    if key is None:
        return None
    if not key.strip():
        check.fail(UserErrorCode.REQUIRED, "Omit the key or give 1 to 64 characters.", path)
    elif len(key) > IDEMPOTENCY_KEY_MAX:
        check.fail(UserErrorCode.TOO_LONG, f"At most {IDEMPOTENCY_KEY_MAX} characters.", path)
    elif "\x00" in key:
        check.fail(UserErrorCode.INVALID_FORMAT, "Must not contain NUL characters.", path)
    return key


def _trade(data: PlaceTradeInput) -> tuple[TradeRequest | None, list[UserError]]:
    check = Checks()
    portfolio_id = check.global_id(data.portfolio_id, "input.portfolioId", type_name="Portfolio")
    symbol = _symbol(check, data.symbol, "input.symbol")
    quantity = check.decimal(
        data.quantity,
        "input.quantity",
        minimum=Decimal(0),
        exclusive_minimum=True,
        maximum=QUANTITY_MAX,
        places=6,
        required=True,
    )
    key = _idempotency_key(check, data.idempotency_key)
    if not check.ok or portfolio_id is None or symbol is None or quantity is None:
        return None, check.errors
    request = TradeRequest(
        portfolio_id=portfolio_id,
        symbol=symbol,
        side=TradeSideEnum(data.side),
        quantity=quantity,
        idempotency_key=key,
    )
    return request, []


def _refresh_portfolio(loaders: Loaders, portfolio: models.Portfolio) -> None:
    """Make the payload (and the rest of this request) see the portfolio as just written."""
    pk = portfolio.id
    loaders.portfolio_by_id.clear(pk).prime(pk, portfolio)
    loaders.portfolios_by_owner_id.clear(portfolio.owner_id)
    loaders.holdings_by_portfolio_id.clear(pk)
    loaders.portfolio_valuation_by_portfolio_id.clear(pk)
    loaders.transaction_count_by_portfolio_id.clear(pk)
    loaders.transactions_by_portfolio_id.clear_all()


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
        batch, errors = _prices(prices)
        if errors:
            return UpdatePricesPayload(updated_count=None, securities=None, errors=errors)
        unknown: list[str] = []
        try:
            async with ctx.db.write() as session:
                securities, unknown = await apply_price_updates(session, prices=batch)
                if unknown:
                    raise _Refused
        except _Refused:
            positions = {symbol: index for index, (symbol, _) in enumerate(batch)}
            return UpdatePricesPayload(
                updated_count=None,
                securities=None,
                errors=[
                    unknown_symbol(symbol, f"prices.{positions[symbol]}.symbol")
                    for symbol in unknown
                ],
            )
        for security in securities:
            ctx.loaders.security_by_id.clear(security.id).prime(security.id, security)
        ctx.loaders.portfolio_valuation_by_portfolio_id.clear_all()
        return UpdatePricesPayload(
            updated_count=len(securities),
            securities=securities,  # type: ignore[arg-type]
            errors=[],
        )

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
        owner_id = require_user(ctx.principal)
        check = Checks()
        name = check.text(input.name, "input.name", max_length=NAME_MAX)
        if not _CURRENCY.match(input.base_currency):
            check.fail(
                UserErrorCode.INVALID_FORMAT,
                "Must be an ISO 4217 code of three capital letters.",
                "input.baseCurrency",
            )
        cash = check.decimal(
            input.initial_cash,
            "input.initialCash",
            minimum=Decimal(0),
            maximum=CASH_MAX,
            places=4,
            required=True,
        )
        if not check.ok or name is None or cash is None:
            return PortfolioPayload(portfolio=None, errors=check.errors)
        async with ctx.db.write() as session:
            portfolio = await create_portfolio(
                session,
                owner_id=owner_id,
                name=name,
                base_currency=input.base_currency,
                cash=cash,
                actor=ctx.principal,
                request_id=ctx.request_id,
            )
        if portfolio is None:
            return PortfolioPayload(
                portfolio=None,
                errors=[duplicate_portfolio_name()],
            )
        _refresh_portfolio(ctx.loaders, portfolio)
        return PortfolioPayload(portfolio=portfolio, errors=[])  # type: ignore[arg-type]

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
        request, errors = _trade(input)
        if request is None:
            return TradePayload(transaction=None, portfolio=None, replayed=False, errors=errors)
        async with ctx.db.write() as session:
            outcome = await place_trade(
                session,
                request=request,
                actor=ctx.principal,
                fee_bps=ctx.settings.trade_fee_bps,
                request_id=ctx.request_id,
            )
        if isinstance(outcome, TradeRejection):
            return TradePayload(
                transaction=None,
                portfolio=None,
                replayed=False,
                errors=[trade_rejected(outcome)],
            )
        _refresh_portfolio(ctx.loaders, outcome.portfolio)
        transaction = outcome.transaction
        ctx.loaders.transaction_by_id.clear(transaction.id).prime(transaction.id, transaction)
        return TradePayload(
            transaction=transaction,  # type: ignore[arg-type]
            portfolio=outcome.portfolio,  # type: ignore[arg-type]
            replayed=outcome.replayed,
            errors=[],
        )


class _Refused(Exception):
    """Rolls back a write whose outcome turned out to be a refusal."""
