"""Keyset (cursor) pagination shared by every connection: never OFFSET.

A cursor is opaque to clients: base64url of JSON ``[ordering, sort value, id]``. Naming the
ordering inside the cursor means a cursor taken under one ordering is rejected under another
instead of silently skipping rows. Sort values may be NULL; NULLs sort last in both
directions and the predicate below keeps that order stable.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from enum import Enum
from typing import Any, Generic, TypeVar, overload

import orjson
from sqlalchemy import (
    BigInteger,
    ColumnElement,
    Integer,
    Select,
    and_,
    any_,
    bindparam,
    func,
    or_,
    select,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute, aliased

from graphql_api.core.db.rows import AnySelect
from graphql_api.core.errors import BadUserInput

_BIGINT_MIN, _BIGINT_MAX = -(2**63), 2**63 - 1
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")

DEFAULT_PAGE_SIZE = 20
MAX_PAGE_SIZE = 100

T = TypeVar("T")


def page_size(first: int | None, *, field: str = "first") -> int:
    if first is None:
        return DEFAULT_PAGE_SIZE
    if first < 0 or first > MAX_PAGE_SIZE:
        raise BadUserInput(f"`first` must be between 0 and {MAX_PAGE_SIZE}.", field=field)
    return first


def _to_json_value(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    return value


@dataclass(frozen=True, slots=True)
class SortSpec:
    """One ordering of a connection: a sort column (maybe nullable) then the id tiebreaker."""

    name: str
    column: Any  # InstrumentedAttribute or column expression
    id_column: Any
    descending: bool
    parse: Callable[[Any], Any]

    def order_by(self) -> list[ColumnElement[Any]]:
        if self.descending:
            return [self.column.desc().nulls_last(), self.id_column.desc()]
        return [self.column.asc().nulls_last(), self.id_column.asc()]

    def after(self, value: Any, row_id: int) -> ColumnElement[bool]:
        return self._after(value, row_id)

    def after_params(
        self, *, value_is_null: bool, params: Mapping[str, Any] | None = None
    ) -> ColumnElement[bool]:
        """`after` over the named parameters `after_value` and `after_id` (lean path).

        `params` (from `seek`) only fills in the values, for EXPLAIN and tests; the lean path
        passes them at execution.
        """
        values = params or {}
        value = (
            None
            if value_is_null
            else bindparam("after_value", values.get("after_value"), self.column.type)
        )
        return self._after(value, bindparam("after_id", values.get("after_id"), BigInteger))

    def _after(self, value: Any, row_id: Any) -> ColumnElement[bool]:
        col, idc = self.column, self.id_column

        def beyond(column: Any, bound: Any) -> ColumnElement[bool]:
            result: ColumnElement[bool] = column < bound if self.descending else column > bound
            return result

        if value is None:
            return and_(col.is_(None), beyond(idc, row_id))
        return or_(
            beyond(col, value),
            and_(col == value, beyond(idc, row_id)),
            col.is_(None),
        )

    def cursor(self, value: Any, row_id: int) -> str:
        payload = orjson.dumps([self.name, _to_json_value(value), row_id])
        return base64.urlsafe_b64encode(payload).decode().rstrip("=")

    def decode(self, cursor: str, *, field: str = "after") -> tuple[Any, int]:
        try:
            if len(cursor) > 512:
                raise ValueError("too long")
            raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
            name, value, row_id = orjson.loads(raw)
            if name != self.name or not isinstance(row_id, int):
                raise ValueError("foreign cursor")
            if not _BIGINT_MIN <= row_id <= _BIGINT_MAX:
                raise ValueError("id out of range")
            parsed = None if value is None else self.parse(value)
        except (binascii.Error, ValueError, TypeError, orjson.JSONDecodeError):
            raise BadUserInput("Invalid cursor.", field=field) from None
        return parsed, row_id


def parse_datetime(value: Any) -> datetime:
    if not isinstance(value, str):
        raise ValueError("expected a timestamp")
    parsed = datetime.fromisoformat(value)
    if parsed.tzinfo is not None:
        try:
            # The driver sends it in UTC: a forged offset must not overflow there.
            parsed.astimezone(UTC)
        except OverflowError:
            raise ValueError("timestamp out of range") from None
    return parsed


def parse_date(value: Any) -> date:
    if not isinstance(value, str):
        raise ValueError("expected a date")
    return date.fromisoformat(value)


def parse_int(value: Any) -> int:
    # An INTEGER column's value: a forged cursor beyond it would fail in the driver.
    if not isinstance(value, int) or not -(2**31) <= value < 2**31:
        raise ValueError("expected an integer")
    return value


def parse_str(value: Any) -> str:
    # A forged cursor must not carry what PostgreSQL refuses (NUL, lone surrogates: issue 14).
    if not isinstance(value, str) or _UNSTORABLE.search(value) is not None:
        raise ValueError("expected a string")
    return value


class Cursors(Sequence[str]):
    """The cursors of a page's rows, each encoded when first read.

    Most pages are read without their edges' cursors (`pageInfo { endCursor }` at most),
    and encoding one costs more than serializing the rest of its row.
    """

    __slots__ = ("_encoded", "_items", "_key", "_sort")

    def __init__(
        self, items: Sequence[Any], sort: SortSpec, key: Callable[[Any], tuple[Any, int]]
    ) -> None:
        self._items = items
        self._sort = sort
        self._key = key
        self._encoded: dict[int, str] = {}

    def __len__(self) -> int:
        return len(self._items)

    @overload
    def __getitem__(self, index: int) -> str: ...

    @overload
    def __getitem__(self, index: slice) -> list[str]: ...

    def __getitem__(self, index: int | slice) -> str | list[str]:
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(len(self._items)))]
        if index < 0:
            index += len(self._items)
        cursor = self._encoded.get(index)
        if cursor is None:
            cursor = self._sort.cursor(*self._key(self._items[index]))
            self._encoded[index] = cursor
        return cursor


@dataclass(slots=True)
class Page(Generic[T]):
    """One page of rows with their cursors, as the query layer returns it."""

    items: list[T]
    cursors: Sequence[str]
    has_next_page: bool
    has_previous_page: bool


def build_page(
    rows: Sequence[T],
    sort: SortSpec,
    *,
    first: int,
    after: str | None,
    key: Callable[[T], tuple[Any, int]],
) -> Page[T]:
    items = list(rows[:first])
    return Page(
        items=items,
        cursors=Cursors(items, sort, key),
        has_next_page=len(rows) > first,
        has_previous_page=after is not None,
    )


async def windowed_pages(
    session: AsyncSession,
    *,
    model: type[Any],
    stmt: Select[Any],
    sort: SortSpec,
    parent_column: InstrumentedAttribute[Any],
    parent_ids: Sequence[int],
    first: int,
    after: str | None,
) -> dict[int, Page[Any]]:
    """One page per parent for many parents in ONE query, as ORM entities of a session.

    The read path uses `windowed` + `pages_by_parent` (rows); this form serves code that
    holds a session.

    ROW_NUMBER() OVER (PARTITION BY parent ORDER BY sort) numbers each parent's rows; keeping
    rows numbered <= first + 1 gives every parent its page plus a look-ahead row, so
    `first 3 applications of each of 50 businesses` costs one statement, not 50.
    `stmt` is a `select(model)` with any filters already applied.
    """
    stmt = stmt.where(parent_column.in_(parent_ids))
    if after is not None:
        stmt = stmt.where(sort.after(*sort.decode(after)))
    row_number = (
        func.row_number().over(partition_by=parent_column, order_by=sort.order_by()).label("rn")
    )
    numbered = stmt.add_columns(row_number).subquery()
    entity = aliased(model, numbered)
    query = select(entity).where(numbered.c.rn <= first + 1).order_by(numbered.c.rn)
    rows = (await session.scalars(query)).all()
    grouped: dict[int, list[Any]] = {pid: [] for pid in parent_ids}
    for row in rows:
        grouped[getattr(row, parent_column.key)].append(row)
    return {
        pid: build_page(
            items, sort, first=first, after=after,
            key=lambda r: (getattr(r, sort.column.key), r.id),
        )
        for pid, items in grouped.items()
    }  # fmt: skip


# --- The lean read path (graphql_api.core.db.rows): statements compiled once per shape ---------


class Seek(Enum):
    """Where a page starts; each needs its own statement shape."""

    FIRST = "first"  # no cursor
    AFTER_VALUE = "after_value"  # a cursor whose sort value is not NULL
    AFTER_NULL = "after_null"  # a cursor inside the NULLs-last tail


def seek(sort: SortSpec, *, first: int, after: str | None) -> tuple[Seek, dict[str, Any]]:
    """Decode `after` into the statement shape it needs and the parameters of that shape."""
    params: dict[str, Any] = {"limit": first + 1}
    if after is None:
        return Seek.FIRST, params
    value, row_id = sort.decode(after)
    params["after_id"] = row_id
    if value is None:
        return Seek.AFTER_NULL, params
    params["after_value"] = value
    return Seek.AFTER_VALUE, params


def _seek_condition(
    sort: SortSpec, where: Seek, params: Mapping[str, Any] | None
) -> ColumnElement[bool] | None:
    if where is Seek.FIRST:
        return None
    return sort.after_params(value_is_null=where is Seek.AFTER_NULL, params=params)


def keyset(
    stmt: AnySelect, sort: SortSpec, where: Seek, params: Mapping[str, Any] | None = None
) -> AnySelect:
    """`apply_keyset` with the cursor and page size as parameters (see `seek`).

    `params` only fills in their values, for statements that are also EXPLAINed as built.
    """
    condition = _seek_condition(sort, where, params)
    if condition is not None:
        stmt = stmt.where(condition)
    limit = bindparam("limit", (params or {}).get("limit"), Integer)
    return stmt.order_by(*sort.order_by()).limit(limit)


def windowed(stmt: AnySelect, sort: SortSpec, where: Seek, *, parent_column: Any) -> AnySelect:
    """One page per parent for many parents in ONE statement (nested connections in lists).

    ROW_NUMBER() OVER (PARTITION BY parent ORDER BY sort) numbers each parent's rows; keeping
    rows numbered <= `limit` (first + 1) gives every parent its page plus a look-ahead row,
    so `first 3 applications of each of 50 businesses` costs one statement, not 50.
    Parameters: `parent_ids` (array), `limit`, and the cursor's (see `seek`). `stmt`
    selects labelled columns including `parent_column`; the result selects the same
    columns, each parent's rows in page order. `pages_by_parent` splits the rows.
    """
    stmt = stmt.where(parent_column == any_(bindparam("parent_ids", type_=ARRAY(BigInteger))))
    condition = _seek_condition(sort, where, None)
    if condition is not None:
        stmt = stmt.where(condition)
    row_number = func.row_number().over(partition_by=parent_column, order_by=sort.order_by())
    numbered = stmt.add_columns(row_number.label("rn")).subquery()
    columns = list(numbered.c)[:-1]  # all but rn
    limit = bindparam("limit", type_=Integer)
    return select(*columns).where(numbered.c.rn <= limit).order_by(numbered.c.rn)


def pages_by_parent(
    rows: Iterable[T],
    parent_ids: Sequence[int],
    sort: SortSpec,
    *,
    first: int,
    after: str | None,
    parent: Callable[[T], int],
    key: Callable[[T], tuple[Any, int]],
) -> dict[int, Page[T]]:
    """Split the rows of a `windowed` statement into one page per parent."""
    grouped: dict[int, list[T]] = {pid: [] for pid in parent_ids}
    for row in rows:
        grouped[parent(row)].append(row)
    return {
        pid: build_page(items, sort, first=first, after=after, key=key)
        for pid, items in grouped.items()
    }
