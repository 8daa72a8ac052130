"""What a service accepts besides plain values: "not given" and "could not be read".

`NOT_GIVEN` marks a field a partial update leaves as it is (None there means "clear it").

`Invalid` carries the error of a value the caller could not even read, such as a malformed
global ID the resolver decoded. The service reports it in that field's place among its own
errors, so a payload lists its errors in input order whichever layer found them.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import Final, Literal, TypeAlias, TypeVar

from graphql_api.core.errors import DomainError, Rejected
from graphql_api.core.validation import Checks

T = TypeVar("T")


class NotGiven(Enum):
    NOT_GIVEN = "NOT_GIVEN"


NOT_GIVEN: Final = NotGiven.NOT_GIVEN

# A field of a partial update: a value (None included), or NOT_GIVEN to leave it unchanged.
Maybe: TypeAlias = T | Literal[NotGiven.NOT_GIVEN]


@dataclass(frozen=True, slots=True)
class Invalid:
    """An input value the caller could not read, and why."""

    error: DomainError


def accept(check: Checks, value: T | Invalid) -> T | None:
    """The value, or None with its error collected in `check` when it could not be read."""
    if isinstance(value, Invalid):
        check.errors.append(value.error)
        return None
    return value


def or_reject(value: T | Invalid) -> T:
    """The value, or `Rejected` with its error when it could not be read."""
    if isinstance(value, Invalid):
        raise Rejected(value.error)
    return value


def decode_global_id(value: str, path: str, *, type_name: str) -> int | Invalid:
    """The primary key in a global ID naming `type_name`, or why it names none (see
    `Checks.global_id`: malformed is INVALID_FORMAT, another type's ID is NOT_FOUND)."""
    check = Checks()
    pk = check.global_id(value, path, type_name=type_name)
    return Invalid(check.errors[0]) if pk is None else pk
