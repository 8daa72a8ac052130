"""Reads without the ORM: statements compiled once from SQLAlchemy Core, run on asyncpg.

The ORM costs more CPU per request than everything it buys on a read path (identity map,
instance state, statement compilation and the greenlet bridge per execution). Reads are
therefore written as SQLAlchemy Core `select()`s, compiled ONCE per statement shape with the
asyncpg dialect (`$1..$n` parameters) and executed on a plain asyncpg pool. Rows come back as
`asyncpg.Record` subclasses generated per query with one property per selected column, so
`row.title` (what resolvers and `attrgetter` do) stays in C.

Rules for statements given to `prepare`:

- Values that change per call are explicitly named `bindparam("name")`s; callers pass them
  by that name. An anonymous bind (`column == "PUBLISHED"`) is a constant of the statement,
  captured at compile time, so it must never carry a per-call value.
- Lists go in as one ARRAY-typed bind compared with `= ANY(...)`, never an expanding IN:
  one SQL text then serves any number of values, and asyncpg prepares it once per
  connection.
- Statements whose structure varies (optional filters, ordering, a cursor) are compiled once
  per shape by the caller (`functools.cache` on the shape), never per request.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import operator
import time
from collections.abc import Callable, Mapping
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any, Generic, TypeAlias, TypeVar, cast

import asyncpg
import orjson
from sqlalchemy import (
    ARRAY,
    JSON,
    BigInteger,
    Boolean,
    Date,
    DateTime,
    Enum,
    Float,
    Integer,
    Numeric,
    String,
    bindparam,
)
from sqlalchemy.engine import make_url
from sqlalchemy.sql import Select
from sqlalchemy.sql.elements import BindParameter
from sqlalchemy.types import TypeEngine

from graphql_api.core.db.touched import ReadTags, read_tags_of

log = logging.getLogger("graphql_api.sql")

# Statements sent on behalf of the current request (ORM and lean path alike). Loader batches
# run in tasks created during the request, which copy this context, so they add to the same
# counter.
statement_counter: ContextVar[list[int] | None] = ContextVar("statement_counter", default=None)

# The dialect of the read engine: identical SQL text, and `$n` parameters for asyncpg.
_DIALECT = make_url("postgresql+asyncpg://").get_dialect()()

StatementListener = Callable[[str], None]


class Row(asyncpg.Record):
    """Base of the generated record classes.

    Domain subclasses annotate the columns every query of theirs selects (for type checkers);
    `prepare` refuses a statement that does not select all of them.
    """

    __slots__ = ()


R = TypeVar("R", bound=Row)

# A SELECT of any number of columns of any type.
AnySelect: TypeAlias = Select[*tuple[Any, ...]]


def ids_param(name: str, value: Any = None) -> BindParameter[Any]:
    """A list of bigint ids as ONE parameter, for `column == any_(ids_param("ids"))`.

    `value` only matters where the statement is also executed or EXPLAINed as built.
    """
    return bindparam(name, value, type_=ARRAY(BigInteger))


def array_param(name: str, item_type: TypeEngine[Any], value: Any = None) -> BindParameter[Any]:
    """A list of values as ONE array parameter (`= ANY(...)`, `&&`)."""
    return bindparam(name, value, type_=ARRAY(item_type))


@dataclass(frozen=True, slots=True, eq=False)
class Query(Generic[R]):
    """One compiled statement: its SQL text, its parameters in order, its record class."""

    sql: str
    # Per `$n`: the caller's parameter name, or None for a constant of the statement.
    slots: tuple[tuple[str | None, Any], ...]
    names: frozenset[str]
    record_class: type[R]
    # What it reads, for the caches' invalidation (core/db/touched.py).
    tags: ReadTags
    # Its results are kept by the query cache (core/db/query_cache.py).
    cached: bool = False

    def args(self, params: Mapping[str, Any]) -> list[Any]:
        if len(params) != len(self.names):
            raise TypeError(f"expected parameters {sorted(self.names)}, got {sorted(params)}")
        try:
            return [const if name is None else params[name] for name, const in self.slots]
        except KeyError as exc:
            raise TypeError(f"missing parameter {exc} (expected {sorted(self.names)})") from None


def project(
    columns: tuple[Any, ...], wanted: frozenset[str] | None, *always: str
) -> tuple[Any, ...]:
    """The `columns` named in `wanted` or `always`, in their order; all when `wanted` is None.

    For list queries whose caller knows which fields the response selects: rows then carry
    only those columns (give the statement to `prepare(..., partial=True)`).
    """
    if wanted is None:
        return columns
    keep = wanted.union(always)
    return tuple(column for column in columns if column.key in keep)


def prepare(
    stmt: AnySelect, row: type[R], *, partial: bool = False, cached: bool = False
) -> Query[R]:
    """Compile `stmt` once for the lean path; rows come back as a subclass of `row`.

    `partial`: the statement may select only some of the columns `row` declares (a
    projected list query); reading an unselected one raises AttributeError.
    `cached`: keep its results in the query cache (small, hot, rarely written data whose
    parameters repeat; never a parameter that changes per call such as the clock).
    """
    compiled = stmt.compile(dialect=_DIALECT)
    sql = str(compiled)
    if "POSTCOMPILE" in sql:
        raise ValueError("expanding IN parameters vary the SQL text; use = ANY(array_param())")
    binds = {name: bind for bind, name in compiled.bind_names.items()}
    slots: list[tuple[str | None, Any]] = []
    for name in compiled.positiontup or ():
        bind = binds[name]
        if bind.unique:
            processor = bind.type.dialect_impl(_DIALECT).bind_processor(_DIALECT)
            value = bind.effective_value
            slots.append((None, processor(value) if processor else value))
        else:
            slots.append((name, None))
    names = frozenset(name for name, _ in slots if name is not None)
    record_class = _record_class(row, stmt, partial=partial)
    return Query(sql, tuple(slots), names, record_class, read_tags_of(stmt), cached)


_PLAIN_TYPES = (Integer, String, Boolean, DateTime, Date, Numeric, JSON)


def _getter(index: int, type_: TypeEngine[Any], key: str) -> Callable[[Any], Any]:
    """How to read column `index` so it equals what the ORM gives for this column type."""
    get = operator.itemgetter(index)
    if isinstance(type_, Enum):
        # checked_enum columns are VARCHAR; the ORM hands out the StrEnum member and
        # resolvers compare members with `is`.
        if type_.enum_class is None:
            raise TypeError(f"column {key!r}: Enum without a Python enum class")
        members: dict[Any, Any] = {member.value: member for member in type_.enum_class}

        def convert(row: Any) -> Any:
            value = get(row)
            return None if value is None else members[value]

        return convert
    if isinstance(type_, ARRAY):
        item = type_.item_type
        if isinstance(item, Enum) or not isinstance(item, _PLAIN_TYPES):
            raise TypeError(f"column {key!r}: no lean reader for {type_!r}")
        return get
    if isinstance(type_, Numeric) and not isinstance(type_, Float) and not type_.asdecimal:
        raise TypeError(f"column {key!r}: Numeric(asdecimal=False) would read as Decimal")
    if not isinstance(type_, _PLAIN_TYPES):
        # Anything else (UUID, intervals, untyped expressions) may read differently from
        # the ORM; support it here deliberately rather than by accident.
        raise TypeError(f"column {key!r}: no lean reader for {type_!r}")
    return get


def _declared(row: type[Row]) -> set[str]:
    names: set[str] = set()
    for cls in row.__mro__:
        if issubclass(cls, Row) and cls is not Row:
            names.update(inspect.get_annotations(cls))
    return names


def _record_class(row: type[R], stmt: AnySelect, *, partial: bool) -> type[R]:
    namespace: dict[str, Any] = {"__slots__": (), "__module__": row.__module__}
    for index, column in enumerate(stmt.selected_columns):
        key = column.key
        if key is None or key in namespace or hasattr(asyncpg.Record, key):
            raise ValueError(f"column {key!r}: label every column with a unique, free name")
        namespace[key] = property(_getter(index, column.type, key))
    missing = _declared(row) - namespace.keys()
    if missing and not partial:
        raise ValueError(f"{row.__name__} needs columns {sorted(missing)}")
    return cast(type[R], type(row.__name__, (row,), namespace))


_CLOSE_TIMEOUT_S = 10.0


def _json_dumps(value: Any) -> str:
    return orjson.dumps(value).decode()


async def _init_connection(conn: asyncpg.Connection[Any]) -> None:
    for name in ("json", "jsonb"):
        await conn.set_type_codec(
            name, schema="pg_catalog", encoder=_json_dumps, decoder=orjson.loads, format="text"
        )


async def _keep_session(conn: asyncpg.Connection[Any]) -> None:
    """Release without asyncpg's reset query (a round trip per fetch).

    Reads never change session state (no SET, LISTEN, advisory locks or cursors), so there
    is nothing to reset; asyncpg still rolls back a transaction left open, before this runs.
    """


def read_settings(statement_timeout_ms: int) -> dict[str, str]:
    """Session settings of read connections: PostgreSQL cancels a statement past the limit."""
    return {"application_name": "graphql-api", "statement_timeout": str(statement_timeout_ms)}


def asyncpg_dsn(url: str) -> str:
    """The asyncpg DSN of a SQLAlchemy URL (`postgresql+asyncpg://` -> `postgresql://`)."""
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


class RowReader:
    """The asyncpg pool of the lean read path, opened on first use."""

    def __init__(
        self,
        url: str,
        *,
        pool_size: int,
        slow_query_ms: int,
        statement_timeout_ms: int,
        connect_timeout_seconds: float = 60.0,
    ) -> None:
        self._dsn = asyncpg_dsn(url)
        self._connect_timeout_s = connect_timeout_seconds
        self._pool_size = pool_size
        self._slow_s = slow_query_ms / 1000
        self._statement_timeout_ms = statement_timeout_ms
        self._pool: asyncpg.Pool[Any] | None = None
        self._opening: asyncio.Lock | None = None
        self._closed = False
        self.listeners: list[StatementListener] = []

    async def _open(self) -> asyncpg.Pool[Any]:
        if self._opening is None:
            self._opening = asyncio.Lock()
        async with self._opening:
            if self._closed:
                raise RuntimeError("the database has been disposed")
            if self._pool is None:
                self._pool = await asyncpg.create_pool(
                    self._dsn,
                    min_size=1,
                    max_size=self._pool_size,
                    init=_init_connection,
                    reset=_keep_session,
                    server_settings=read_settings(self._statement_timeout_ms),
                    # A server that stops answering (a partition) raises here, after the
                    # server-side timeout would have: never an endless wait.
                    command_timeout=self._statement_timeout_ms / 1000 + 1,
                    # Connecting to a server that does not answer is bounded too (issue 14).
                    timeout=self._connect_timeout_s,
                )
            return self._pool

    async def fetch(self, query: Query[R], params: Mapping[str, Any]) -> list[R]:
        args = query.args(params)
        counter = statement_counter.get()
        if counter is not None:
            counter[0] += 1
        for listener in self.listeners:
            listener(query.sql)
        pool = self._pool or await self._open()
        async with pool.acquire() as connection:
            # Timed with the connection held: waiting for the pool is not a slow query.
            start = time.perf_counter()
            rows = await connection.fetch(query.sql, *args, record_class=query.record_class)
            elapsed = time.perf_counter() - start
        query.tags.record(params, len(rows))
        if elapsed >= self._slow_s:
            # Parameters are left out on purpose: they may hold secrets or personal data.
            log.warning(
                "slow query",
                extra={"duration_ms": round(elapsed * 1000, 1), "statement": query.sql[:2000]},
            )
        return rows

    async def close(self) -> None:
        self._closed = True
        pool, self._pool = self._pool, None
        if pool is None:
            return
        try:
            # Graceful close waits for every borrowed connection; shutdown must not hang on one.
            await asyncio.wait_for(pool.close(), _CLOSE_TIMEOUT_S)
        except TimeoutError:
            pool.terminate()
