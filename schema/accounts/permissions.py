"""Per-field access to a user's private data: self or admin (DESIGN.md, R7)."""

from __future__ import annotations

from typing import Any

from graphql_api.core.db.enums import Role
from schema.permissions import DeniedByDefault
from schema.portfolios.permissions import can_read_portfolios_of
from schema.types import Info


class IsSelfOrAdmin(DeniedByDefault):
    """The user the field belongs to (`source` is a User row), or an admin."""

    def has_permission(self, source: Any, info: Info, **kwargs: Any) -> bool:
        principal = info.context.principal
        if principal.has_role(Role.ADMIN):
            return True
        return principal.user_id is not None and principal.user_id == source.id


class CanReadEmail(IsSelfOrAdmin):
    """`User.email`: the user themself or an admin; the address never appears when denied."""


class CanReadUserPortfolios(DeniedByDefault):
    """`User.portfolios`: the owner, or an admin (who reads every portfolio)."""

    def has_permission(self, source: Any, info: Info, **kwargs: Any) -> bool:
        return can_read_portfolios_of(info.context.principal, source.id)
