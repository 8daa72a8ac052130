"""Which columns a list query must read: the fields a document selects on its rows.

A list page reads only the columns its selection needs (PostGraphile does the same), so
PostgreSQL sends and asyncpg decodes nothing the response drops: on the announcements page
that leaves out the body, four JSON arrays and the budget of every row.

What a field needs is declared next to it:
- a field without a resolver or permission classes reads the column of its own name;
- any other field declares its columns with `metadata=reads(...)` (its resolver's and its
  permission classes' reads together); a field that declares nothing makes every query
  that selects it read whole rows, so forgetting a declaration costs speed, never a value.

The selection is read from the document (fragments and inline fragments followed, `@skip`
and `@include` ignored: a superset is always safe), once per document field, not per request.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, Final

from graphql import (
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLObjectType,
    GraphQLSchema,
    InlineFragmentNode,
    SelectionSetNode,
)
from strawberry.types.field import StrawberryField

_READS: Final = "graphql_api.columns"
_BACKREF = "strawberry-definition"
_MAX_CACHED = 4096

# Per GraphQL object type: field name -> the columns it reads, None for "whole rows".
FieldColumns = Mapping[str, frozenset[str] | None]


def reads(*columns: str) -> dict[str, Any]:
    """`metadata=` for a field with a resolver or permission classes: the columns it reads."""
    return {_READS: frozenset(columns)}


def _field_columns(gql_type: GraphQLObjectType) -> dict[str, frozenset[str] | None]:
    needs: dict[str, frozenset[str] | None] = {"__typename": frozenset()}
    for name, gql_field in gql_type.fields.items():
        field = (gql_field.extensions or {}).get(_BACKREF)
        if not isinstance(field, StrawberryField):
            needs[name] = None
            continue
        metadata: Mapping[str, Any] = field.metadata or {}
        declared = metadata.get(_READS)
        if isinstance(declared, frozenset):
            needs[name] = declared
        elif field.base_resolver is None and not field.extensions:
            needs[name] = frozenset((field.python_name,))
        else:
            needs[name] = None
    return needs


class Projections:
    """The columns each document field's rows need; one per schema."""

    def __init__(self, schema: GraphQLSchema) -> None:
        self._schema = schema
        self._types: dict[str, dict[str, frozenset[str] | None]] = {}
        # id(first field node) -> (that node, its answer); the node is kept so the id is
        # never reused while the entry lives. Documents are cached, so nodes repeat.
        self._cache: dict[
            tuple[int, str, tuple[str, ...]], tuple[FieldNode, frozenset[str] | None]
        ] = {}

    def columns(
        self,
        field_nodes: list[FieldNode],
        fragments: Mapping[str, FragmentDefinitionNode],
        type_name: str,
        path: tuple[str, ...],
    ) -> frozenset[str] | None:
        """The columns rows of `type_name` need under `path` (e.g. ("edges", "node")) of
        the selected field; None when a selected field reads whole rows."""
        key = (id(field_nodes[0]), type_name, path)
        hit = self._cache.get(key)
        if hit is not None and hit[0] is field_nodes[0]:
            return hit[1]
        answer = self._compute(field_nodes, fragments, type_name, path)
        if len(self._cache) >= _MAX_CACHED:
            self._cache.clear()
        self._cache[key] = (field_nodes[0], answer)
        return answer

    def _compute(
        self,
        field_nodes: list[FieldNode],
        fragments: Mapping[str, FragmentDefinitionNode],
        type_name: str,
        path: tuple[str, ...],
    ) -> frozenset[str] | None:
        needs = self._needs(type_name)
        selections = [node.selection_set for node in field_nodes if node.selection_set]
        for step in path:
            selections = [
                node.selection_set
                for node in _fields(selections, fragments)
                if node.name.value == step and node.selection_set
            ]
        columns: set[str] = set()
        for node in _fields(selections, fragments):
            name = node.name.value
            if name not in needs:
                # A field of another type (a fragment on an interface or union member).
                continue
            wanted = needs[name]
            if wanted is None:
                return None
            columns |= wanted
        return frozenset(columns)

    def _needs(self, type_name: str) -> dict[str, frozenset[str] | None]:
        needs = self._types.get(type_name)
        if needs is None:
            gql_type = self._schema.get_type(type_name)
            if not isinstance(gql_type, GraphQLObjectType):
                raise TypeError(f"{type_name!r} is not an object type")
            needs = self._types[type_name] = _field_columns(gql_type)
        return needs


def _fields(
    selection_sets: Iterable[SelectionSetNode], fragments: Mapping[str, FragmentDefinitionNode]
) -> Iterable[FieldNode]:
    """Every field node in these selection sets, through fragments (each spread once)."""
    pending = list(selection_sets)
    seen: set[str] = set()
    while pending:
        for selection in pending.pop().selections:
            if isinstance(selection, FieldNode):
                yield selection
            elif isinstance(selection, InlineFragmentNode):
                pending.append(selection.selection_set)
            elif isinstance(selection, FragmentSpreadNode):
                name = selection.name.value
                fragment = fragments.get(name)
                if fragment is not None and name not in seen:
                    seen.add(name)
                    pending.append(fragment.selection_set)


_projections: dict[int, tuple[GraphQLSchema, Projections]] = {}


def selected_columns(
    info: Any, type_name: str, path: tuple[str, ...] = ("edges", "node")
) -> frozenset[str] | None:
    """The columns the rows of a list resolver need for this selection (see the module
    docstring); None means whole rows. Accepts Strawberry's `Info` or graphql-core's."""
    raw = getattr(info, "_raw_info", info)
    schema: GraphQLSchema = raw.schema
    entry = _projections.get(id(schema))
    if entry is None or entry[0] is not schema:
        entry = _projections[id(schema)] = (schema, Projections(schema))
    return entry[1].columns(raw.field_nodes, raw.fragments, type_name, path)
