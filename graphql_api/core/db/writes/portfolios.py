"""Portfolio writes: price updates, new portfolios and trades (R4, R9, R12).

Trades are serialised per portfolio by a row lock on the portfolio (SELECT ... FOR UPDATE)
taken first in the trade's transaction. Everything that decides a trade (the idempotency
key, cash, the holding) is read after the lock, so concurrent trades on one portfolio see
each other's committed effects: cash is never overdrawn, a holding never oversold, and a
retried key finds the first execution. Trades on different portfolios never wait on each
other. A trade reads the price without locking the security; the KEY SHARE locks of its
foreign keys make it wait for a price batch that holds the security (or the batch wait for
it), never both ways. Concurrent price batches lock their securities in id order, so
overlapping batches queue instead of deadlocking.

Arithmetic is `graphql_api.core.money`'s; a holding sold to zero is deleted.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import (
    BigInteger,
    Numeric,
    String,
    and_,
    any_,
    cast,
    column,
    delete,
    func,
    insert,
    select,
    update,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from graphql_api.core import audit, events
from graphql_api.core.auth.principal import Principal
from graphql_api.core.db.enums import TradeSide
from graphql_api.core.db.models import Holding, Portfolio, Security, Transaction
from graphql_api.core.money import (
    CASH_PLACES,
    MONEY_LIMIT,
    QUANTITY_LIMIT,
    average_cost_after_buy,
    notional_of,
    rounded,
    trade_fee,
)

# --- Prices ---------------------------------------------------------------------------


async def update_prices(
    session: AsyncSession, *, prices: Sequence[tuple[str, Decimal]]
) -> list[Security]:
    """Set last_price (and price_updated_at = now()) for every (symbol, price) in ONE
    statement. Returns the updated securities; symbols with no security are simply absent
    (the caller decides whether to roll back).

        WITH locked AS (SELECT id FROM securities WHERE symbol = ANY(:symbols)
                        ORDER BY id FOR UPDATE)
        UPDATE securities SET last_price = v.price, price_updated_at = now()
        FROM unnest(:symbols, :prices) AS v(symbol, price), locked
        WHERE securities.id = locked.id AND securities.symbol = v.symbol

    The CTE takes the row locks in id order whatever the order of the input, so concurrent
    batches with overlapping symbols wait for each other instead of deadlocking. Both
    arrays are single parameters: the SQL text is the same for 1 or 1,000 prices.
    """
    symbols = cast([symbol for symbol, _ in prices], ARRAY(String))
    locked = (
        select(Security.id)
        .where(Security.symbol == any_(symbols))
        .order_by(Security.id)
        # FOR UPDATE, not FOR NO KEY UPDATE: with the weaker lock, a trade's foreign-key
        # KEY SHARE joins it in a multixact and the UPDATE that follows in this statement
        # can deadlock against a queued batch (seen under test). FOR UPDATE makes a trade
        # wait for the batch (milliseconds) or the batch wait for the trade, never both.
        .with_for_update()
        .cte("locked")
    )
    batch = (
        func.unnest(symbols, cast([price for _, price in prices], ARRAY(Numeric(20, 6))))
        .table_valued(column("symbol", String), column("price", Numeric(20, 6)))
        .render_derived(name="v")
    )
    stmt = (
        update(Security)
        .where(Security.id == locked.c.id, Security.symbol == batch.c.symbol)
        .values(last_price=batch.c.price, price_updated_at=func.now())
        .returning(Security)
        .execution_options(synchronize_session=False, populate_existing=True)
    )
    return list((await session.scalars(stmt)).all())


async def holder_portfolio_ids(session: AsyncSession, *, security_ids: Sequence[int]) -> list[int]:
    """Portfolios holding any of these securities (one query, constant SQL text)."""
    stmt = (
        select(Holding.portfolio_id)
        .where(Holding.security_id == any_(cast(list(security_ids), ARRAY(BigInteger))))
        .distinct()
        .order_by(Holding.portfolio_id)
    )
    return list((await session.scalars(stmt)).all())


async def apply_price_updates(
    session: AsyncSession, *, prices: Sequence[tuple[str, Decimal]]
) -> tuple[list[Security], list[str]]:
    """Update prices and queue the events; returns (securities in input order, unknown
    symbols). When symbols are unknown the caller must roll back: nothing is emitted."""
    updated = await update_prices(session, prices=prices)
    by_symbol = {security.symbol: security for security in updated}
    unknown = [symbol for symbol, _ in prices if symbol not in by_symbol]
    if unknown:
        return [], unknown
    security_ids = sorted(security.id for security in updated)
    portfolio_ids = await holder_portfolio_ids(session, security_ids=security_ids)
    events.emit(session, events.PRICES_UPDATED, {"security_ids": security_ids})
    if portfolio_ids:
        events.emit(
            session, events.PORTFOLIO_UPDATED, {"portfolio_ids": portfolio_ids, "reason": "prices"}
        )
    return [by_symbol[symbol] for symbol, _ in prices], []


# --- Portfolios -----------------------------------------------------------------------


async def create_portfolio(
    session: AsyncSession,
    *,
    owner_id: int,
    name: str,
    base_currency: str,
    cash: Decimal,
    actor: Principal,
    request_id: str | None = None,
) -> Portfolio | None:
    """Insert a portfolio (audited); None when the owner already has one with this name."""
    stmt = (
        pg_insert(Portfolio)
        .values(owner_id=owner_id, name=name, base_currency=base_currency, cash_balance=cash)
        .on_conflict_do_nothing(index_elements=[Portfolio.owner_id, Portfolio.name])
        .returning(Portfolio)
    )
    portfolio = (await session.scalars(stmt)).one_or_none()
    if portfolio is not None:
        await audit.record(
            session,
            action="portfolio.created",
            actor=actor,
            target_type="Portfolio",
            target_id=portfolio.id,
            details={"base_currency": base_currency, "initial_cash": str(cash)},
            request_id=request_id,
        )
    return portfolio


async def lock_owned_portfolio(
    session: AsyncSession, *, portfolio_id: int, owner_id: int
) -> Portfolio | None:
    """The caller's own portfolio, row-locked until the transaction ends; None for a
    missing portfolio and for anyone else's (which is therefore never locked)."""
    stmt = (
        select(Portfolio)
        .where(Portfolio.id == portfolio_id, Portfolio.owner_id == owner_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    return (await session.scalars(stmt)).one_or_none()


async def transaction_by_key(
    session: AsyncSession, *, portfolio_id: int, idempotency_key: str
) -> Transaction | None:
    stmt = select(Transaction).where(
        Transaction.portfolio_id == portfolio_id, Transaction.idempotency_key == idempotency_key
    )
    return (await session.scalars(stmt)).one_or_none()


async def security_with_holding(
    session: AsyncSession, *, portfolio_id: int, symbol: str
) -> tuple[Security, Holding | None] | None:
    """The security with this symbol and the portfolio's holding of it, in one query."""
    stmt = (
        select(Security, Holding)
        .outerjoin(
            Holding, and_(Holding.security_id == Security.id, Holding.portfolio_id == portfolio_id)
        )
        .where(Security.symbol == symbol)
        .execution_options(populate_existing=True)
    )
    row = (await session.execute(stmt)).one_or_none()
    return None if row is None else (row[0], row[1])


async def insert_transaction(
    session: AsyncSession,
    *,
    portfolio_id: int,
    security_id: int,
    side: TradeSide,
    quantity: Decimal,
    price: Decimal,
    fee: Decimal,
    idempotency_key: str | None,
) -> Transaction:
    stmt = (
        insert(Transaction)
        .values(
            portfolio_id=portfolio_id,
            security_id=security_id,
            side=side,
            quantity=quantity,
            price=price,
            fee=fee,
            idempotency_key=idempotency_key,
        )
        .returning(Transaction)
    )
    return (await session.scalars(stmt)).one()


async def save_holding(
    session: AsyncSession,
    *,
    portfolio_id: int,
    security_id: int,
    exists: bool,
    quantity: Decimal,
    average_cost: Decimal,
) -> None:
    """Write the position after a trade: insert, update, or delete when it is zero."""
    if quantity == 0:
        await session.execute(
            delete(Holding).where(
                Holding.portfolio_id == portfolio_id, Holding.security_id == security_id
            )
        )
    elif exists:
        await session.execute(
            update(Holding)
            .where(Holding.portfolio_id == portfolio_id, Holding.security_id == security_id)
            .values(quantity=quantity, average_cost=average_cost)
            .execution_options(synchronize_session=False)
        )
    else:
        await session.execute(
            insert(Holding).values(
                portfolio_id=portfolio_id,
                security_id=security_id,
                quantity=quantity,
                average_cost=average_cost,
            )
        )


async def set_cash(session: AsyncSession, *, portfolio_id: int, cash: Decimal) -> Portfolio:
    stmt = (
        update(Portfolio)
        .where(Portfolio.id == portfolio_id)
        .values(cash_balance=cash)
        .returning(Portfolio)
        .execution_options(synchronize_session=False, populate_existing=True)
    )
    return (await session.scalars(stmt)).one()


# --- Trades ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TradeRequest:
    portfolio_id: int
    symbol: str
    side: TradeSide
    quantity: Decimal
    idempotency_key: str | None


@dataclass(frozen=True, slots=True)
class TradeRejection:
    """An expected refusal; `code` is a `schema.errors.UserErrorCode` value."""

    code: str
    field: str
    message: str


@dataclass(frozen=True, slots=True)
class TradeResult:
    transaction: Transaction
    portfolio: Portfolio
    # True when the idempotency key matched an earlier trade, which is returned unchanged.
    replayed: bool


async def place_trade(
    session: AsyncSession,
    *,
    request: TradeRequest,
    actor: Principal,
    fee_bps: int,
    request_id: str | None = None,
) -> TradeResult | TradeRejection:
    """Execute one trade at the security's last price, or say why not (nothing written)."""
    if actor.user_id is None:
        return _not_found()
    portfolio = await lock_owned_portfolio(
        session, portfolio_id=request.portfolio_id, owner_id=actor.user_id
    )
    if portfolio is None:
        return _not_found()

    if request.idempotency_key is not None:
        # Under the lock: an earlier trade with this key has committed, or never will.
        earlier = await transaction_by_key(
            session, portfolio_id=portfolio.id, idempotency_key=request.idempotency_key
        )
        if earlier is not None:
            return await _replay(session, earlier, portfolio, request)

    found = await security_with_holding(session, portfolio_id=portfolio.id, symbol=request.symbol)
    if found is None:
        return TradeRejection("UNKNOWN_SYMBOL", "input.symbol", "No security has this symbol.")
    security, holding = found
    if security.last_price is None:
        return TradeRejection("NO_PRICE", "input.symbol", "The security has no price yet.")
    if security.currency != portfolio.base_currency:
        return TradeRejection(
            "INVALID_VALUE",
            "input.symbol",
            f"The security trades in {security.currency}; the portfolio holds "
            f"{portfolio.base_currency}.",
        )

    price = security.last_price
    notional = notional_of(request.quantity, price)
    if notional >= MONEY_LIMIT:
        return TradeRejection("OUT_OF_RANGE", "input.quantity", "The trade is too large.")
    fee = trade_fee(notional, fee_bps)
    held = holding.quantity if holding is not None else Decimal(0)
    cost = holding.average_cost if holding is not None else Decimal(0)
    if request.side is TradeSide.BUY:
        cash = portfolio.cash_balance - notional - fee
        if cash < 0:
            return TradeRejection(
                "INSUFFICIENT_CASH",
                "input.quantity",
                f"The trade needs {notional + fee} (fee included); the portfolio has "
                f"{portfolio.cash_balance}.",
            )
        quantity = held + request.quantity
        if quantity >= QUANTITY_LIMIT:
            return TradeRejection("OUT_OF_RANGE", "input.quantity", "The position is too large.")
        cost = average_cost_after_buy(held, cost, request.quantity, price)
    else:
        if request.quantity > held:
            return TradeRejection(
                "INSUFFICIENT_HOLDINGS",
                "input.quantity",
                f"The portfolio holds {held.normalize():f} of {request.symbol}.",
            )
        cash = portfolio.cash_balance + notional - fee
        if cash >= MONEY_LIMIT:
            return TradeRejection("OUT_OF_RANGE", "input.quantity", "The trade is too large.")
        quantity = held - request.quantity

    transaction = await insert_transaction(
        session,
        portfolio_id=portfolio.id,
        security_id=security.id,
        side=request.side,
        quantity=request.quantity,
        price=price,
        fee=fee,
        idempotency_key=request.idempotency_key,
    )
    await save_holding(
        session,
        portfolio_id=portfolio.id,
        security_id=security.id,
        exists=holding is not None,
        quantity=quantity,
        average_cost=cost if quantity else Decimal(0),
    )
    portfolio = await set_cash(session, portfolio_id=portfolio.id, cash=rounded(cash, CASH_PLACES))
    await audit.record(
        session,
        action="trade.placed",
        actor=actor,
        target_type="Portfolio",
        target_id=portfolio.id,
        details={
            "transaction_id": transaction.id,
            "symbol": security.symbol,
            "side": request.side.value,
            "quantity": str(request.quantity),
            "price": str(price),
            "fee": str(fee),
        },
        request_id=request_id,
    )
    events.emit(
        session, events.PORTFOLIO_UPDATED, {"portfolio_ids": [portfolio.id], "reason": "trade"}
    )
    return TradeResult(transaction=transaction, portfolio=portfolio, replayed=False)


def _not_found() -> TradeRejection:
    return TradeRejection("NOT_FOUND", "input.portfolioId", "No portfolio with this ID.")


async def _replay(
    session: AsyncSession, earlier: Transaction, portfolio: Portfolio, request: TradeRequest
) -> TradeResult | TradeRejection:
    """The first execution of a retried trade; a different trade under the same key is an
    error rather than a silent replay of something the caller did not ask for."""
    symbol = await session.scalar(select(Security.symbol).where(Security.id == earlier.security_id))
    # Quantities compare as numbers: 1.5 == 1.500000.
    if (
        symbol != request.symbol
        or earlier.side is not request.side
        or earlier.quantity != request.quantity
    ):
        return TradeRejection(
            "INVALID_VALUE",
            "input.idempotencyKey",
            "This idempotency key was already used for a different trade.",
        )
    return TradeResult(transaction=earlier, portfolio=portfolio, replayed=True)
