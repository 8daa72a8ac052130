"""Portfolio loaders: securities, portfolios, holdings, transactions and valuations."""

from __future__ import annotations

from collections.abc import Hashable
from typing import Generic, TypeVar

from aiodataloader import DataLoader
from sqlalchemy.ext.asyncio import AsyncSession

from graphql_api.db.engine import Database
from graphql_api.db.models import Holding, Portfolio, Security, Transaction
from graphql_api.db.queries.portfolios import (
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
from graphql_api.pagination import Page
from loaders.base import ByIdLoader, grouped, ordered
from loaders.pages import GroupedLoader, PageKey

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class _DbLoader(DataLoader[K, V], Generic[K, V]):
    """A DataLoader holding the request's Database; each batch opens its own session."""

    def __init__(self, db: Database) -> None:
        super().__init__()
        self.db = db


class SecurityByIdLoader(ByIdLoader[Security]):
    fetch = staticmethod(securities_by_ids)


class PortfolioByIdLoader(ByIdLoader[Portfolio]):
    fetch = staticmethod(portfolios_by_ids)


class TransactionByIdLoader(ByIdLoader[Transaction]):
    fetch = staticmethod(transactions_by_ids)


class PortfoliosByOwnerIdLoader(_DbLoader[int, list[Portfolio]]):
    """Every portfolio of each user, oldest first."""

    async def batch_load_fn(self, keys: list[int]) -> list[list[Portfolio]]:
        async with self.db.read() as session:
            rows = await portfolios_by_owner_ids(session, owner_ids=keys)
        return grouped(rows, keys, key=lambda row: row.owner_id)


class HoldingsByPortfolioIdLoader(_DbLoader[int, list[Holding]]):
    """Open positions of each portfolio, ordered by security id."""

    async def batch_load_fn(self, keys: list[int]) -> list[list[Holding]]:
        async with self.db.read() as session:
            rows = await holdings_by_portfolio_ids(session, portfolio_ids=keys)
        return grouped(rows, keys, key=lambda row: row.portfolio_id)


class PortfolioValuationByPortfolioIdLoader(_DbLoader[int, Valuation | None]):
    """Total value and unrealised P&L of every portfolio asked, in one GROUP BY (R4)."""

    async def batch_load_fn(self, keys: list[int]) -> list[Valuation | None]:
        async with self.db.read() as session:
            rows = await valuations(session, portfolio_ids=keys)
        return ordered(rows, keys, key=lambda row: row.portfolio_id)


class TransactionsByPortfolioIdLoader(GroupedLoader[PageKey, Page[Transaction]]):
    """A page of each portfolio's trades, newest first (`Portfolio.transactions`)."""

    async def fetch(
        self, session: AsyncSession, parent_ids: list[int], args: PageKey
    ) -> dict[int, Page[Transaction]]:
        return await transaction_pages(
            session, portfolio_ids=parent_ids, first=args.first, after=args.after
        )


class TransactionCountByPortfolioIdLoader(_DbLoader[int, int]):
    """How many transactions each portfolio has, one GROUP BY per batch."""

    async def batch_load_fn(self, keys: list[int]) -> list[int]:
        async with self.db.read() as session:
            counts = await transaction_counts(session, portfolio_ids=keys)
        return [counts.get(key, 0) for key in keys]
