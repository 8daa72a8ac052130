"""The static cost of an operation: how many objects it may return, known before any SQL.

Like GitHub's node count and Shopify's calculated cost, a query is priced by its shape and
its arguments, not by what the database happens to hold:

    cost = sum, over every field that returns objects, of
           (the most objects that field may return) x (the same for each list above it)

- A field returning one object counts 1; scalars, enums and `__typename` are free.
- A list field's size is its `first` (or `last`) argument (the server's default page size
  when it is absent or null); else the length of its list argument (`nodes(ids:)` returns
  one object per ID); else the size declared for it (`list_sizes`), else
  `default_list_size`.
- A connection (an object field taking `first`) counts 1, and its `first` is the size of the
  lists directly inside it (`edges`, `nodes`).
- Fragments on an abstract type: the most expensive possible type counts (an object is of one
  type). `@skip`/`@include` are ignored (the price holds for every variable value).
- Introspection (`__schema`, `__type`) counts one per named type in the schema: its answer is
  bounded by the schema, not by the query's shape.

The plan is compiled once per cached document and operation; a price that depends on
variables is evaluated per request in microseconds.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from graphql import (
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLField,
    GraphQLList,
    GraphQLNamedType,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLSchema,
    InlineFragmentNode,
    IntValueNode,
    ListValueNode,
    NullValueNode,
    OperationDefinitionNode,
    SelectionSetNode,
    VariableNode,
    get_named_type,
    is_abstract_type,
    is_composite_type,
    is_list_type,
    is_non_null_type,
)

_PAGE_ARGUMENTS = ("first", "last")
_INTROSPECTION_ROOTS = frozenset({"__schema", "__type"})


@dataclass(frozen=True, slots=True)
class Size:
    """How many objects a list may hold: a constant, or a variable's value (with fallback)."""

    constant: int
    variable: str | None = None
    # The variable holds a list (nodes(ids: $ids)): its length is the size.
    counts_items: bool = False

    def value(self, variables: Mapping[str, Any]) -> int:
        if self.variable is None:
            return self.constant
        given = variables.get(self.variable)
        if self.counts_items:
            return len(given) if isinstance(given, list) else self.constant
        if isinstance(given, int) and not isinstance(given, bool) and given >= 0:
            return given
        return self.constant


_ONE = Size(1)


@dataclass(slots=True)
class Priced:
    """One field that returns objects: `size` of them, each with the cost of `inner`."""

    size: Size
    inner: Alternatives
    # Counted for the field itself (a connection counts as one object, its items inside).
    own: int | None = None


# The fields priced under each possible runtime type of a selection; the most expensive wins.
Alternatives = list[list[Priced]]


@dataclass(slots=True)
class CostPlan:
    alternatives: Alternatives
    constant: int | None = field(default=None)

    def cost(self, variables: Mapping[str, Any] | None) -> int:
        if self.constant is not None:
            return self.constant
        return _total(self.alternatives, variables or {})


def _total(alternatives: Alternatives, variables: Mapping[str, Any]) -> int:
    best = 0
    for fields in alternatives:
        subtotal = 0
        for priced in fields:
            size = priced.size.value(variables)
            own = size if priced.own is None else priced.own
            subtotal += own + size * _total(priced.inner, variables)
        best = max(best, subtotal)
    return best


def _static(alternatives: Alternatives) -> bool:
    return all(
        priced.size.variable is None and _static(priced.inner)
        for fields in alternatives
        for priced in fields
    )


