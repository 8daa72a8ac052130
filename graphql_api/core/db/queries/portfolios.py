"""Portfolio reads: securities, portfolios, holdings, transactions and valuations (R4, R14).

Valuations come from the maintained holdings joined to the securities' last prices, for many
portfolios in one GROUP BY; they never replay the transaction history (R4). Reads return
rows (graphql_api.core.db.rows); trades and price updates prime the loaders with ORM instances,
so both classes resolve as the GraphQL types (`PORTFOLIO_CLASSES`, ...).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal
from functools import lru_cache
from operator import attrgetter

from sqlalchemy import ColumnElement, Numeric, String, any_, func, select, type_coerce

from graphql_api.core.db.engine import Database
from graphql_api.core.db.enums import TradeSide
from graphql_api.core.db.models import Holding, Portfolio, Security, Transaction
from graphql_api.core.db.rows import Query, Row, array_param, ids_param, prepare
from graphql_api.core.pagination import (
    Page,
    Seek,
    SortSpec,
    build_page,
    keyset,
    pages_by_parent,
    parse_datetime,
    parse_str,
    seek,
    windowed,
)


class SecurityRow(Row):
    """A security as reads return it."""

    __slots__ = ()
    id: int
    symbol: str
    name: str
    market: str
    currency: str
    last_price: Decimal | None
    price_updated_at: datetime | None


class PortfolioRow(Row):
    """A portfolio as reads return it (the columns the API exposes, and its owner)."""

    __slots__ = ()
    id: int
    owner_id: int
    name: str
    base_currency: str
    cash_balance: Decimal
    created_at: datetime


class HoldingRow(Row):
    """One open position."""

    __slots__ = ()
    portfolio_id: int
    security_id: int
    quantity: Decimal
    average_cost: Decimal


class TransactionRow(Row):
    """An executed trade as reads return it."""

    __slots__ = ()
    id: int
    portfolio_id: int
    security_id: int
    side: TradeSide
    quantity: Decimal
    price: Decimal
    fee: Decimal
    executed_at: datetime


class Valuation(Row):
    """What a portfolio is worth at the securities' last prices."""

    __slots__ = ()
    portfolio_id: int
    # cash_balance + sum(quantity * last_price); an unpriced holding counts as 0.
    total_value: Decimal
    # sum(quantity * (last_price - average_cost)) over priced holdings.
    unrealized_pnl: Decimal


# What the GraphQL types resolve from: read rows or, after a write, ORM instances.
SECURITY_CLASSES = (Security, SecurityRow)
PORTFOLIO_CLASSES = (Portfolio, PortfolioRow)
TRANSACTION_CLASSES = (Transaction, TransactionRow)
AnySecurity = Security | SecurityRow
AnyPortfolio = Portfolio | PortfolioRow
AnyHolding = Holding | HoldingRow
AnyTransaction = Transaction | TransactionRow

SECURITY_COLUMNS = tuple(getattr(Security, name) for name in SecurityRow.__annotations__)
PORTFOLIO_COLUMNS = tuple(getattr(Portfolio, name) for name in PortfolioRow.__annotations__)
HOLDING_COLUMNS = tuple(getattr(Holding, name) for name in HoldingRow.__annotations__)
TRANSACTION_COLUMNS = tuple(getattr(Transaction, name) for name in TransactionRow.__annotations__)

SECURITY_SORT = SortSpec("sym", Security.symbol, Security.id, False, parse_str)
# Newest first; served by the (portfolio_id, executed_at, id) index.
TRANSACTION_SORT = SortSpec("tx", Transaction.executed_at, Transaction.id, True, parse_datetime)


# --- Securities -----------------------------------------------------------------------


def _symbols_filter(filtered: bool) -> list[ColumnElement[bool]]:
    if not filtered:
        return []
    return [Security.symbol == any_(array_param("symbols", String()))]


@lru_cache(maxsize=8)
def _securities_query(filtered: bool, where: Seek) -> Query[SecurityRow]:
    stmt = select(*SECURITY_COLUMNS).where(*_symbols_filter(filtered))
    # Prices: read on every portfolio page, changed only by updatePrices (R15).
    return prepare(keyset(stmt, SECURITY_SORT, where), SecurityRow, cached=True)


_SYMBOL_ID = attrgetter("symbol", "id")


def _symbols_params(symbols: Sequence[str] | None) -> dict[str, object]:
    return {} if symbols is None else {"symbols": list(symbols)}


async def list_securities(
    db: Database, *, symbols: Sequence[str] | None, first: int, after: str | None
) -> Page[SecurityRow]:
    where, params = seek(SECURITY_SORT, first=first, after=after)
    query = _securities_query(symbols is not None, where)
    rows = await db.fetch(query, **params, **_symbols_params(symbols))
    return build_page(rows, SECURITY_SORT, first=first, after=after, key=_SYMBOL_ID)


_SECURITY_COUNTS = {
    filtered: prepare(
        select(func.count().label("count")).select_from(Security).where(*_symbols_filter(filtered)),
        Row,
        cached=True,
    )
    for filtered in (False, True)
}


async def count_securities(db: Database, *, symbols: Sequence[str] | None) -> int:
    row = await db.fetch_one(_SECURITY_COUNTS[symbols is not None], **_symbols_params(symbols))
    assert row is not None  # an aggregate without GROUP BY always returns one row
    return int(row[0])


