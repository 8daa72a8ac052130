"""Account workflows: new accounts, sign-in sessions and role changes (R6, R7, R9).

The rules for a new account (e-mail format, display name, password rules, one account per
e-mail) live here once: `register` (the API) and `create_user` (the CLI) both apply them.

Login is not an oracle for which e-mails exist: an unknown e-mail, a wrong password and an
inactive account get the same INVALID_CREDENTIALS after the same work (an unknown e-mail is
verified against a dummy Argon2 hash). Password hashing and checking run outside any
transaction, so a flood of logins holds no database connection while hashing.

Most refusals are raised inside the transaction, so nothing is written. Two refusals are
themselves recorded and committed before `Rejected` is raised: a failed login (its audit
row) and a reused refresh token (the revocation of its session and its audit row).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Final

from sqlalchemy.ext.asyncio import AsyncSession

from graphql_api.core import audit
from graphql_api.core.actor import Actor
from graphql_api.core.auth.authenticate import PrincipalCache
from graphql_api.core.auth.masking import mask_email
from graphql_api.core.auth.passwords import (
    MAX_PASSWORD_LENGTH,
    hash_password,
    needs_rehash,
    password_problem,
    verify_password,
)
from graphql_api.core.auth.tokens import (
    IssuedAccessToken,
    IssuedRefreshToken,
    RefreshOutcome,
    find_refresh_token,
    issue_access_token,
    issue_refresh_token,
    revoke_family,
    rotate_refresh_token,
)
from graphql_api.core.config import Settings
from graphql_api.core.db.engine import Database
from graphql_api.core.db.enums import Role
from graphql_api.core.db.models import User
from graphql_api.core.db.writes import accounts as writes
from graphql_api.core.errors import DomainError, Rejected, UserErrorCode
from graphql_api.core.events import SESSION_REVOKED, emit
from graphql_api.core.validation import Checks

MAX_DISPLAY_NAME_LENGTH: Final = 100
MAX_EMAIL_LENGTH: Final = 254
# Longer input is refused before hashing (Argon2 would accept it, at a cost).
MAX_LOGIN_PASSWORD_LENGTH: Final = 1024

# Field paths as the API names its arguments: payloads report them as they are.
EMAIL_FIELD: Final = "input.email"
DISPLAY_NAME_FIELD: Final = "input.displayName"
PASSWORD_FIELD: Final = "input.password"  # noqa: S105  (a field path, not a password)


def invalid_credentials() -> DomainError:
    # One answer for an unknown e-mail, a wrong password and an inactive account.
    return DomainError(
        UserErrorCode.INVALID_CREDENTIALS, "The e-mail or password is not correct.", None
    )


def invalid_refresh_token() -> DomainError:
    return DomainError(
        UserErrorCode.INVALID_TOKEN,
        "The refresh token is invalid, expired or revoked.",
        "refreshToken",
    )


def email_taken() -> DomainError:
    return DomainError(
        UserErrorCode.EMAIL_TAKEN, "An account with this e-mail exists.", EMAIL_FIELD
    )


def user_not_found() -> DomainError:
    return DomainError(UserErrorCode.NOT_FOUND, "No user with this ID.", "userId")


def own_role() -> DomainError:
    # Keeps at least one admin: an admin can only be demoted by another admin.
    return DomainError(UserErrorCode.INVALID_VALUE, "You cannot change your own role.", "userId")


@dataclass(frozen=True, slots=True)
class NewAccount:
    """A new account's e-mail (lower-cased) and display name, as checked."""

    email: str
    display_name: str


@dataclass(frozen=True, slots=True)
class SignedIn:
    """A signed-in session: the user and the tokens to hand to the client once."""

    user: User
    # Kept out of repr: the tokens are secrets.
    access: IssuedAccessToken = field(repr=False)
    refresh: IssuedRefreshToken = field(repr=False)


def check_new_account(*, email: str, display_name: str, password: str | None) -> NewAccount:
    """The rules for a new account, or `Rejected` with every error (e-mail, name, password).

    `password=None` checks the rest only: the CLI checks the e-mail before it prompts for
    the password. Whether the e-mail is taken is decided by the insert (race-free).
    """
    check = Checks()
    clean_email = check.email(email, EMAIL_FIELD)
    clean_name = check.text(display_name, DISPLAY_NAME_FIELD, max_length=MAX_DISPLAY_NAME_LENGTH)
    if password is not None:
        _check_new_password(check, password)
    check.reject_if_failed()
    assert clean_email is not None
    assert clean_name is not None
    return NewAccount(email=clean_email, display_name=clean_name)


