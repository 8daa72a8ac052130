"""Portfolio queries: the public securities list and a portfolio by id (owner or admin)."""

from __future__ import annotations

from typing import Annotated

import strawberry

from graphql_api.core.db.queries.portfolios import (
    AnyPortfolio,
    AnyTransaction,
    SecurityRow,
    count_securities,
    list_securities,
)
from graphql_api.core.errors import BadUserInput, NotFound
from graphql_api.core.ids import decode_id_of
from schema.cache import Scope, cache_hint
from schema.node import register
from schema.portfolios.permissions import can_read_portfolios_of
from schema.portfolios.types import PortfolioType, SecurityConnection
from schema.types import AfterArg, Connection, FirstArg, Info, paginate

MAX_SYMBOLS = 100


def _visible(info: Info, row: AnyPortfolio) -> bool:
    return can_read_portfolios_of(info.context.principal, row.owner_id)


async def _transaction(info: Info, pk: int) -> AnyTransaction | None:
    """A transaction is visible exactly when its portfolio is."""
    loaders = info.context.loaders
    transaction = await loaders.transaction_by_id.load(pk)
    if transaction is None:
        return None
    portfolio = await loaders.portfolio_by_id.load(transaction.portfolio_id)
    if portfolio is None or not _visible(info, portfolio):
        return None
    return transaction


register("Security", lambda info, pk: info.context.loaders.security_by_id.load(pk))
register("Portfolio", lambda info, pk: info.context.loaders.portfolio_by_id.load(pk), _visible)
register("Transaction", _transaction)


@strawberry.type
class PortfolioQueries:
    @strawberry.field(
        description="Securities ordered by symbol; public.", graphql_type=SecurityConnection
    )
    async def securities(
        self,
        info: Info,
        first: FirstArg = None,
        after: AfterArg = None,
        symbols: Annotated[
            list[str] | None,
            strawberry.argument(
                description="Only these symbols (exact, case-sensitive match); at most 100."
            ),
        ] = None,
    ) -> Connection[SecurityRow]:
        db = info.context.db
        if symbols is not None and len(symbols) > MAX_SYMBOLS:
            raise BadUserInput(f"At most {MAX_SYMBOLS} symbols per call.", field="symbols")
        return await paginate(
            first,
            lambda size: list_securities(db, symbols=symbols, first=size, after=after),
            lambda: count_securities(db, symbols=symbols),
        )

    @strawberry.field(
        description="A portfolio by ID; NOT_FOUND unless the caller owns it or is an admin.",
        graphql_type=PortfolioType | None,
    )
    @cache_hint(Scope.USER)
    async def portfolio(
        self,
        info: Info,
        id: Annotated[strawberry.ID, strawberry.argument(description="Global ID of a Portfolio.")],
    ) -> AnyPortfolio:
        pk = decode_id_of(id, "Portfolio")
        row = await info.context.loaders.portfolio_by_id.load(pk)
        if row is None or not _visible(info, row):
            raise NotFound("No portfolio with this ID.", field="id")
        return row
