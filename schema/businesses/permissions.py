"""Who may read a business's sensitive fields: its owner, editors and admins (DESIGN.md)."""

from __future__ import annotations

from typing import Any

from graphql_api.db.enums import Role
from schema.permissions import DeniedByDefault
from schema.types import Info


class CanReadSensitiveBusinessFields(DeniedByDefault):
    def has_permission(self, source: Any, info: Info, **kwargs: Any) -> bool:
        principal = info.context.principal
        if principal.has_role(Role.EDITOR, Role.ADMIN):
            return True
        return principal.user_id is not None and principal.user_id == source.owner_id
