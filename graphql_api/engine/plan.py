"""Execution plans: a validated operation compiled once into closures over its selections.

A plan mirrors the response tree. Every field position gets a `FieldPlan` holding what
graphql-core would work out again for every row of every request: the field definition,
how to read the value (a plain attribute getter, or the field's resolver), the leaf
serializer, nullability, and for composite fields the compiled plan of the sub-selection
(one per runtime type, built lazily for abstract types). Fragments and `@skip`/`@include`
are resolved at compile time; a plan is keyed by the variable values those directives read.

Positions know their parent position, so an error raised after an await can be propagated
to the nearest nullable ancestor exactly as graphql-core's null propagation would, using
only the response path (see `run.Execution.fail`).
"""

from __future__ import annotations

from collections.abc import Callable
from operator import attrgetter
from typing import TYPE_CHECKING, Any

from graphql import (
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLAbstractType,
    GraphQLError,
    GraphQLField,
    GraphQLIncludeDirective,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLOutputType,
    GraphQLSchema,
    GraphQLSkipDirective,
    InlineFragmentNode,
    ListValueNode,
    ObjectValueNode,
    SelectionSetNode,
    ValueNode,
    VariableNode,
    is_abstract_type,
    is_leaf_type,
    is_list_type,
    is_non_null_type,
    is_object_type,
    type_from_ast,
)
from graphql.execution.executor import default_field_resolver
from graphql.execution.values import VariableValues, get_argument_values

from graphql_api.core.resolver_marks import ENGINE_ATTRIBUTE, ENGINE_DIRECT
from graphql_api.engine.leaves import Serializer, serializer

if TYPE_CHECKING:
    from graphql_api.engine.run import Execution


class Unsupported(Exception):
    """The document uses something the compiler leaves to graphql-core."""


class Position:
    """A place in the response: a field's value or a list item. Used for null propagation."""

    __slots__ = ("depth", "nodes", "nullable", "parent")

    def __init__(self, nullable: bool, parent: Position | None, nodes: list[FieldNode]) -> None:
        self.nullable = nullable
        self.parent = parent
        self.nodes = nodes
        # Path length: graphql-core starts deeper awaits later (one gather per level).
        self.depth: int = parent.depth + 1 if parent is not None else 1


# complete(value, path, execution) -> completed value (may raise; may defer sub-work)
Completer = Callable[[Any, Any, "Execution"], Any]


class FieldPlan(Position):
    __slots__ = (
        "args",
        "attribute",
        "complete",
        "convert",
        "definition",
        "direct",
        "direct_async",
        "direct_info",
        "getter",
        "index",
        "key",
        "leaf",
        "name",
        "parent_type",
        "resolve",
        "return_type",
        "serialize",
        "static_converted",
        "typename",
    )

    def __init__(
        self,
        *,
        key: str,
        nodes: list[FieldNode],
        parent_type: GraphQLObjectType,
        definition: GraphQLField | None,
        parent: Position | None,
        index: int,
    ) -> None:
        return_type: GraphQLOutputType = (
            definition.type if definition is not None else GraphQLNonNull(parent_type)
        )
        super().__init__(not is_non_null_type(return_type), parent, nodes)
        self.key = key
        self.name = nodes[0].name.value
        self.parent_type = parent_type
        self.typename = parent_type.name
        self.definition = definition
        self.return_type = return_type
        self.index = index
        self.attribute: str | None = None
        self.getter: Callable[[Any], Any] | None = None
        self.direct: Callable[..., Any] | None = None
        self.convert: Callable[[dict[str, Any]], dict[str, Any]] | None = None
        self.direct_info = False
        self.direct_async = False
        self.resolve: Callable[..., Any] | None = None
        self.args: dict[str, Any] | None = None  # constant arguments, when known statically
        # Constant arguments converted for a direct resolver, when every value is immutable
        # (so one dict may serve every request); see Execution.converted.
        self.static_converted: dict[str, Any] | None = None
        self.leaf = False
        self.serialize: Serializer | None = None
        self.complete: Completer = _unset_completer


def _unset_completer(value: Any, path: Any, execution: Execution) -> Any:
    raise AssertionError("field plan used before it was compiled")


