"""Shared schema building blocks: typed Info, Relay Node, PageInfo and generic connections."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from enum import Enum
from typing import Annotated, Any, Generic, TypeAlias, TypeVar

import strawberry
from strawberry.types import Info as StrawberryInfo

from graphql_api.context import Context
from graphql_api.pagination import Page

Info: TypeAlias = StrawberryInfo[Context, None]

# The Relay pagination arguments every connection field takes, documented once.
FirstArg: TypeAlias = Annotated[
    int | None, strawberry.argument(description="Page size: default 20, at most 100.")
]
AfterArg: TypeAlias = Annotated[
    str | None,
    strawberry.argument(description="Cursor of the row after which the page starts."),
]

E = TypeVar("E", bound=type[Enum])


def described_enum(enum_cls: E, *, name: str, description: str, values: Mapping[str, str]) -> E:
    """Expose a domain StrEnum in the schema with a description on every value (R21).

    A value missing from `values` fails at import time, so a new enum member cannot ship
    undocumented.
    """
    wrapped = strawberry.enum(enum_cls, name=name, description=description)
    for value in wrapped.__strawberry_definition__.values:  # type: ignore[attr-defined]
        value.description = values[value.name]
    return wrapped


T = TypeVar("T")


@strawberry.interface(description="An object with a globally unique, opaque ID (Relay).")
class Node:
    id: strawberry.ID = strawberry.field(
        description="Globally unique, opaque identifier; pass it to `node(id:)` to refetch."
    )


@strawberry.type(description="Where a page sits in its connection (Relay).")
class PageInfo:
    has_next_page: bool = strawberry.field(description="True when rows exist after this page.")
    has_previous_page: bool = strawberry.field(
        description="True when this page was requested with `after`, so rows exist before it."
    )
    start_cursor: str | None = strawberry.field(description="Cursor of the first edge, if any.")
    end_cursor: str | None = strawberry.field(
        description="Cursor of the last edge; pass it as `after` to fetch the next page."
    )


@strawberry.type(description="One row of a connection with its cursor.")
class Edge(Generic[T]):
    node: T = strawberry.field(description="The row.")
    cursor: str = strawberry.field(description="Opaque keyset cursor of this row.")


@strawberry.type(description="A page of rows (Relay connection) with keyset cursors.")
class Connection(Generic[T]):
    edges: list[Edge[T]] = strawberry.field(description="The rows of this page, in order.")
    page_info: PageInfo = strawberry.field(description="Pagination state of this page.")
    count: strawberry.Private[Callable[[], Awaitable[int]]]

    @strawberry.field(
        description="Number of rows matching the filter across all pages; "
        "computed only when selected."
    )
    async def total_count(self) -> int:
        return await self.count()

    @classmethod
    def from_page(cls, page: Page[Any], count: Callable[[], Awaitable[int]]) -> Connection[Any]:
        edges: Sequence[Edge[Any]] = [
            Edge(node=item, cursor=cursor)
            for item, cursor in zip(page.items, page.cursors, strict=True)
        ]
        return cls(
            edges=list(edges),
            page_info=PageInfo(
                has_next_page=page.has_next_page,
                has_previous_page=page.has_previous_page,
                start_cursor=page.cursors[0] if page.cursors else None,
                end_cursor=page.cursors[-1] if page.cursors else None,
            ),
            count=count,
        )
