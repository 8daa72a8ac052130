"""Account queries: who the caller is."""

from __future__ import annotations

import strawberry

from graphql_api.core.db.queries.accounts import AnyUser
from schema.accounts.types import UserType
from schema.cache import Scope, cache_hint
from schema.node import register
from schema.types import Info

# Public profile for everyone; private fields carry their own permission classes.
register("User", lambda info, pk: info.context.loaders.user_by_id.load(pk))


@strawberry.type
class AccountQueries:
    @strawberry.field(
        description="The signed-in user; null for anonymous callers and services.",
        graphql_type=UserType | None,
    )
    @cache_hint(Scope.USER)
    async def me(self, info: Info) -> AnyUser | None:
        user_id = info.context.principal.user_id
        if user_id is None:
            return None
        return await info.context.loaders.user_by_id.load(user_id)
