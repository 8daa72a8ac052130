"""Portfolio loaders: securities, portfolios, holdings, transactions and valuations."""

from __future__ import annotations

from collections.abc import Hashable
from operator import attrgetter
from typing import Generic, TypeVar

from aiodataloader import DataLoader

from graphql_api.core.db.engine import Database
from graphql_api.core.db.queries.portfolios import (
    AnyPortfolio,
    AnySecurity,
    AnyTransaction,
    HoldingRow,
    PortfolioRow,
    TransactionRow,
    Valuation,
    holdings_by_portfolio_ids,
    portfolios_by_ids,
    portfolios_by_owner_ids,
    securities_by_ids,
    transaction_counts,
    transaction_pages,
    transactions_by_ids,
    valuations,
)
from graphql_api.core.pagination import Page
from loaders.base import ByIdLoader, grouped, ordered
from loaders.pages import GroupedLoader, PageKey

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")

_OWNER_ID = attrgetter("owner_id")
_PORTFOLIO_ID = attrgetter("portfolio_id")


class _DbLoader(DataLoader[K, V], Generic[K, V]):
    """A DataLoader holding the request's Database; each batch is one statement."""

    def __init__(self, db: Database) -> None:
        super().__init__()
        self.db = db


# Price updates, trades and portfolio writes prime these with ORM instances.
class SecurityByIdLoader(ByIdLoader[AnySecurity]):
    fetch = staticmethod(securities_by_ids)


class PortfolioByIdLoader(ByIdLoader[AnyPortfolio]):
    fetch = staticmethod(portfolios_by_ids)


class TransactionByIdLoader(ByIdLoader[AnyTransaction]):
    fetch = staticmethod(transactions_by_ids)


class PortfoliosByOwnerIdLoader(_DbLoader[int, list[PortfolioRow]]):
    """Every portfolio of each user, oldest first."""

    async def batch_load_fn(self, keys: list[int]) -> list[list[PortfolioRow]]:
        rows = await portfolios_by_owner_ids(self.db, owner_ids=keys)
        return grouped(rows, keys, key=_OWNER_ID)


class HoldingsByPortfolioIdLoader(_DbLoader[int, list[HoldingRow]]):
    """Open positions of each portfolio, ordered by security id."""

    async def batch_load_fn(self, keys: list[int]) -> list[list[HoldingRow]]:
        rows = await holdings_by_portfolio_ids(self.db, portfolio_ids=keys)
        return grouped(rows, keys, key=_PORTFOLIO_ID)


class PortfolioValuationByPortfolioIdLoader(_DbLoader[int, Valuation | None]):
    """Total value and unrealised P&L of every portfolio asked, in one GROUP BY (R4)."""

    async def batch_load_fn(self, keys: list[int]) -> list[Valuation | None]:
        rows = await valuations(self.db, portfolio_ids=keys)
        return ordered(rows, keys, key=_PORTFOLIO_ID)


class TransactionsByPortfolioIdLoader(GroupedLoader[PageKey, Page[TransactionRow]]):
    """A page of each portfolio's trades, newest first (`Portfolio.transactions`)."""

    async def fetch(self, parent_ids: list[int], args: PageKey) -> dict[int, Page[TransactionRow]]:
        return await transaction_pages(
            self.db, portfolio_ids=parent_ids, first=args.first, after=args.after
        )


class TransactionCountByPortfolioIdLoader(_DbLoader[int, int]):
    """How many transactions each portfolio has, one GROUP BY per batch."""

    async def batch_load_fn(self, keys: list[int]) -> list[int]:
        counts = await transaction_counts(self.db, portfolio_ids=keys)
        return [counts.get(key, 0) for key in keys]
