"""The one way to build a mutation payload: its data fields on success, or its errors.

Every payload is a Strawberry type with data fields (null on failure) and `errors`. Derive
it from `Payload` and build it with `Payload.ok(announcement=row)` or
`Payload.failed(refusal)`; `ok` takes rows as they are (ORM instances or read rows, which
the types resolve), so resolvers need no casts.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any, Self, cast

from graphql_api.core.errors import DomainError, Rejected
from schema.errors import UserError, user_errors


class Payload:
    if TYPE_CHECKING:  # each payload is a dataclass (Strawberry type) with its own fields

        def __init__(self, **fields: Any) -> None: ...

    @classmethod
    def ok(cls, **data: Any) -> Self:
        """Success: the given data fields, no errors."""
        return cls(**data, errors=[])

    @classmethod
    def failed(cls, refusal: Rejected | Iterable[DomainError]) -> Self:
        """Failure: every data field null, the service's errors in the order it gave them."""
        return cls.with_errors(user_errors(refusal))

    @classmethod
    def with_errors(cls, errors: list[UserError]) -> Self:
        # A non-null data field (a flag such as `replayed`) declares its default instead.
        empty = {
            field.name: None
            for field in dataclasses.fields(cast(Any, cls))
            if field.init
            and field.name != "errors"
            and field.default is dataclasses.MISSING
            and field.default_factory is dataclasses.MISSING
        }
        return cls(**empty, errors=errors)
