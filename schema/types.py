"""Shared schema building blocks: typed Info, Relay Node, PageInfo and generic connections."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping, Sequence
from enum import Enum
from typing import Annotated, Any, Generic, TypeAlias, TypeVar, cast, dataclass_transform

import strawberry
from strawberry.types import Info as StrawberryInfo
from strawberry.types.enum import has_enum_definition
from strawberry.types.field import StrawberryField

from graphql_api.core.ids import encode_id
from graphql_api.core.pagination import Page, page_size
from graphql_api.services.inputs import NOT_GIVEN, Maybe
from schema.context import Context
from schema.projection import reads

Info: TypeAlias = StrawberryInfo[Context, None]

# The Relay pagination arguments every connection field takes, documented once.
FirstArg: TypeAlias = Annotated[
    int | None, strawberry.argument(description="Page size: default 20, at most 100.")
]
AfterArg: TypeAlias = Annotated[
    str | None,
    strawberry.argument(description="Cursor of the row after which the page starts."),
]

E = TypeVar("E", bound=Enum)


def described_enum(
    enum_cls: type[E], *, name: str, description: str, values: Mapping[str, str]
) -> type[E]:
    """Expose a domain StrEnum in the schema with a description on every value (R21).

    A value missing from `values` fails at import time, so a new enum member cannot ship
    undocumented. Strawberry marks the class itself as the GraphQL enum, so annotations
    name the domain class (`status: AnnouncementStatus`): a name bound to this call's
    result would be a variable to mypy, not a type.
    """
    marked = strawberry.enum(enum_cls, name=name, description=description)
    assert has_enum_definition(marked)
    for value in marked.__strawberry_definition__.values:
        value.description = values[value.name]
    return enum_cls


T = TypeVar("T")
A = TypeVar("A")
R = TypeVar("R")


def given(value: T) -> Maybe[T]:
    """An optional input field as services take it: NOT_GIVEN when the client left it out
    (Strawberry's UNSET), the value (None included: "clear it") otherwise."""
    return NOT_GIVEN if value is strawberry.UNSET else value


def later(future: Awaitable[T]) -> T:
    """Return a DataLoader's future from a plain `def` resolver.

    Both the engine and graphql-core await an awaitable a resolver returns. An `async def`
    resolver would instead make a coroutine, and an asyncio Task to run it, for every row;
    on list pages that cost more than the row itself. Typed as the loaded value, which is
    what the field resolves to.
    """
    return cast(T, future)


def then(source: asyncio.Future[A], convert: Callable[[A], T]) -> T:
    """`later` for a value derived from the loaded one (e.g. a Connection from a Page)."""
    result: asyncio.Future[T] = source.get_loop().create_future()

    def done(loaded: asyncio.Future[A]) -> None:
        if result.done():
            return
        if loaded.cancelled():
            result.cancel()
            return
        error = loaded.exception()
        if error is not None:
            result.set_exception(error)
            return
        try:
            result.set_result(convert(loaded.result()))
        except Exception as exc:  # the field's error, as if the resolver had raised it
            result.set_exception(exc)

    source.add_done_callback(done)
    return cast(T, result)


@strawberry.interface(description="An object with a globally unique, opaque ID (Relay).")
class Node:
    id: strawberry.ID = strawberry.field(
        description="Globally unique, opaque identifier; pass it to `node(id:)` to refetch."
    )


N = TypeVar("N", bound=Node)

# `strawberry.ID` is `str` at run time; this spares a call to the NewType on every row.
_encode_id = cast(Callable[[str, int], strawberry.ID], encode_id)


# Like `strawberry.type`, so type checkers model the class the same way.
@dataclass_transform(
    order_default=False, kw_only_default=True, field_specifiers=(strawberry.field, StrawberryField)
)
def node_type(
    name: str, rows: tuple[type, ...], *, description: str
) -> Callable[[type[N]], type[N]]:
    """`@strawberry.type` for a Node type, with its `id` and `is_type_of` derived from the
    GraphQL type name and the row classes it resolves from (read rows, ORM instances).

    Both run on every row of every page: the `id` resolver takes only the row, so the
    engine calls it directly (schema/fast.py), and `is_type_of` is a plain function, not
    a bound classmethod.
    """

    def global_id(root: strawberry.Parent[Any]) -> strawberry.ID:
        return _encode_id(name, root.id)

    def is_type_of(obj: object, info: object) -> bool:
        return isinstance(obj, rows)

    def decorate(cls: type[N]) -> type[N]:
        # Set before Strawberry reads the class, as if written in its body.
        cls.id = strawberry.field(
            resolver=global_id,
            description="Globally unique, opaque identifier.",
            metadata=reads("id"),
        )
        # Strawberry reads `is_type_of` from the class; Node does not declare it.
        setattr(cls, "is_type_of", staticmethod(is_type_of))  # noqa: B010
        return strawberry.type(cls, name=name, description=description)

    return decorate


@strawberry.type(description="Where a page sits in its connection (Relay).")
class PageInfo:
    has_next_page: bool = strawberry.field(description="True when rows exist after this page.")
    has_previous_page: bool = strawberry.field(
        description="True when this page was requested with `after`, so rows exist before it."
    )
    # Cursors are computed only when selected (an encoding per row adds up on every page).
    cursors: strawberry.Private[Sequence[str]]

    @strawberry.field(description="Cursor of the first edge, if any.")
    @staticmethod
    def start_cursor(root: strawberry.Parent[PageInfo]) -> str | None:
        return root.cursors[0] if root.cursors else None

    @strawberry.field(
        description="Cursor of the last edge; pass it as `after` to fetch the next page."
    )
    @staticmethod
    def end_cursor(root: strawberry.Parent[PageInfo]) -> str | None:
        return root.cursors[-1] if root.cursors else None


@strawberry.type(description="One row of a connection with its cursor.")
class Edge(Generic[T]):
    node: T = strawberry.field(description="The row.")
    cursors: strawberry.Private[Sequence[str]]
    index: strawberry.Private[int]

    @strawberry.field(description="Opaque keyset cursor of this row.")
    @staticmethod
    def cursor(root: strawberry.Parent[Edge[Any]]) -> str:
        return root.cursors[root.index]


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

    @staticmethod
    def from_page(page: Page[R], count: Callable[[], Awaitable[int]]) -> Connection[R]:
        cursors = page.cursors
        return Connection(
            edges=[
                Edge(node=item, cursors=cursors, index=index)
                for index, item in enumerate(page.items)
            ],
            page_info=PageInfo(
                has_next_page=page.has_next_page,
                has_previous_page=page.has_previous_page,
                cursors=cursors,
            ),
            count=count,
        )


async def paginate(
    first: int | None,
    rows: Callable[[int], Awaitable[Page[R]]],
    count: Callable[[], Awaitable[int]],
) -> Connection[R]:
    """A top-level connection: checks `first`, reads one page with `rows(page size)`, and
    keeps `count` for `totalCount` (run only when selected).

    Annotate the resolver with the rows it returns (`Connection[AnnouncementRow]`) and give
    the GraphQL connection as `graphql_type`.
    """
    page = await rows(page_size(first))
    return Connection.from_page(page, count)
