"""Who may read a portfolio, its holdings and its transactions: its owner and admins (R7).

Anyone else gets NOT_FOUND for the portfolio itself (`portfolio(id)`, `node`), never a hint
that it exists; lists of someone's portfolios are FORBIDDEN (schema.accounts.permissions).
"""

from __future__ import annotations

from graphql_api.auth.principal import Principal
from graphql_api.db.enums import Role


def can_read_portfolios_of(principal: Principal, owner_id: int) -> bool:
    """Admins read every portfolio; everyone else only their own. Services read none."""
    if principal.has_role(Role.ADMIN):
        return True
    return principal.user_id is not None and principal.user_id == owner_id
