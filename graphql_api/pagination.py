"""Keyset (cursor) pagination shared by every connection: never OFFSET.

A cursor is opaque to clients: base64url of JSON ``[ordering, sort value, id]``. Naming the
ordering inside the cursor means a cursor taken under one ordering is rejected under another
instead of silently skipping rows. Sort values may be NULL; NULLs sort last in both
directions and the predicate below keeps that order stable.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any, Generic, TypeVar

import orjson
from sqlalchemy import ColumnElement, Select, and_, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute, aliased

from graphql_api.errors import BadUserInput

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
            parsed = None if value is None else self.parse(value)
        except (binascii.Error, ValueError, TypeError, orjson.JSONDecodeError):
            raise BadUserInput("Invalid cursor.", field=field) from None
        return parsed, row_id


def parse_datetime(value: Any) -> datetime:
    if not isinstance(value, str):
        raise ValueError("expected a timestamp")
    return datetime.fromisoformat(value)


def parse_date(value: Any) -> date:
    if not isinstance(value, str):
        raise ValueError("expected a date")
    return date.fromisoformat(value)


def parse_int(value: Any) -> int:
    if not isinstance(value, int):
        raise ValueError("expected an integer")
    return value


def parse_str(value: Any) -> str:
    if not isinstance(value, str):
        raise ValueError("expected a string")
    return value


@dataclass(slots=True)
class Page(Generic[T]):
    """One page of rows with their cursors, as the query layer returns it."""

    items: list[T]
    cursors: list[str]
    has_next_page: bool
    has_previous_page: bool


def apply_keyset(
    stmt: Select[Any], sort: SortSpec, *, first: int, after: str | None
) -> Select[Any]:
    """Order, seek past the cursor and fetch one extra row to learn whether more exist."""
    if after is not None:
        value, row_id = sort.decode(after)
        stmt = stmt.where(sort.after(value, row_id))
    return stmt.order_by(*sort.order_by()).limit(first + 1)


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
        cursors=[sort.cursor(*key(item)) for item in items],
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
    """One page per parent for many parents in ONE query (nested connections in lists).

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
