"""Expected failures of business and application mutations, as `UserError`s (R11, R13)."""

from __future__ import annotations

from graphql_api.core.db.enums import ApplicationStatus
from schema.errors import UserError, UserErrorCode, user_error


def business_not_found(field: str) -> UserError:
    """Missing, or another member's business: the same answer, so nothing leaks."""
    return user_error(UserErrorCode.NOT_FOUND, "No business with this ID.", field)


def announcement_not_found(field: str) -> UserError:
    return user_error(UserErrorCode.NOT_FOUND, "No announcement with this ID.", field)


def application_not_found(field: str = "id") -> UserError:
    return user_error(UserErrorCode.NOT_FOUND, "No application with this ID.", field)


def registration_number_taken(field: str = "input.registrationNumber") -> UserError:
    return user_error(
        UserErrorCode.DUPLICATE, "A business with this registration number exists.", field
    )


def not_open(field: str = "announcementId") -> UserError:
    return user_error(UserErrorCode.NOT_OPEN, "The call is not open for applications.", field)


def not_eligible(reasons: list[str], field: str = "businessId") -> UserError:
    """`reasons`: the criteria (industry, size, region) the business does not meet."""
    return user_error(
        UserErrorCode.NOT_ELIGIBLE,
        f"The business does not meet the call's targets: {', '.join(reasons)}.",
        field,
    )


def already_applied(field: str = "announcementId") -> UserError:
    return user_error(
        UserErrorCode.ALREADY_APPLIED, "This business has already applied to this call.", field
    )


def already_decided(current: ApplicationStatus) -> UserError:
    return user_error(
        UserErrorCode.INVALID_TRANSITION,
        f"Only a SUBMITTED application can be decided; this one is {current.value}.",
        None,
    )
