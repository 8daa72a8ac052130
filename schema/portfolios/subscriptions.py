"""portfolioUpdated: a portfolio after trades and price moves, for its owner and admins (R4,
R7, R17).

Events: PORTFOLIO_UPDATED names the affected portfolios, with reason "trade" (placeTrade) or
"prices" (updatePrices emits it with every portfolio holding an updated security, in the
same transaction as the prices). The broker routes by portfolio id, so a subscriber only
ever sees its own portfolio's events.

Coalescing: a price event opens a window of `COALESCE_SECONDS`; every further event for the
portfolio inside it is absorbed, and one update goes out at its end with the state as of
then. A batch of 500 prices is one event and at most one update per portfolio; a burst of
separate price batches is also one update per window. A trade is the owner's own action,
so it is sent at once (absorbing any pending price update, as the state sent is current).
"""

from __future__ import annotations

import time
from collections.abc import AsyncGenerator
from typing import Annotated, Final

import strawberry

from graphql_api.core.db.queries.portfolios import AnyPortfolio
from graphql_api.core.errors import NotFound
from graphql_api.core.events import PORTFOLIO_UPDATED
from graphql_api.core.ids import decode_id_of
from schema.portfolios.permissions import can_read_portfolios_of
from schema.portfolios.types import PortfolioType
from schema.subscriptions import LiveOperation
from schema.types import Info

COALESCE_SECONDS: Final = 0.1
NOT_FOUND_MESSAGE: Final = "No portfolio with this ID."


async def _visible_portfolio(live: LiveOperation, portfolio_id: int) -> AnyPortfolio:
    """The portfolio through the context's (fresh) loaders; NOT_FOUND unless the subscriber
    owns it or is an admin, exactly as `portfolio(id)`."""
    row = await live.context.loaders.portfolio_by_id.load(portfolio_id)
    if row is None or not can_read_portfolios_of(live.principal, row.owner_id):
        raise NotFound(NOT_FOUND_MESSAGE, field="portfolioId")
    return row


async def _updates(live: LiveOperation, portfolio_id: int) -> AsyncGenerator[AnyPortfolio, None]:
    async with live:
        while True:
            event = await live.next_event()
            if event.payload.get("reason") != "trade":
                deadline = time.monotonic() + COALESCE_SECONDS
                while (remaining := deadline - time.monotonic()) > 0:
                    later = await live.next_event_within(remaining)
                    if later is None or later.payload.get("reason") == "trade":
                        break
            await live.begin_delivery()
            # Re-checked per delivery: a role change or a deleted portfolio ends it.
            yield await _visible_portfolio(live, portfolio_id)


@strawberry.type
class PortfolioSubscriptions:
    @strawberry.subscription(
        description="The portfolio each time it changes: at once after a trade, and at most "
        "once per 100 ms window for price moves of securities it holds. Only for its owner "
        "and admins; anyone else (anonymous included) gets NOT_FOUND and no data. Ends with "
        "UNAUTHENTICATED when the connection's access token expires.",
        graphql_type=PortfolioType,
    )
    async def portfolio_updated(
        self,
        info: Info,
        portfolio_id: Annotated[
            strawberry.ID, strawberry.argument(description="Global ID of a Portfolio.")
        ],
    ) -> AsyncGenerator[AnyPortfolio, None]:
        pk = decode_id_of(portfolio_id, "Portfolio", field="portfolioId")
        live = await LiveOperation.open(info, (PORTFOLIO_UPDATED,), key=pk)
        await _visible_portfolio(live, pk)
        return _updates(live, pk)
