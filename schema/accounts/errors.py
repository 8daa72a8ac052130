"""Expected failures of account mutations, as `UserError`s (R6, R11, R13)."""

from __future__ import annotations

from schema.errors import UserError, UserErrorCode, user_error


def invalid_credentials() -> UserError:
    # One answer for an unknown e-mail, a wrong password and an inactive account.
    return user_error(
        UserErrorCode.INVALID_CREDENTIALS, "The e-mail or password is not correct.", None
    )


def invalid_refresh_token(field: str = "refreshToken") -> UserError:
    return user_error(
        UserErrorCode.INVALID_TOKEN, "The refresh token is invalid, expired or revoked.", field
    )


def email_taken(field: str = "input.email") -> UserError:
    return user_error(UserErrorCode.EMAIL_TAKEN, "An account with this e-mail exists.", field)


def user_not_found(field: str = "userId") -> UserError:
    return user_error(UserErrorCode.NOT_FOUND, "No user with this ID.", field)


def own_role(field: str = "userId") -> UserError:
    # Keeps at least one admin: an admin can only be demoted by another admin.
    return user_error(UserErrorCode.INVALID_VALUE, "You cannot change your own role.", field)
