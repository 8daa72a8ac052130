"""Who may read a business's sensitive fields and applications: owner, editors, admins (R7)."""

from __future__ import annotations

from typing import Any

from graphql_api.auth.principal import Principal
from graphql_api.db.enums import Role
from schema.permissions import DeniedByDefault
from schema.types import Info


def can_read_private_business_data(principal: Principal, owner_id: int | None) -> bool:
    """Sensitive fields and applications of a business: its owner, editors and admins."""
    if principal.has_role(Role.EDITOR, Role.ADMIN):
        return True
    return principal.user_id is not None and principal.user_id == owner_id


class CanReadSensitiveBusinessFields(DeniedByDefault):
    """On fields of `Business`: the source is the business row."""

    def has_permission(self, source: Any, info: Info, **kwargs: Any) -> bool:
        return can_read_private_business_data(info.context.principal, source.owner_id)
