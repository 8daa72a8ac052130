"""Portfolio reads: securities, portfolios, holdings, transactions and valuations (R4, R14).

Valuations come from the maintained holdings joined to the securities' last prices, for many
portfolios in one GROUP BY; they never replay the transaction history (R4).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import Numeric, func, select, type_coerce
from sqlalchemy.ext.asyncio import AsyncSession

from graphql_api.db.models import Holding, Portfolio, Security, Transaction
from graphql_api.pagination import (
    Page,
    SortSpec,
    apply_keyset,
    build_page,
    parse_datetime,
    parse_str,
    windowed_pages,
)

SECURITY_SORT = SortSpec("sym", Security.symbol, Security.id, False, parse_str)
# Newest first; served by the (portfolio_id, executed_at, id) index.
TRANSACTION_SORT = SortSpec("tx", Transaction.executed_at, Transaction.id, True, parse_datetime)


@dataclass(frozen=True, slots=True)
class Valuation:
    """What a portfolio is worth at the securities' last prices."""

    portfolio_id: int
    # cash_balance + sum(quantity * last_price); an unpriced holding counts as 0.
    total_value: Decimal
    # sum(quantity * (last_price - average_cost)) over priced holdings.
    unrealized_pnl: Decimal


# --- Securities -----------------------------------------------------------------------


async def list_securities(
    session: AsyncSession, *, symbols: Sequence[str] | None, first: int, after: str | None
) -> Page[Security]:
    stmt = select(Security)
    if symbols is not None:
        stmt = stmt.where(Security.symbol.in_(symbols))
    rows = (
        await session.scalars(apply_keyset(stmt, SECURITY_SORT, first=first, after=after))
    ).all()
    return build_page(rows, SECURITY_SORT, first=first, after=after, key=lambda s: (s.symbol, s.id))


async def count_securities(session: AsyncSession, *, symbols: Sequence[str] | None) -> int:
    stmt = select(func.count()).select_from(Security)
    if symbols is not None:
        stmt = stmt.where(Security.symbol.in_(symbols))
    return int((await session.execute(stmt)).scalar_one())


async def securities_by_ids(session: AsyncSession, *, ids: Sequence[int]) -> list[Security]:
    return list((await session.scalars(select(Security).where(Security.id.in_(ids)))).all())


# --- Portfolios -----------------------------------------------------------------------


async def portfolios_by_ids(session: AsyncSession, *, ids: Sequence[int]) -> list[Portfolio]:
    return list((await session.scalars(select(Portfolio).where(Portfolio.id.in_(ids)))).all())


async def portfolios_by_owner_ids(
    session: AsyncSession, *, owner_ids: Sequence[int]
) -> list[Portfolio]:
    """Every portfolio of these owners, oldest first per owner."""
    stmt = (
        select(Portfolio)
        .where(Portfolio.owner_id.in_(owner_ids))
        .order_by(Portfolio.owner_id, Portfolio.created_at, Portfolio.id)
    )
    return list((await session.scalars(stmt)).all())


async def holdings_by_portfolio_ids(
    session: AsyncSession, *, portfolio_ids: Sequence[int]
) -> list[Holding]:
    """Open positions (quantity > 0) of these portfolios, ordered by security id."""
    stmt = (
        select(Holding)
        .where(Holding.portfolio_id.in_(portfolio_ids), Holding.quantity > 0)
        .order_by(Holding.portfolio_id, Holding.security_id)
    )
    return list((await session.scalars(stmt)).all())


async def valuations(session: AsyncSession, *, portfolio_ids: Sequence[int]) -> list[Valuation]:
    """Total value and unrealised P&L of many portfolios in one GROUP BY over holdings (R4)."""
    priced_value = func.coalesce(Holding.quantity * Security.last_price, 0)
    pnl = func.coalesce(Holding.quantity * (Security.last_price - Holding.average_cost), 0)
    stmt = (
        select(
            Portfolio.id,
            type_coerce(Portfolio.cash_balance + func.coalesce(func.sum(priced_value), 0), Numeric),
            type_coerce(func.coalesce(func.sum(pnl), 0), Numeric),
        )
        .select_from(Portfolio)
        .outerjoin(Holding, Holding.portfolio_id == Portfolio.id)
        .outerjoin(Security, Security.id == Holding.security_id)
        .where(Portfolio.id.in_(portfolio_ids))
        .group_by(Portfolio.id)
    )
    return [
        Valuation(portfolio_id=row[0], total_value=row[1], unrealized_pnl=row[2])
        for row in (await session.execute(stmt)).all()
    ]


# --- Transactions ---------------------------------------------------------------------


async def transactions_by_ids(session: AsyncSession, *, ids: Sequence[int]) -> list[Transaction]:
    return list((await session.scalars(select(Transaction).where(Transaction.id.in_(ids)))).all())


async def transaction_pages(
    session: AsyncSession, *, portfolio_ids: Sequence[int], first: int, after: str | None
) -> dict[int, Page[Transaction]]:
    """The same page (newest first) of each portfolio's history, in one windowed query."""
    return await windowed_pages(
        session,
        model=Transaction,
        stmt=select(Transaction),
        sort=TRANSACTION_SORT,
        parent_column=Transaction.portfolio_id,
        parent_ids=portfolio_ids,
        first=first,
        after=after,
    )


async def transaction_counts(
    session: AsyncSession, *, portfolio_ids: Sequence[int]
) -> dict[int, int]:
    stmt = (
        select(Transaction.portfolio_id, func.count())
        .where(Transaction.portfolio_id.in_(portfolio_ids))
        .group_by(Transaction.portfolio_id)
    )
    return {row[0]: row[1] for row in (await session.execute(stmt)).all()}