def _check_new_password(check: Checks, password: str) -> None:
    problem = password_problem(password)
    if problem is None:
        return
    if not password.strip():
        check.fail(UserErrorCode.REQUIRED, "A value is required.", PASSWORD_FIELD)
    elif len(password) > MAX_PASSWORD_LENGTH:
        check.fail(UserErrorCode.TOO_LONG, problem, PASSWORD_FIELD)
    else:
        check.fail(UserErrorCode.WEAK_PASSWORD, problem, PASSWORD_FIELD)


async def _insert_account(
    session: AsyncSession, account: NewAccount, *, password_hash: str, role: Role
) -> User:
    user = await writes.insert_user(
        session,
        email=account.email,
        password_hash=password_hash,
        display_name=account.display_name,
        role=role,
    )
    if user is None:
        raise Rejected(email_taken())
    return user


async def _sign_in(session: AsyncSession, settings: Settings, actor: Actor, user: User) -> SignedIn:
    """A new session (refresh token family) for the user, and its first access token."""
    refresh = await issue_refresh_token(
        session, user_id=user.id, now=actor.now, ttl_seconds=settings.refresh_token_ttl_seconds
    )
    access = issue_access_token(
        settings, user_id=user.id, role=user.role, now=actor.now, session=refresh.family_id
    )
    return SignedIn(user=user, access=access, refresh=refresh)


async def register(
    *, db: Database, settings: Settings, actor: Actor, email: str, password: str, display_name: str
) -> SignedIn:
    """Create a MEMBER account and sign it in (audited as `auth.register`)."""
    account = check_new_account(email=email, display_name=display_name, password=password)
    password_hash = await hash_password(password)
    async with db.write() as session:
        user = await _insert_account(
            session, account, password_hash=password_hash, role=Role.MEMBER
        )
        signed_in = await _sign_in(session, settings, actor, user)
        await audit.record_request(
            session,
            actor,
            action="auth.register",
            actor_user_id=user.id,
            target_type="User",
            target_id=user.id,
        )
    return signed_in


async def create_user(
    *, db: Database, actor: Actor, email: str, password: str, display_name: str, role: Role
) -> User:
    """Create an active user with any role, outside the API (audited as `user.created`)."""
    account = check_new_account(email=email, display_name=display_name, password=password)
    password_hash = await hash_password(password)
    async with db.write() as session:
        user = await _insert_account(session, account, password_hash=password_hash, role=role)
        await audit.record_request(
            session,
            actor,
            action="user.created",
            target_type="User",
            target_id=user.id,
            details={"via": "cli", "role": role.value},
        )
    return user


async def login(
    *, db: Database, settings: Settings, actor: Actor, email: str, password: str
) -> SignedIn:
    """Sign in with e-mail and password; every failure is the same INVALID_CREDENTIALS.

    A failure is audited (committed) before `Rejected` is raised.
    """
    email = email.strip().lower()
    if not email or not password:
        check = Checks()
        if not email:
            check.fail(UserErrorCode.REQUIRED, "A value is required.", EMAIL_FIELD)
        if not password:
            check.fail(UserErrorCode.REQUIRED, "A value is required.", PASSWORD_FIELD)
        check.reject_if_failed()
    user: User | None = None
    # Input no account can match is not looked up, but costs the same time.
    if (
        len(email) <= MAX_EMAIL_LENGTH
        and len(password) <= MAX_LOGIN_PASSWORD_LENGTH
        and "\x00" not in email
    ):
        async with db.read() as session:
            user = await writes.user_by_email(session, email=email)
    matches = await verify_password(user.password_hash if user else None, password)
    if user is None or not matches or not user.is_active:
        reason = "unknown_email" if user is None else ("inactive" if matches else "wrong_password")
        async with db.write() as session:
            await audit.record_request(
                session,
                actor,
                action="auth.login",
                success=False,
                target_type="User" if user else None,
                target_id=user.id if user else None,
                details={"email": mask_email(email), "reason": reason},
            )
        raise Rejected(invalid_credentials())

    new_hash = await hash_password(password) if needs_rehash(user.password_hash) else None
    async with db.write() as session:
        await writes.record_login(session, user_id=user.id, at=actor.now, password_hash=new_hash)
        signed_in = await _sign_in(session, settings, actor, user)
        await audit.record_request(
            session,
            actor,
            action="auth.login",
            actor_user_id=user.id,
            target_type="User",
            target_id=user.id,
            details={"email": mask_email(email)},
        )
    return signed_in


