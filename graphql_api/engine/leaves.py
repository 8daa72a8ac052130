"""Leaf serializers chosen once per field at compile time.

graphql-core calls `coerce_output_value` for every scalar it completes, which re-checks the
type of the value each time. Most leaf values already have the wire type (a `str` for
String and ID, an `int` in range for Int, a `bool` for Boolean, an enum member known to the
enum type), so the serializer chosen here returns those as they are and hands anything else
to the type's own `coerce_output_value`, which keeps graphql-core's messages for bad values.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Hashable
from operator import methodcaller
from typing import Any

from graphql import (
    GraphQLBoolean,
    GraphQLEnumType,
    GraphQLFloat,
    GraphQLID,
    GraphQLInt,
    GraphQLLeafType,
    GraphQLString,
    Undefined,
)
from graphql.pyutils import inspect

Serializer = Callable[[Any], Any]

_MIN_INT = -(2**31)
_MAX_INT = 2**31 - 1


def _checked(coerce: Serializer, return_type: GraphQLLeafType) -> Serializer:
    """`coerce_output_value` plus graphql-core's refusal of a coerced null."""

    def serialize(value: Any) -> Any:
        coerced = coerce(value)
        if coerced is Undefined or coerced is None:
            msg = (
                f"Expected `{inspect(return_type)}.coerce_output_value("
                f"{inspect(value)})` to return non-nullable value, returned:"
                f" {inspect(coerced)}"
            )
            raise TypeError(msg)
        return coerced

    return serialize


def serializer(return_type: GraphQLLeafType) -> Serializer:
    coerce = return_type.coerce_output_value
    if coerce is str or isinstance(coerce, methodcaller):
        # `str` (Decimal) and `methodcaller("isoformat")` (dates) never give null for a value,
        # so graphql-core's null check can never fire: call them as they are (C, no frame).
        return coerce
    slow = _checked(coerce, return_type)
    if return_type is GraphQLString or return_type is GraphQLID:
        return lambda value: value if value.__class__ is str else slow(value)
    if return_type is GraphQLBoolean:
        return lambda value: value if value.__class__ is bool else slow(value)
    if return_type is GraphQLInt:
        return lambda value: (
            value if value.__class__ is int and _MIN_INT <= value <= _MAX_INT else slow(value)
        )
    if return_type is GraphQLFloat:
        isfinite = math.isfinite
        return lambda value: value if value.__class__ is float and isfinite(value) else slow(value)
    if isinstance(return_type, GraphQLEnumType):
        # The type's own value -> name map, so a hit answers exactly as graphql-core would.
        names: dict[Hashable, str] = return_type._value_lookup
        get = names.get

        def enum(value: Any) -> Any:
            try:
                name = get(value)
            except TypeError:
                name = None
            return name if name is not None else slow(value)

        return enum
    return slow
