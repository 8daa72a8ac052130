"""Relay `node`/`nodes`: refetch any object by global ID, or NOT_FOUND when hidden.

Each domain registers how to load its type and whether the caller may see a row. A row the
caller may not see is reported exactly like a missing one, so IDs leak nothing.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated, Any

import strawberry

from graphql_api.core.errors import BadUserInput, NotFound
from graphql_api.core.ids import decode_id
from schema.cache import Scope, cache_hint
from schema.types import Info, Node

Fetch = Callable[[Info, int], Awaitable[Any]]
Visible = Callable[[Info, Any], bool]

_REGISTRY: dict[str, tuple[Fetch, Visible]] = {}


def register(type_name: str, fetch: Fetch, visible: Visible = lambda info, row: True) -> None:
    _REGISTRY[type_name] = (fetch, visible)


def is_registered(type_name: str) -> bool:
    """True when `node(id:)` can fetch objects of this type."""
    return type_name in _REGISTRY


async def resolve_node(info: Info, global_id: str, *, field: str = "id") -> object:
    """The row behind a global ID (a read row or ORM instance of a Node type)."""
    type_name, pk = decode_id(global_id, field=field)
    entry = _REGISTRY.get(type_name)
    if entry is None:
        raise NotFound("No object with this ID.", field=field)
    fetch, visible = entry
    row = await fetch(info, pk)
    if row is None or not visible(info, row):
        raise NotFound("No object with this ID.", field=field)
    return row


@strawberry.type
class NodeQueries:
    @strawberry.field(
        description="Fetch any object by its global ID; NOT_FOUND when it does "
        "not exist or the caller may not see it.",
        graphql_type=Node | None,
    )
    @cache_hint(Scope.USER)
    async def node(
        self,
        info: Info,
        id: Annotated[strawberry.ID, strawberry.argument(description="A global ID.")],
    ) -> object:
        return await resolve_node(info, id)

    @strawberry.field(
        description="Fetch several objects by global ID, in the order given; "
        "an entry is null (with a NOT_FOUND error) when hidden or missing.",
        graphql_type=list[Node | None],
    )
    @cache_hint(Scope.USER)
    def nodes(
        self,
        info: Info,
        ids: Annotated[
            list[strawberry.ID], strawberry.argument(description="Global IDs, at most 100.")
        ],
    ) -> list[Awaitable[object]]:
        if len(ids) > 100:
            raise BadUserInput("At most 100 IDs per call.", field="ids")
        # graphql-core awaits each item on its own, so one hidden ID nulls only its entry.
        return [resolve_node(info, gid) for gid in ids]
