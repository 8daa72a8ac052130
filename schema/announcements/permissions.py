"""Who may write announcements: editors, admins and services with announcements:write (R7)."""

from __future__ import annotations

from typing import Any

from graphql_api.core.auth.principal import Principal
from graphql_api.core.db.enums import Role
from schema.permissions import DeniedByDefault
from schema.types import Info

WRITE_SCOPE = "announcements:write"


def can_write_announcements(principal: Principal) -> bool:
    """Editors and admins, or a service whose API key carries announcements:write."""
    if principal.has_role(Role.EDITOR, Role.ADMIN):
        return True
    return principal.is_service and principal.has_scope(WRITE_SCOPE)


class CanWriteAnnouncements(DeniedByDefault):
    """On announcement mutations: FORBIDDEN (the field is null) for anyone else."""

    message = "You are not allowed to change announcements."

    def has_permission(self, source: Any, info: Info, **kwargs: Any) -> bool:
        return can_write_announcements(info.context.principal)
