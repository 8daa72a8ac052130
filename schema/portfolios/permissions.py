"""Who may read a portfolio, its holdings and its transactions: its owner and admins (R7).

Anyone else gets NOT_FOUND for the portfolio itself (`portfolio(id)`, `node`), never a hint
that it exists; lists of someone's portfolios are FORBIDDEN (schema.accounts.permissions).
"""

from __future__ import annotations

from graphql_api.core.auth.principal import Principal
from graphql_api.core.db.enums import Role
from graphql_api.core.errors import Forbidden, Unauthenticated


def can_read_portfolios_of(principal: Principal, owner_id: int) -> bool:
    """Admins read every portfolio; everyone else only their own. Services read none."""
    if principal.has_role(Role.ADMIN):
        return True
    return principal.user_id is not None and principal.user_id == owner_id


def can_update_prices(principal: Principal) -> bool:
    """`updatePrices`: admins, and services holding prices:write (the price feed)."""
    return principal.has_role(Role.ADMIN) or principal.has_scope("prices:write")


def require_price_writer(principal: Principal) -> None:
    """UNAUTHENTICATED for anonymous callers, FORBIDDEN for anyone else not allowed."""
    if can_update_prices(principal):
        return
    if principal.is_anonymous:
        raise Unauthenticated("Sign in (or use an API key) to update prices.")
    raise Forbidden("Updating prices needs the ADMIN role or the prices:write scope.")


def require_user(principal: Principal) -> int:
    """The signed-in user's id; portfolios belong to users, so services and anonymous
    callers are UNAUTHENTICATED here."""
    if principal.user_id is None:
        raise Unauthenticated("Sign in as a user to manage portfolios.")
    return principal.user_id