class ObjectPlan:
    """The fields of one selection set on one concrete object type, in response order."""

    __slots__ = ("fields", "is_type_of", "run", "type", "typename")

    def __init__(self, object_type: GraphQLObjectType) -> None:
        self.type = object_type
        self.typename = object_type.name
        self.fields: list[FieldPlan] = []
        self.is_type_of = object_type.is_type_of
        # Set by `run.build_object_runner`: run(source, path, execution) -> dict
        self.run: Callable[[Any, Any, Execution], dict[str, Any]] | None = None


class Compiler:
    """Compiles one operation for one set of directive-variable values."""

    def __init__(
        self,
        schema: GraphQLSchema,
        fragments: dict[str, FragmentDefinitionNode],
        variables: VariableValues,
        build_runner: Callable[[ObjectPlan], None],
    ) -> None:
        self.schema = schema
        self.fragments = fragments
        self.variables = variables
        self.build_runner = build_runner
        self.field_count = 0

    # --- selection sets ------------------------------------------------------------------

    def collect(
        self, object_type: GraphQLObjectType, selection_sets: list[SelectionSetNode]
    ) -> dict[str, list[FieldNode]]:
        grouped: dict[str, list[FieldNode]] = {}
        for selection_set in selection_sets:
            self._collect(object_type, selection_set, grouped, set())
        return grouped

    def _collect(
        self,
        object_type: GraphQLObjectType,
        selection_set: SelectionSetNode,
        grouped: dict[str, list[FieldNode]],
        visited: set[str],
    ) -> None:
        for selection in selection_set.selections:
            if not self._included(selection):
                continue
            if isinstance(selection, FieldNode):
                key = selection.alias.value if selection.alias else selection.name.value
                grouped.setdefault(key, []).append(selection)
            elif isinstance(selection, InlineFragmentNode):
                if self._applies(selection.type_condition, object_type):
                    self._collect(object_type, selection.selection_set, grouped, visited)
            elif isinstance(selection, FragmentSpreadNode):
                name = selection.name.value
                if name in visited:
                    continue
                visited.add(name)
                fragment = self.fragments.get(name)
                if fragment is None or not self._applies(fragment.type_condition, object_type):
                    continue
                self._collect(object_type, fragment.selection_set, grouped, visited)

    def _included(self, node: Any) -> bool:
        for directive in node.directives or ():
            name = directive.name.value
            if name == GraphQLSkipDirective.name:
                if get_argument_values(GraphQLSkipDirective, directive, self.variables)["if"]:
                    return False
            elif name == GraphQLIncludeDirective.name:
                if not get_argument_values(GraphQLIncludeDirective, directive, self.variables)[
                    "if"
                ]:
                    return False
            else:
                raise Unsupported(f"directive @{name}")
        return True

    def _applies(self, condition: Any, object_type: GraphQLObjectType) -> bool:
        if condition is None:
            return True
        conditional = type_from_ast(self.schema, condition)
        if conditional is object_type:
            return True
        if is_abstract_type(conditional):
            return self.schema.is_sub_type(conditional, object_type)
        return False

    # --- plans ---------------------------------------------------------------------------

    def object_plan(
        self,
        object_type: GraphQLObjectType,
        selection_sets: list[SelectionSetNode],
        parent: Position | None,
    ) -> ObjectPlan:
        plan = ObjectPlan(object_type)
        for key, nodes in self.collect(object_type, selection_sets).items():
            name = nodes[0].name.value
            if name == "__typename":
                definition = None
            else:
                definition = object_type.fields.get(name)
                if definition is None:
                    if name.startswith("__"):
                        raise Unsupported(f"introspection field {name}")
                    continue  # graphql-core skips unknown fields (validation forbids them)
            field = FieldPlan(
                key=key,
                nodes=nodes,
                parent_type=object_type,
                definition=definition,
                parent=parent,
                index=self.field_count,
            )
            self.field_count += 1
            self._field(field)
            plan.fields.append(field)
        self.build_runner(plan)
        return plan

    def _field(self, field: FieldPlan) -> None:
        definition = field.definition
        if definition is None:  # __typename
            typename = field.typename
            field.getter = lambda source: typename
            field.leaf = True
            field.complete = lambda value, path, execution: value
            return
        resolve = definition.resolve or default_field_resolver
        has_args = bool(definition.args or field.nodes[0].arguments)
        attribute = getattr(resolve, ENGINE_ATTRIBUTE, None)
        direct = getattr(resolve, ENGINE_DIRECT, None)
        if attribute is not None and not has_args:
            field.attribute = attribute
            field.getter = attrgetter(attribute)
        else:
            field.resolve = resolve
            if not has_args:
                field.args = {}
            elif len(field.nodes) == 1 and not any(
                _uses_variables(argument.value) for argument in field.nodes[0].arguments or ()
            ):
                field.args = self._constant_arguments(definition, field.nodes[0])
            if direct is not None and (direct[3] is not None or not has_args):
                field.direct, field.direct_info, field.direct_async, field.convert = direct
        unwrapped = definition.type
        if is_non_null_type(unwrapped):
            unwrapped = unwrapped.of_type
        if is_leaf_type(unwrapped):
            field.leaf = True
            field.serialize = serializer(unwrapped)
        field.complete = self.completer(definition.type, field, field)

    def _constant_arguments(
        self, definition: GraphQLField, node: FieldNode
    ) -> dict[str, Any] | None:
        """Arguments written as literals, coerced once per plan; None when coercion fails,
        so the error is raised per execution, located at the field, as graphql-core does."""
        try:
            return get_argument_values(definition, node, self.variables)
        except GraphQLError:
            return None

    def completer(
        self, gql_type: GraphQLOutputType, field: FieldPlan, position: Position
    ) -> Completer:
        """complete(value, path, execution) for a value of `gql_type` at `position`."""
        if is_non_null_type(gql_type):
            inner = self.completer(gql_type.of_type, field, position)
            message = f"Cannot return null for non-nullable field {field.typename}.{field.name}."

            def non_null(value: Any, path: Any, execution: Execution) -> Any:
                completed = inner(value, path, execution)
                if completed is None:
                    raise TypeError(message)
                return completed

            return non_null
        if is_leaf_type(gql_type):
            serialize = serializer(gql_type)
            return lambda value, path, execution: None if value is None else serialize(value)
        if is_list_type(gql_type):
            return self._list_completer(gql_type, field, position)
        if is_object_type(gql_type):
            return self._object_completer(gql_type, field, position)
        assert is_abstract_type(gql_type)  # leaf, list, object and non-null are handled above
        return self._abstract_completer(gql_type, field, position)

    def _list_completer(
        self, list_type: GraphQLList[Any], field: FieldPlan, position: Position
    ) -> Completer:
        item_type = list_type.of_type
        item_position = Position(not is_non_null_type(item_type), position, field.nodes)
        item = self.completer(item_type, field, item_position)
        from graphql_api.engine.completers import list_completer

        return list_completer(field, item_position, item)

    def _object_completer(
        self, object_type: GraphQLObjectType, field: FieldPlan, position: Position
    ) -> Completer:
        selection_sets = [node.selection_set for node in field.nodes if node.selection_set]
        plan = self.object_plan(object_type, selection_sets, position)
        from graphql_api.engine.completers import object_completer

        return object_completer(field, plan)

    def _abstract_completer(
        self, abstract_type: GraphQLAbstractType, field: FieldPlan, position: Position
    ) -> Completer:
        selection_sets = [node.selection_set for node in field.nodes if node.selection_set]
        plans: dict[str, ObjectPlan] = {}

        def plan_for(object_type: GraphQLObjectType) -> ObjectPlan:
            plan = plans.get(object_type.name)
            if plan is None:
                plan = plans[object_type.name] = self.object_plan(
                    object_type, selection_sets, position
                )
            return plan

        from graphql_api.engine.completers import abstract_completer

        return abstract_completer(field, abstract_type, plan_for, self.schema)


def _uses_variables(value: ValueNode) -> bool:
    if isinstance(value, VariableNode):
        return True
    if isinstance(value, ListValueNode):
        return any(map(_uses_variables, value.values))
    if isinstance(value, ObjectValueNode):
        return any(_uses_variables(field.value) for field in value.fields)
    return False


def invalid_return_type_error(
    return_type: GraphQLObjectType, result: Any, nodes: list[FieldNode]
) -> GraphQLError:
    from graphql.pyutils import inspect

    return GraphQLError(
        f"Expected value of type '{return_type}' but got: {inspect(result)}.", nodes
    )
