"""Who may read a business's sensitive fields and applications: owner, editors, admins (R7)."""

from __future__ import annotations

from typing import Any

from graphql_api.core.auth.principal import Principal
from graphql_api.core.db.enums import Role
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


def can_manage_businesses(principal: Principal) -> bool:
    """Creating businesses and applying with them: signed-in users (members for their own)."""
    return principal.user_id is not None and principal.role is not None


def can_manage_business(principal: Principal, owner_id: int | None) -> bool:
    """Changing one business or applying with it: its owner, editors and admins."""
    return can_manage_businesses(principal) and can_read_private_business_data(principal, owner_id)


class CanManageBusinesses(DeniedByDefault):
    """On business and application mutations: users only; services and anonymous callers
    are FORBIDDEN (the field is null). Which businesses a member may touch is checked by
    the mutation (another member's business is NOT_FOUND)."""

    message = "Only signed-in users may manage businesses and applications."

    def has_permission(self, source: Any, info: Info, **kwargs: Any) -> bool:
        return can_manage_businesses(info.context.principal)


class CanDecideApplications(DeniedByDefault):
    """On decideApplication: editors and admins only."""

    message = "Only editors and admins may decide applications."

    def has_permission(self, source: Any, info: Info, **kwargs: Any) -> bool:
        return info.context.principal.has_role(Role.EDITOR, Role.ADMIN)
