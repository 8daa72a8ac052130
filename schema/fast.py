"""Lean field resolvers: the per-field cost of the execution hot loop.

Strawberry wraps every field in generic code (argument conversion, an `Info` object,
extension chains). For the two commonest kinds of field that work buys nothing:

- a plain attribute (no resolver, no permission): read the attribute directly;
- a resolver without arguments or permission classes taking only the parent and/or `info`:
  call it directly. It receives graphql-core's `GraphQLResolveInfo`, whose `context`
  is the same typed Context; such resolvers must use nothing but `info.context`
  (docs/CONVENTIONS.md).

Fields with arguments or permission extensions keep Strawberry's full wrapper, so
permission checks and argument parsing are never skipped.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from operator import attrgetter
from typing import Any

import strawberry
from graphql import GraphQLField, GraphQLObjectType, GraphQLResolveInfo
from strawberry.types.arguments import convert_arguments
from strawberry.types.field import StrawberryField

from graphql_api.core.resolver_marks import ENGINE_ATTRIBUTE, ENGINE_DIRECT

_BACKREF = "strawberry-definition"

Resolver = Callable[..., Any]


def _attribute(python_name: str) -> Resolver:
    get = attrgetter(python_name)

    def resolve(source: Any, info: GraphQLResolveInfo[Any]) -> Any:
        return get(source)

    # The compiled engine reads the attribute itself, without building an info.
    setattr(resolve, ENGINE_ATTRIBUTE, python_name)
    return resolve


def _direct(field: StrawberryField) -> Resolver | None:
    resolver = field.base_resolver
    if resolver is None or field.arguments:
        return None
    func = _static_func(resolver)
    if func is None or _call_shape(resolver, func) is None:
        return None
    takes_info = resolver.info_parameter is not None
    if takes_info:
        resolve: Resolver = lambda source, gql_info: func(source, gql_info)  # noqa: E731
    else:
        resolve = lambda source, _info: func(source)  # noqa: E731
    # Such resolvers read only `info.context` (see the module docstring), so the compiled
    # engine calls `func` itself and gives every row of a request the same info object.
    setattr(resolve, ENGINE_DIRECT, (func, takes_info, resolver.is_async, None))
    return resolve


def _static_func(resolver: Any) -> Callable[..., Any] | None:
    # A method resolver is called like a parent-first function: Strawberry passes the
    # source as `self` (the root value at the top level), and so does the engine.
    func: Any = resolver.wrapped_func
    if isinstance(func, classmethod):
        return None
    return func.__func__ if isinstance(func, staticmethod) else func


def _call_shape(resolver: Any, func: Callable[..., Any]) -> list[str] | None:
    """The argument names after (parent[, info]), or None if it is not called that way."""
    params = list(inspect.signature(func).parameters)
    parent = resolver.self_parameter or resolver.parent_parameter
    info = resolver.info_parameter
    if parent is None or not params or params[0] != parent.name:
        return None
    if resolver.self_parameter is not None and resolver.parent_parameter is not None:
        return None
    rest = params[1:]
    if info is not None:
        if not rest or rest[0] != info.name:
            return None
        rest = rest[1:]
    return rest


def _mark_direct_with_arguments(
    schema: strawberry.Schema, gql_field: GraphQLField, field: StrawberryField
) -> int:
    """Let the engine call a resolver with arguments itself (Strawberry's wrapper stays for
    graphql-core): arguments are converted once per request, not once per row."""
    resolver = field.base_resolver
    if resolver is None or not field.arguments or field.extensions or gql_field.resolve is None:
        return 0
    func = _static_func(resolver)
    if func is None:
        return 0
    names = _call_shape(resolver, func)
    if names is None or set(names) != {a.python_name for a in field.arguments}:
        return 0
    arguments = field.arguments
    registry = schema.schema_converter.scalar_registry
    config = schema.config

    def convert(raw: dict[str, Any]) -> dict[str, Any]:
        return convert_arguments(raw, arguments, scalar_registry=registry, config=config)

    takes_info = resolver.info_parameter is not None
    setattr(gql_field.resolve, ENGINE_DIRECT, (func, takes_info, resolver.is_async, convert))
    return 1


def streamline(schema: strawberry.Schema) -> int:
    """Swap in lean resolvers where it is safe; returns how many fields were changed."""
    changed = 0
    for gql_type in schema._schema.type_map.values():
        if not isinstance(gql_type, GraphQLObjectType) or gql_type.name.startswith("__"):
            continue
        for gql_field in gql_type.fields.values():
            changed += _streamline_field(schema, gql_field)
    return changed


def _streamline_field(schema: strawberry.Schema, gql_field: GraphQLField) -> int:
    field = (gql_field.extensions or {}).get(_BACKREF)
    if not isinstance(field, StrawberryField) or field.extensions or field.is_subscription:
        # A subscription field's resolver is its event source; each event resolves to
        # the event itself.
        return 0
    if field.arguments:
        return _mark_direct_with_arguments(schema, gql_field, field)
    if field.base_resolver is None:
        if field.default_resolver is not getattr:
            return 0
        gql_field.resolve = _attribute(field.python_name)
        return 1
    direct = _direct(field)
    if direct is None:
        return 0
    gql_field.resolve = direct
    return 1
