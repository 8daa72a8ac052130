"""Expected mutation failures: `UserError { field message code }` in every payload (R11, R13).

One GraphQL enum carries every code so clients match on a stable value; the members are
grouped by domain below and each domain's `errors.py` offers constructors for its own.
A payload with errors has null data and nothing was written.
"""

from __future__ import annotations

from enum import StrEnum

import strawberry

from schema.types import described_enum


class UserErrorCode(StrEnum):
    # Any domain: input validation.
    REQUIRED = "REQUIRED"
    TOO_SHORT = "TOO_SHORT"
    TOO_LONG = "TOO_LONG"
    INVALID_FORMAT = "INVALID_FORMAT"
    OUT_OF_RANGE = "OUT_OF_RANGE"
    INVALID_VALUE = "INVALID_VALUE"
    NOT_FOUND = "NOT_FOUND"
    DUPLICATE = "DUPLICATE"
    # Accounts and access.
    INVALID_CREDENTIALS = "INVALID_CREDENTIALS"
    EMAIL_TAKEN = "EMAIL_TAKEN"
    WEAK_PASSWORD = "WEAK_PASSWORD"  # noqa: S105  (a code, not a password)
    INVALID_TOKEN = "INVALID_TOKEN"  # noqa: S105  (a code, not a token)
    # Announcements, businesses and applications.
    INVALID_TRANSITION = "INVALID_TRANSITION"
    NOT_OPEN = "NOT_OPEN"
    NOT_ELIGIBLE = "NOT_ELIGIBLE"
    ALREADY_APPLIED = "ALREADY_APPLIED"
    # Portfolios and trading.
    UNKNOWN_SYMBOL = "UNKNOWN_SYMBOL"
    NO_PRICE = "NO_PRICE"
    INSUFFICIENT_CASH = "INSUFFICIENT_CASH"
    INSUFFICIENT_HOLDINGS = "INSUFFICIENT_HOLDINGS"


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
    code: UserErrorCodeType = strawberry.field(description="Stable reason code.")  # type: ignore[valid-type]


def user_error(code: UserErrorCode, message: str, field: str | None = None) -> UserError:
    return UserError(field=field, message=message, code=code)
