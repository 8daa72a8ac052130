"""Portfolio writes: the statements and row locks of prices, portfolios and trades (R4, R12).

Pure data access: which rows to lock, read and write, never whether a trade may happen (that
is `graphql_api.services.portfolios`, which also states the locking order these locks serve).
"""

from __future__ import annotations

from collections.abc import Sequence
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

from graphql_api.core.db.enums import TradeSide
from graphql_api.core.db.models import Holding, Portfolio, Security, Transaction

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


# --- Portfolios -----------------------------------------------------------------------


async def insert_portfolio(
    session: AsyncSession, *, owner_id: int, name: str, base_currency: str, cash: Decimal
) -> Portfolio | None:
    """Insert a portfolio; None when the owner already has one with this name."""
    stmt = (
        pg_insert(Portfolio)
        .values(owner_id=owner_id, name=name, base_currency=base_currency, cash_balance=cash)
        .on_conflict_do_nothing(index_elements=[Portfolio.owner_id, Portfolio.name])
        .returning(Portfolio)
    )
    return (await session.scalars(stmt)).one_or_none()


async def lock_owned_portfolio(
    session: AsyncSession, *, portfolio_id: int, owner_id: int
) -> Portfolio | None:
    """The owner's portfolio, row-locked (FOR UPDATE) until the transaction ends; None for
    a missing portfolio and for anyone else's (which is therefore never locked)."""
    stmt = (
        select(Portfolio)
        .where(Portfolio.id == portfolio_id, Portfolio.owner_id == owner_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    return (await session.scalars(stmt)).one_or_none()


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


async def transaction_by_key(
    session: AsyncSession, *, portfolio_id: int, idempotency_key: str
) -> Transaction | None:
    stmt = select(Transaction).where(
        Transaction.portfolio_id == portfolio_id, Transaction.idempotency_key == idempotency_key
    )
    return (await session.scalars(stmt)).one_or_none()


async def security_symbol(session: AsyncSession, *, security_id: int) -> str | None:
    return await session.scalar(select(Security.symbol).where(Security.id == security_id))


async def security_with_holding(
    session: AsyncSession, *, portfolio_id: int, symbol: str
) -> tuple[Security, Holding | None] | None:
    """The security with this symbol and the portfolio's holding of it, in one query. The
    security is read without a lock (see `update_prices` for how the two meet)."""
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


async def insert_holding(
    session: AsyncSession,
    *,
    portfolio_id: int,
    security_id: int,
    quantity: Decimal,
    average_cost: Decimal,
) -> None:
    await session.execute(
        insert(Holding).values(
            portfolio_id=portfolio_id,
            security_id=security_id,
            quantity=quantity,
            average_cost=average_cost,
        )
    )


async def update_holding(
    session: AsyncSession,
    *,
    portfolio_id: int,
    security_id: int,
    quantity: Decimal,
    average_cost: Decimal,
) -> None:
    await session.execute(
        update(Holding)
        .where(Holding.portfolio_id == portfolio_id, Holding.security_id == security_id)
        .values(quantity=quantity, average_cost=average_cost)
        .execution_options(synchronize_session=False)
    )


async def delete_holding(session: AsyncSession, *, portfolio_id: int, security_id: int) -> None:
    await session.execute(
        delete(Holding).where(
            Holding.portfolio_id == portfolio_id, Holding.security_id == security_id
        )
    )
