"""The caller of a request, resolved once per request or WebSocket connection."""

from __future__ import annotations

from dataclasses import dataclass, field

from graphql_api.core.db.enums import Role


@dataclass(frozen=True, slots=True)
class Principal:
    """Anonymous, a user with a role, or a service holding an API key with scopes."""

    user_id: int | None = None
    role: Role | None = None
    api_key_id: int | None = None
    scopes: frozenset[str] = field(default_factory=frozenset)

    @property
    def is_anonymous(self) -> bool:
        return self.user_id is None and self.api_key_id is None

    @property
    def is_service(self) -> bool:
        return self.api_key_id is not None

    def has_role(self, *roles: Role) -> bool:
        return self.role is not None and self.role in roles

    def has_scope(self, scope: str) -> bool:
        return scope in self.scopes

    @property
    def can_see_drafts_of_announcements(self) -> bool:
        return self.has_role(Role.EDITOR, Role.ADMIN) or self.has_scope("announcements:write")


ANONYMOUS = Principal()