_SECURITIES_BY_IDS = prepare(
    select(*SECURITY_COLUMNS).where(Security.id == any_(ids_param("ids"))),
    SecurityRow,
    cached=True,
)


async def securities_by_ids(db: Database, *, ids: Sequence[int]) -> list[SecurityRow]:
    return await db.fetch(_SECURITIES_BY_IDS, ids=ids)


# --- Portfolios -----------------------------------------------------------------------

_PORTFOLIOS_BY_IDS = prepare(
    select(*PORTFOLIO_COLUMNS).where(Portfolio.id == any_(ids_param("ids"))), PortfolioRow
)


async def portfolios_by_ids(db: Database, *, ids: Sequence[int]) -> list[PortfolioRow]:
    return await db.fetch(_PORTFOLIOS_BY_IDS, ids=ids)


_PORTFOLIOS_BY_OWNER_IDS = prepare(
    select(*PORTFOLIO_COLUMNS)
    .where(Portfolio.owner_id == any_(ids_param("owner_ids")))
    .order_by(Portfolio.owner_id, Portfolio.created_at, Portfolio.id),
    PortfolioRow,
)


async def portfolios_by_owner_ids(db: Database, *, owner_ids: Sequence[int]) -> list[PortfolioRow]:
    """Every portfolio of these owners, oldest first per owner."""
    return await db.fetch(_PORTFOLIOS_BY_OWNER_IDS, owner_ids=owner_ids)


_HOLDINGS = prepare(
    select(*HOLDING_COLUMNS)
    .where(Holding.portfolio_id == any_(ids_param("portfolio_ids")), Holding.quantity > 0)
    .order_by(Holding.portfolio_id, Holding.security_id),
    HoldingRow,
)


async def holdings_by_portfolio_ids(
    db: Database, *, portfolio_ids: Sequence[int]
) -> list[HoldingRow]:
    """Open positions (quantity > 0) of these portfolios, ordered by security id."""
    return await db.fetch(_HOLDINGS, portfolio_ids=portfolio_ids)


def _valuations_query() -> Query[Valuation]:
    priced_value = func.coalesce(Holding.quantity * Security.last_price, 0)
    pnl = func.coalesce(Holding.quantity * (Security.last_price - Holding.average_cost), 0)
    total = Portfolio.cash_balance + func.coalesce(func.sum(priced_value), 0)
    stmt = (
        select(
            Portfolio.id.label("portfolio_id"),
            type_coerce(total, Numeric).label("total_value"),
            type_coerce(func.coalesce(func.sum(pnl), 0), Numeric).label("unrealized_pnl"),
        )
        .select_from(Portfolio)
        .outerjoin(Holding, Holding.portfolio_id == Portfolio.id)
        .outerjoin(Security, Security.id == Holding.security_id)
        .where(Portfolio.id == any_(ids_param("portfolio_ids")))
        .group_by(Portfolio.id)
    )
    return prepare(stmt, Valuation)


_VALUATIONS = _valuations_query()


async def valuations(db: Database, *, portfolio_ids: Sequence[int]) -> list[Valuation]:
    """Total value and unrealised P&L of many portfolios in one GROUP BY over holdings (R4)."""
    return await db.fetch(_VALUATIONS, portfolio_ids=portfolio_ids)


# --- Transactions ---------------------------------------------------------------------

_TRANSACTIONS_BY_IDS = prepare(
    select(*TRANSACTION_COLUMNS).where(Transaction.id == any_(ids_param("ids"))), TransactionRow
)


async def transactions_by_ids(db: Database, *, ids: Sequence[int]) -> list[TransactionRow]:
    return await db.fetch(_TRANSACTIONS_BY_IDS, ids=ids)


@lru_cache(maxsize=4)
def _transaction_pages_query(where: Seek) -> Query[TransactionRow]:
    stmt = windowed(
        select(*TRANSACTION_COLUMNS),
        TRANSACTION_SORT,
        where,
        parent_column=Transaction.portfolio_id,
    )
    return prepare(stmt, TransactionRow)


_BY_PORTFOLIO = attrgetter("portfolio_id")
_EXECUTED_ID = attrgetter("executed_at", "id")


async def transaction_pages(
    db: Database, *, portfolio_ids: Sequence[int], first: int, after: str | None
) -> dict[int, Page[TransactionRow]]:
    """The same page (newest first) of each portfolio's history, in one windowed query."""
    where, params = seek(TRANSACTION_SORT, first=first, after=after)
    rows = await db.fetch(_transaction_pages_query(where), parent_ids=portfolio_ids, **params)
    return pages_by_parent(
        rows, portfolio_ids, TRANSACTION_SORT, first=first, after=after,
        parent=_BY_PORTFOLIO, key=_EXECUTED_ID,
    )  # fmt: skip


_TRANSACTION_COUNTS = prepare(
    select(Transaction.portfolio_id, func.count().label("count"))
    .where(Transaction.portfolio_id == any_(ids_param("portfolio_ids")))
    .group_by(Transaction.portfolio_id),
    Row,
)


async def transaction_counts(db: Database, *, portfolio_ids: Sequence[int]) -> dict[int, int]:
    rows = await db.fetch(_TRANSACTION_COUNTS, portfolio_ids=portfolio_ids)
    return {row[0]: row[1] for row in rows}
