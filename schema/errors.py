"""Expected mutation failures: `UserError { field message code }` in every payload (R11, R13).

One GraphQL enum carries every code so clients match on a stable value; the members are
grouped by domain below and each domain's `errors.py` offers constructors for its own.
A payload with errors has null data and nothing was written.
"""

from __future__ import annotations

from collections.abc import Iterable

import strawberry

from graphql_api.core.errors import DomainError, Rejected, UserErrorCode
from schema.types import described_enum

__all__ = ["UserError", "UserErrorCode", "UserErrorCodeType"]


UserErrorCodeType = described_enum(
    UserErrorCode,
    name="UserErrorCode",
    description="Stable machine-readable reason of an expected mutation failure.",
    values={
        "REQUIRED": "A required value is missing or blank.",
        "TOO_SHORT": "The value is shorter than allowed.",
        "TOO_LONG": "The value is longer than allowed.",
        "INVALID_FORMAT": "The value does not have the expected format.",
        "OUT_OF_RANGE": "The number or date is outside the allowed range.",
        "INVALID_VALUE": "The value is not acceptable here.",
        "NOT_FOUND": "The referenced object does not exist or is not visible to the caller.",
        "DUPLICATE": "An object with this unique value already exists.",
        "INVALID_CREDENTIALS": "The e-mail and password do not match an active account.",
        "EMAIL_TAKEN": "An account with this e-mail already exists.",
        "WEAK_PASSWORD": "The password does not meet the password rules.",
        "INVALID_TOKEN": "The token is unknown, expired, revoked or already used.",
        "INVALID_TRANSITION": "The status change is not allowed from the current status.",
        "NOT_OPEN": "The call is not open for applications.",
        "NOT_ELIGIBLE": "The business does not meet the call's targets.",
        "ALREADY_APPLIED": "The business has already applied to this call.",
        "UNKNOWN_SYMBOL": "No security has this symbol.",
        "NO_PRICE": "The security has no price to trade at.",
        "INSUFFICIENT_CASH": "The portfolio's cash does not cover the trade and its fee.",
        "INSUFFICIENT_HOLDINGS": "The portfolio holds less than the quantity to sell.",
    },
)


@strawberry.type(description="An expected failure of a mutation; nothing was written.")
class UserError:
    field: str | None = strawberry.field(
        description="Input field at fault as a dotted path (e.g. `input.email`), if one is."
    )
    message: str = strawberry.field(description="Human-readable explanation.")
    code: UserErrorCode = strawberry.field(description="Stable reason code.")


def user_error(code: UserErrorCode, message: str, field: str | None = None) -> UserError:
    return UserError(field=field, message=message, code=code)


def user_errors(refusal: Rejected | Iterable[DomainError]) -> list[UserError]:
    """A service's refusal as the payload's `errors`, in the order the service gave them."""
    errors = refusal.errors if isinstance(refusal, Rejected) else refusal
    return [user_error(error.code, error.message, error.field) for error in errors]
