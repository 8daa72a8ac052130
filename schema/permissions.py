"""Permission classes shared by the domains; denials are FORBIDDEN errors, never silent nulls."""

from __future__ import annotations

from typing import Any, ClassVar

from strawberry.permission import BasePermission

from graphql_api.core.cache_hints import Scope
from graphql_api.core.db.enums import Role
from graphql_api.core.errors import ErrorCode
from schema.types import Info


class DeniedByDefault(BasePermission):
    """Base: a FORBIDDEN error naming nothing about the protected value."""

    message = "You are not allowed to see this field."
    error_extensions = {"code": ErrorCode.FORBIDDEN.value}
    # A field behind this permission is cached per caller (schema/cache.py): permissions
    # read the caller. A class deciding by role alone could say Scope.ROLE; none does yet.
    cache_scope: ClassVar[Scope] = Scope.USER

    def has_permission(self, source: Any, info: Info, **kwargs: Any) -> bool:
        return False


class IsStaff(DeniedByDefault):
    """Editors and admins."""

    def has_permission(self, source: Any, info: Info, **kwargs: Any) -> bool:
        return info.context.principal.has_role(Role.EDITOR, Role.ADMIN)


class IsAdmin(DeniedByDefault):
    """Admins only (API keys, the audit log, roles); services and other roles are denied."""

    message = "Only administrators may do this."

    def has_permission(self, source: Any, info: Info, **kwargs: Any) -> bool:
        return info.context.principal.has_role(Role.ADMIN)