async def refresh_session(
    *, db: Database, settings: Settings, actor: Actor, refresh_token: str
) -> SignedIn:
    """Trade a refresh token for new tokens; each refresh token works once.

    A used token presented again revokes its whole session; that revocation and its audit
    row are committed before `Rejected` is raised.
    """
    async with db.write() as session:
        rotation = await rotate_refresh_token(
            session,
            raw=refresh_token,
            now=actor.now,
            ttl_seconds=settings.refresh_token_ttl_seconds,
        )
        if rotation.outcome is RefreshOutcome.INVALID:
            raise Rejected(invalid_refresh_token())
        user: User | None = None
        if rotation.outcome is RefreshOutcome.REUSED:
            await audit.record_request(
                session,
                actor,
                action="auth.refresh_reuse",
                success=False,
                actor_user_id=rotation.user_id,
                target_type="RefreshTokenFamily",
                target_id=str(rotation.family_id),
                details={"revoked_tokens": rotation.revoked_count},
            )
            # Every instance stops the session's access tokens once this commits.
            emit(session, SESSION_REVOKED, {"session": str(rotation.family_id)})
        else:
            assert rotation.user_id is not None
            # Its token was just rotated, which needs an active user.
            user = await writes.user_by_id(session, user_id=rotation.user_id)
            assert user is not None
    if user is None or rotation.issued is None:
        raise Rejected(invalid_refresh_token())  # the reuse, once its revocation committed
    access = issue_access_token(
        settings,
        user_id=user.id,
        role=user.role,
        now=actor.now,
        session=rotation.issued.family_id,
    )
    return SignedIn(user=user, access=access, refresh=rotation.issued)


@dataclass(frozen=True, slots=True)
class LoggedOut:
    revoked_tokens: int
    # The session's id, as access tokens carry it (`sid`).
    session: str


async def logout(*, db: Database, actor: Actor, refresh_token: str) -> LoggedOut:
    """Revoke the session (every token of the family) of this refresh token.

    Returns how many tokens were revoked, and the session. Its access tokens stop working
    on every instance as soon as this commits (SESSION_REVOKED, `core.auth.revocations`).
    """
    async with db.write() as session:
        token = await find_refresh_token(session, raw=refresh_token)
        if token is None:
            raise Rejected(invalid_refresh_token())
        revoked = await revoke_family(
            session, family_id=token.family_id, now=actor.now, reason="logout"
        )
        await audit.record_request(
            session,
            actor,
            action="auth.logout",
            actor_user_id=token.user_id,
            target_type="RefreshTokenFamily",
            target_id=str(token.family_id),
            details={"revoked_tokens": revoked},
        )
        emit(session, SESSION_REVOKED, {"session": str(token.family_id)})
    return LoggedOut(revoked, str(token.family_id))


async def set_user_role(
    *, db: Database, actor: Actor, principals: PrincipalCache, user_id: int, role: Role
) -> User:
    """Give a user another role (audited as `user.role_changed`); not one's own.

    The user's next requests see it: on this process at once (`principals` forgets the
    user), on the others when their cached principal expires (seconds).
    """
    if user_id == actor.principal.user_id:
        raise Rejected(own_role())
    async with db.write() as session:
        user = await writes.lock_user(session, user_id=user_id)
        if user is None:
            raise Rejected(user_not_found())
        old_role = user.role
        if old_role is role:
            return user
        user = await writes.set_role(session, user_id=user_id, role=role)
        await audit.record_request(
            session,
            actor,
            action="user.role_changed",
            target_type="User",
            target_id=user_id,
            details={"old_role": old_role.value, "new_role": role.value},
        )
    principals.forget(user_id)
    return user
