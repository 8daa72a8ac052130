"""Cache hints (core/cache_hints.py) declared next to the fields, put where the engine reads them.

A resolver or a type declares who may share what it returns, and for how long:

    @strawberry.field(description=...)
    @cache_hint(Scope.ROLE)          # drafts for editors: one answer per role
    async def announcements(...)

    @cache_hint(Scope.USER)
    @node_type("Portfolio", ...)     # every field returning a Portfolio is per-user

`mark_cache_hints` (run once by `build_schema`) gives every field of the schema its hint:
- what its resolver declares, narrowed by what its result type declares;
- a field behind permission classes is at least as narrow as their `cache_scope` (per-user
  unless a class says otherwise: permissions read the caller);
- anything else is public: plain data read the same for every caller.
So a resolver that reads the caller (`info.context.principal`) or the clock must declare it;
docs/DECISIONS.md lists the decisions taken for the existing fields.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import strawberry
from graphql import GraphQLField, GraphQLInterfaceType, GraphQLObjectType, get_named_type
from strawberry.types.field import StrawberryField

from graphql_api.core.cache_hints import (
    DECLARED_ATTRIBUTE,
    FIELD_EXTENSION,
    PUBLIC,
    UNMARKED,
    CacheHint,
    Scope,
)

__all__ = ["CLOCK_MAX_AGE", "Scope", "cache_hint", "mark_cache_hints"]

_BACKREF = "strawberry-definition"
# Answers computed from the request's clock (a call's effective status turns CLOSED at its
# deadline, "closing soon" windows) without any write to invalidate them: served this long.
CLOCK_MAX_AGE = 10.0

T = TypeVar("T")


def cache_hint(scope: Scope, *, max_age: float | None = None) -> Callable[[T], T]:
    """Declare the scope (and max age, in seconds) of a resolver's or a type's answers."""
    hint = CacheHint(scope, max_age)

    def mark(target: T) -> T:
        setattr(target, DECLARED_ATTRIBUTE, hint)
        return target

    return mark


def declared(target: object) -> CacheHint | None:
    if isinstance(target, staticmethod):
        target = target.__func__
    hint = getattr(target, DECLARED_ATTRIBUTE, None)
    return hint if isinstance(hint, CacheHint) else None


def mark_cache_hints(schema: strawberry.Schema) -> None:
    for gql_type in schema._schema.type_map.values():
        if not isinstance(gql_type, GraphQLObjectType | GraphQLInterfaceType):
            continue
        if gql_type.name.startswith("__"):
            continue
        for gql_field in gql_type.fields.values():
            hint = field_hint(gql_field)
            gql_field.extensions = {**(gql_field.extensions or {}), FIELD_EXTENSION: hint}


def field_hint(gql_field: GraphQLField) -> CacheHint:
    field = (gql_field.extensions or {}).get(_BACKREF)
    if not isinstance(field, StrawberryField):
        # Not built from our declarations: nothing says it is the same for everyone.
        return UNMARKED
    hint = PUBLIC
    if field.base_resolver is not None:
        hint = hint.narrowed(declared(field.base_resolver.wrapped_func) or PUBLIC)
    for permission in field.permission_classes:
        scope: Any = getattr(permission, "cache_scope", Scope.USER)
        hint = hint.narrowed(CacheHint(scope if isinstance(scope, Scope) else Scope.USER))
    result = get_named_type(gql_field.type)
    definition = (result.extensions or {}).get(_BACKREF)
    origin = getattr(definition, "origin", None)
    if origin is not None:
        hint = hint.narrowed(declared(origin) or PUBLIC)
    return hint