class CostModel:
    def __init__(
        self,
        schema: GraphQLSchema,
        *,
        default_page_size: int,
        default_list_size: int,
        list_sizes: Mapping[str, int] | None = None,
    ) -> None:
        """`default_page_size`: a page's size when `first` is absent or null;
        `list_sizes`: "Type.field" -> the most items that list field returns."""
        self.schema = schema
        self.default_page_size = default_page_size
        self.default_list_size = default_list_size
        self.list_sizes = dict(list_sizes or {})
        self._defaults: dict[str, Any] = {}
        self.introspection_cost = sum(1 for name in schema.type_map if not name.startswith("__"))

    def plan(
        self, operation: OperationDefinitionNode, fragments: Mapping[str, FragmentDefinitionNode]
    ) -> CostPlan:
        root = self.schema.get_root_type(operation.operation)
        assert root is not None  # validation guarantees the operation's root type exists
        # A variable left out takes its default from the operation (`$n: Int = 50`).
        self._defaults = {
            definition.variable.name.value: definition.default_value
            for definition in operation.variable_definitions or ()
            if definition.default_value is not None
        }
        alternatives = [self._fields(root, operation.selection_set, fragments, None)]
        plan = CostPlan(alternatives)
        if _static(alternatives):
            plan.constant = plan.cost(None)
        return plan

    # --- compiling -------------------------------------------------------------------

    def _alternatives(
        self,
        parent: GraphQLNamedType,
        selection_set: SelectionSetNode | None,
        fragments: Mapping[str, FragmentDefinitionNode],
        inner_size: Size | None,
    ) -> Alternatives:
        if selection_set is None:
            return []
        if is_abstract_type(parent):
            possible = self.schema.get_possible_types(parent)
            return [self._fields(t, selection_set, fragments, inner_size) for t in possible]
        assert isinstance(parent, GraphQLObjectType)
        return [self._fields(parent, selection_set, fragments, inner_size)]

    def _fields(
        self,
        runtime: GraphQLObjectType,
        selection_set: SelectionSetNode,
        fragments: Mapping[str, FragmentDefinitionNode],
        inner_size: Size | None,
    ) -> list[Priced]:
        """The priced fields selected on an object of type `runtime`."""
        priced: list[Priced] = []
        for selection in selection_set.selections:
            if isinstance(selection, FieldNode):
                item = self._field(runtime, selection, fragments, inner_size)
                if item is not None:
                    priced.append(item)
                continue
            if isinstance(selection, FragmentSpreadNode):
                fragment = fragments.get(selection.name.value)
                if fragment is None:
                    continue
                condition: str | None = fragment.type_condition.name.value
                nested = fragment.selection_set
            else:
                assert isinstance(selection, InlineFragmentNode)
                condition = (
                    selection.type_condition.name.value if selection.type_condition else None
                )
                nested = selection.selection_set
            if condition is None or self._applies(condition, runtime):
                priced.extend(self._fields(runtime, nested, fragments, inner_size))
        return priced

    def _applies(self, condition: str, runtime: GraphQLObjectType) -> bool:
        if condition == runtime.name:
            return True
        named = self.schema.get_type(condition)
        return (
            named is not None
            and is_abstract_type(named)
            and self.schema.is_sub_type(named, runtime)
        )

    def _field(
        self,
        parent: GraphQLObjectType,
        node: FieldNode,
        fragments: Mapping[str, FragmentDefinitionNode],
        inner_size: Size | None,
    ) -> Priced | None:
        name = node.name.value
        if name in _INTROSPECTION_ROOTS:
            return Priced(Size(self.introspection_cost), [])
        definition = parent.fields.get(name)
        if definition is None or node.selection_set is None:
            return None  # scalars, enums, __typename: free
        return_type = definition.type
        unwrapped = return_type.of_type if is_non_null_type(return_type) else return_type
        named = get_named_type(return_type)
        if not is_composite_type(named):
            return None
        page = self._page_size(definition, node)
        if is_list_type(unwrapped):
            size = page or self._list_size(parent, name, definition, node, inner_size)
            inner = self._alternatives(named, node.selection_set, fragments, None)
            return Priced(size, inner)
        # One object; a connection passes its page size to the lists directly inside it.
        inner = self._alternatives(named, node.selection_set, fragments, page)
        return Priced(_ONE, inner)

    def _page_size(self, definition: GraphQLField, node: FieldNode) -> Size | None:
        for argument_name in _PAGE_ARGUMENTS:
            argument = definition.args.get(argument_name)
            if argument is None:
                continue
            default = argument.default_value
            fallback = default if isinstance(default, int) else self.default_page_size
            given = next((a for a in node.arguments or () if a.name.value == argument_name), None)
            if given is None or isinstance(given.value, NullValueNode):
                return Size(fallback)
            if isinstance(given.value, IntValueNode):
                return Size(int(given.value.value))
            if isinstance(given.value, VariableNode):
                name = given.value.name.value
                default_node = self._defaults.get(name)
                if isinstance(default_node, IntValueNode):
                    fallback = int(default_node.value)
                return Size(fallback, name)
            return Size(fallback)
        return None

    def _list_size(
        self,
        parent: GraphQLObjectType,
        name: str,
        definition: GraphQLField,
        node: FieldNode,
        inner_size: Size | None,
    ) -> Size:
        declared = self.list_sizes.get(f"{parent.name}.{name}")
        if declared is not None:
            return Size(declared)
        if inner_size is not None:
            return inner_size
        for argument in node.arguments or ():
            argument_type = definition.args[argument.name.value].type
            if isinstance(argument_type, GraphQLNonNull):
                argument_type = argument_type.of_type
            if not isinstance(argument_type, GraphQLList):
                continue
            if isinstance(argument.value, ListValueNode):
                return Size(len(argument.value.values))
            if isinstance(argument.value, VariableNode):
                name = argument.value.name.value
                default_node = self._defaults.get(name)
                fallback = (
                    len(default_node.values)
                    if isinstance(default_node, ListValueNode)
                    else self.default_list_size
                )
                return Size(fallback, name, counts_items=True)
        return Size(self.default_list_size)


def returned_objects(data: Any) -> int:
    """How many objects a response holds (its `actualQueryCost`, by the same count)."""
    if data.__class__ is not dict and data.__class__ is not list:
        return 0
    count = 0
    pending = [data]
    pop, push = pending.pop, pending.append
    while pending:
        value = pop()
        values: Iterable[Any] = value
        if value.__class__ is dict:
            count += 1
            values = value.values()
        # Only containers are visited: scalars (most values) cost one class check.
        for item in values:
            if item.__class__ is dict or item.__class__ is list:
                push(item)
    return count
