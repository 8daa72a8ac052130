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
from strawberry.types.field import StrawberryField

from graphql_api.engine.plan import ENGINE_ATTRIBUTE, ENGINE_DIRECT

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
    func: Callable[..., Any] = resolver.wrapped_func  # type: ignore[assignment]
    if isinstance(func, staticmethod | classmethod):
        return None if isinstance(func, classmethod) else _direct_call(resolver, func.__func__)
    return _direct_call(resolver, func)


def _direct_call(resolver: Any, func: Callable[..., Any]) -> Resolver | None:
    if resolver.self_parameter is not None:
        # A method resolver expects `self` as a Strawberry object, not the source row.
        return None
    params = list(inspect.signature(func).parameters)
    parent = resolver.parent_parameter
    info = resolver.info_parameter
    names = {p.name for p in (parent, info) if p is not None}
    if set(params) != names or parent is None or params[0] != parent.name:
        return None
    if info is None:
        resolve: Resolver = lambda source, _info: func(source)  # noqa: E731
    else:
        resolve = lambda source, gql_info: func(source, gql_info)  # noqa: E731
    # Such resolvers read only `info.context` (see the module docstring), so the compiled
    # engine calls `func` itself and gives every row of a request the same info object.
    setattr(resolve, ENGINE_DIRECT, (func, info is not None, resolver.is_async))
    return resolve


def streamline(schema: strawberry.Schema) -> int:
    """Swap in lean resolvers where it is safe; returns how many fields were changed."""
    changed = 0
    for gql_type in schema._schema.type_map.values():
        if not isinstance(gql_type, GraphQLObjectType) or gql_type.name.startswith("__"):
            continue
        for gql_field in gql_type.fields.values():
            changed += _streamline_field(gql_field)
    return changed


def _streamline_field(gql_field: GraphQLField) -> int:
    field = (gql_field.extensions or {}).get(_BACKREF)
    if not isinstance(field, StrawberryField) or field.extensions:
        return 0
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
