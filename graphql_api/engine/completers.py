"""Completers for composite positions: objects, abstract types and lists (built per plan).

Each takes the value a resolver returned and builds the response slot for it, running the
object's compiled runner, checking an abstract type's runtime type with graphql-core's
messages, or completing list items (queuing the awaitable ones for the wave).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from graphql import (
    GraphQLAbstractType,
    GraphQLError,
    GraphQLObjectType,
    GraphQLResolveInfo,
    GraphQLSchema,
    is_object_type,
    located_error,
)
from graphql.pyutils import Path, inspect, is_iterable

from graphql_api.engine.plan import (
    Completer,
    FieldPlan,
    ObjectPlan,
    Position,
    invalid_return_type_error,
)
from graphql_api.engine.run import is_awaitable, new_path
from graphql_api.engine.waves import queue

if TYPE_CHECKING:
    from graphql_api.engine.run import Execution


def object_completer(field: FieldPlan, plan: ObjectPlan) -> Completer:
    is_type_of = plan.is_type_of

    def complete(value: Any, path: Path, execution: Execution) -> Any:
        if value is None:
            return None
        if is_type_of is None:
            run = plan.run
            assert run is not None
            return run(value, path, execution)
        return _run_checked(plan, field, value, path, execution.shared_info(field, path), execution)

    return complete


def _run_checked(
    plan: ObjectPlan,
    field: FieldPlan,
    value: Any,
    path: Path,
    info: GraphQLResolveInfo[Any],
    execution: Execution,
) -> dict[str, Any]:
    """The object's fields, after graphql-core's `is_type_of` check of the value."""
    if plan.is_type_of is not None and not plan.is_type_of(value, info):
        raise invalid_return_type_error(plan.type, value, field.nodes)
    run = plan.run
    assert run is not None
    return run(value, path, execution)


def abstract_completer(
    field: FieldPlan,
    abstract_type: GraphQLAbstractType,
    plan_for: Callable[[GraphQLObjectType], ObjectPlan],
    schema: GraphQLSchema,
) -> Completer:
    from graphql.execution.executor import default_type_resolver

    resolve_type = abstract_type.resolve_type or default_type_resolver

    def complete(value: Any, path: Path, execution: Execution) -> Any:
        if value is None:
            return None
        info = execution.info(field, path)
        runtime = resolve_type(value, info, abstract_type)
        if is_awaitable(runtime):
            raise GraphQLError("Asynchronous type resolution is not supported.", field.nodes)
        object_type = _runtime_type(runtime, abstract_type, field, value, schema)
        return _run_checked(plan_for(object_type), field, value, path, info, execution)

    return complete


def _runtime_type(
    name: Any,
    return_type: GraphQLAbstractType,
    field: FieldPlan,
    result: Any,
    schema: GraphQLSchema,
) -> GraphQLObjectType:
    """graphql-core's `ensure_valid_runtime_type`, with its messages."""
    where = f"for field '{field.typename}.{field.name}'"
    if name is None:
        raise GraphQLError(
            f"Abstract type '{return_type}' must resolve to an Object type at runtime"
            f" {where}. Either the '{return_type}' type should provide"
            " a 'resolve_type' function or each possible type should provide"
            " an 'is_type_of' function.",
            field.nodes,
        )
    if not isinstance(name, str):
        raise GraphQLError(
            f"Abstract type '{return_type}' must resolve to an Object type at runtime"
            f" {where} with value {inspect(result)}, received '{inspect(name)}',"
            " which is not a valid Object type name.",
            field.nodes,
        )
    runtime_type = schema.get_type(name)
    if runtime_type is None:
        raise GraphQLError(
            f"Abstract type '{return_type}' was resolved to a type"
            f" '{name}' that does not exist inside the schema.",
            field.nodes,
        )
    if not is_object_type(runtime_type):
        raise GraphQLError(
            f"Abstract type '{return_type}' was resolved to a non-object type '{name}'.",
            field.nodes,
        )
    if not schema.is_sub_type(return_type, runtime_type):
        raise GraphQLError(
            f"Runtime Object type '{runtime_type}' is not a possible type for '{return_type}'.",
            field.nodes,
        )
    return runtime_type


def list_completer(field: FieldPlan, item_position: Position, item: Completer) -> Completer:
    message = f"Expected Iterable, but did not find one for field '{field.typename}.{field.name}'."
    item_nullable = item_position.nullable

    def complete(value: Any, path: Path, execution: Execution) -> Any:
        if value is None:
            return None
        if value.__class__ is not list and not is_iterable(value):
            raise GraphQLError(message)
        out: list[Any] = []
        append = out.append
        for index, element in enumerate(value):
            item_path = new_path((path, index, None))
            try:
                if is_awaitable(element):
                    queue(element, item, out, index, item_path, item_position, execution)
                    append(None)
                    continue
                append(item(element, item_path, execution))
            except Exception as raw:
                error = located_error(raw, field.nodes, item_path.as_list())
                if not item_nullable:
                    raise error from None
                append(None)
                execution.add_error(error, item_path)
        return out

    return complete
