"""What a statement reads or changes, as entity tags (core/tags.py), found once per statement.

Reads: `read_tags_of(stmt)` at `prepare` time gives the tables a SELECT reads, and whether
it reads one table by primary key (`= ANY(:ids)`), whose rows can then be tagged one by one.
Writes: `changed_tags(stmt)` for INSERT/UPDATE/DELETE statements and `flushed_tags(session)`
for ORM flushes, collected by the writer's session (core/db/engine.py). Anything not
understood answers `EVERYTHING`: invalidating too much is safe, too little is not.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Table, inspect
from sqlalchemy.dialects.postgresql.dml import OnConflictDoUpdate
from sqlalchemy.orm import Session
from sqlalchemy.sql import Delete, Insert, Update, operators
from sqlalchemy.sql.elements import (
    BinaryExpression,
    BindParameter,
    BooleanClauseList,
    CollectionAggregate,
    ColumnElement,
    Grouping,
)
from sqlalchemy.sql.util import find_tables

from graphql_api.core.tags import (
    EVERYTHING,
    any_entity_tag,
    entity_tag,
    read_tags,
    table_tag,
)


@dataclass(frozen=True, slots=True)
class ReadTags:
    """The tags of a prepared SELECT."""

    # List tags of every table it reads.
    tables: frozenset[str]
    # (table, parameter name): it reads `table` alone by primary key in `parameter`'s list.
    keyed: tuple[str, str] | None = None

    def of(self, params: Mapping[str, Any], found: int) -> frozenset[str]:
        """What a fetch with `params` that returned `found` rows read."""
        if self.keyed is None:
            return self.tables
        table, name = self.keyed
        ids = params[name]
        tags = {any_entity_tag(table), *(entity_tag(table, key) for key in ids)}
        if found < len(set(ids)):
            # An id that does not exist yet: an INSERT moves the list tag only.
            tags.add(table_tag(table))
        return frozenset(tags)

    def record(self, params: Mapping[str, Any], found: int) -> None:
        """Note what such a fetch read, if a cached run is collecting."""
        collected = read_tags.get()
        if collected is not None:
            collected.update(self.of(params, found))


def read_tags_of(stmt: Any) -> ReadTags:
    tables = list({t for t in find_tables(stmt, check_columns=True) if isinstance(t, Table)})
    names = frozenset(table_tag(t.name) for t in tables)
    if len(tables) == 1:
        keyed = _keyed_by(tables[0], getattr(stmt, "whereclause", None))
        if keyed is not None:
            return ReadTags(names, (tables[0].name, keyed))
    return ReadTags(names)


def _primary_key(table: Table) -> ColumnElement[Any] | None:
    columns = list(table.primary_key.columns)
    return columns[0] if len(columns) == 1 else None


def _keyed_by(table: Table, where: Any) -> str | None:
    """The name of the list parameter in `WHERE <pk> = ANY(:name)`, else None."""
    key = _primary_key(table)
    if key is None or not isinstance(where, BinaryExpression):
        return None
    if where.operator is not operators.eq or not where.left.compare(key):
        return None
    right = where.right
    if not isinstance(right, CollectionAggregate):
        return None
    bind: Any = right.element
    while isinstance(bind, Grouping):
        bind = bind.element
    if isinstance(bind, BindParameter) and not bind.unique:
        return str(bind.key)
    return None


def changed_tags(stmt: Any) -> set[str]:
    """The tags an INSERT, UPDATE or DELETE statement moves."""
    table = getattr(stmt, "table", None)
    if not isinstance(stmt, Insert | Update | Delete) or not isinstance(table, Table):
        return {EVERYTHING}
    name = table.name
    if isinstance(stmt, Insert):
        # New rows: lists change, and reads of their ids found nothing (list-tagged).
        # An upsert may change existing rows too.
        if isinstance(getattr(stmt, "_post_values_clause", None), OnConflictDoUpdate):
            return {table_tag(name), any_entity_tag(name)}
        return {table_tag(name)}
    row = _one_row(table, stmt.whereclause)
    changed = entity_tag(name, row) if row is not None else any_entity_tag(name)
    return {table_tag(name), changed}


def _one_row(table: Table, where: Any) -> Any:
    """The primary key value when the WHERE clause pins one row (`pk = :v AND ...`)."""
    key = _primary_key(table)
    if key is None or where is None:
        return None
    clauses = where.clauses if isinstance(where, BooleanClauseList) else [where]
    if isinstance(where, BooleanClauseList) and where.operator is not operators.and_:
        return None
    for clause in clauses:
        if (
            isinstance(clause, BinaryExpression)
            and clause.operator is operators.eq
            and clause.left.compare(key)
            and isinstance(clause.right, BindParameter)
        ):
            return clause.right.effective_value
    return None


def flushed_tags(session: Session) -> set[str]:
    """The tags an ORM flush moves: new, changed and deleted objects."""
    tags: set[str] = set()
    for obj in session.new:
        for table in inspect(obj).mapper.tables:
            tags.add(table_tag(table.name))
    for obj in (*session.dirty, *session.deleted):
        state = inspect(obj)
        identity = state.identity
        for table in state.mapper.tables:
            tags.add(table_tag(table.name))
            if identity is not None and len(identity) == 1:
                tags.add(entity_tag(table.name, identity[0]))
            else:
                tags.add(any_entity_tag(table.name))
    return tags
