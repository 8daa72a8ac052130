"""Who may read a business's sensitive fields and applications: owner, editors, admins (R7)."""

from __future__ import annotations

from typing import Any

from graphql_api.core.db.enums import Role

# The rules have one home, beside the business workflows that apply them to rows.
from graphql_api.services.businesses import can_manage_businesses, can_read_private_business_data
from schema.permissions import DeniedByDefault
from schema.types import Info

__all__ = [
    "CanDecideApplications",
    "CanManageBusinesses",
    "CanReadSensitiveBusinessFields",
    "can_read_private_business_data",
]


class CanReadSensitiveBusinessFields(DeniedByDefault):
    """On fields of `Business`: the source is the business row."""

    def has_permission(self, source: Any, info: Info, **kwargs: Any) -> bool:
        return can_read_private_business_data(info.context.principal, source.owner_id)


class CanManageBusinesses(DeniedByDefault):
    """On business and application mutations: users only; services and anonymous callers
    are FORBIDDEN (the field is null). Which businesses a member may touch is checked by
    the service (another member's business is NOT_FOUND)."""

    message = "Only signed-in users may manage businesses and applications."

    def has_permission(self, source: Any, info: Info, **kwargs: Any) -> bool:
        return can_manage_businesses(info.context.principal)


class CanDecideApplications(DeniedByDefault):
    """On decideApplication: editors and admins only."""

    message = "Only editors and admins may decide applications."

    def has_permission(self, source: Any, info: Info, **kwargs: Any) -> bool:
        return info.context.principal.has_role(Role.EDITOR, Role.ADMIN)
