"""Expected failures of announcement mutations, as `UserError`s (R11, R13)."""

from __future__ import annotations

from graphql_api.core.db.enums import AnnouncementStatus
from schema.errors import UserError, UserErrorCode, user_error


def announcement_not_found(field: str = "id") -> UserError:
    return user_error(UserErrorCode.NOT_FOUND, "No announcement with this ID.", field)


def invalid_transition(current: AnnouncementStatus, action: str) -> UserError:
    """`action` (publish, close, update) is not allowed from the call's effective status."""
    return user_error(
        UserErrorCode.INVALID_TRANSITION,
        f"Cannot {action} an announcement that is {current.value}.",
        None,
    )


def closing_time_passed() -> UserError:
    """Publishing a draft whose closesAt is already past: it would read as CLOSED at once."""
    return user_error(
        UserErrorCode.INVALID_VALUE,
        "Its closesAt has passed; move it with updateAnnouncement before publishing.",
        None,
    )
