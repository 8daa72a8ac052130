"""Expected failures of portfolio mutations, as `UserError`s (R11, R13)."""

from __future__ import annotations

from graphql_api.core.db.writes.portfolios import TradeRejection
from schema.errors import UserError, UserErrorCode, user_error


def unknown_symbol(symbol: str, field: str) -> UserError:
    return user_error(
        UserErrorCode.UNKNOWN_SYMBOL, f"No security has the symbol {symbol!r}.", field
    )


def duplicate_symbol(field: str) -> UserError:
    return user_error(UserErrorCode.DUPLICATE, "This symbol is listed twice.", field)


def duplicate_portfolio_name() -> UserError:
    return user_error(
        UserErrorCode.DUPLICATE, "You already have a portfolio with this name.", "input.name"
    )


def trade_rejected(rejection: TradeRejection) -> UserError:
    """A refusal decided inside the trade's transaction (codes are UserErrorCode values)."""
    return user_error(UserErrorCode(rejection.code), rejection.message, rejection.field)
