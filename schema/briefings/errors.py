"""Expected failures of briefing mutations, as `UserError`s (R11, R13)."""

from __future__ import annotations

from schema.errors import UserError, UserErrorCode, user_error


def duplicate_keyword(field: str) -> UserError:
    return user_error(UserErrorCode.DUPLICATE, "This keyword is listed twice.", field)
