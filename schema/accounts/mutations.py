"""Account mutations: register, login, refresh, logout, and admins' role changes (R6, R7, R9).

Login is not an oracle for which e-mails exist: an unknown e-mail, a wrong password and an
inactive account get the same `INVALID_CREDENTIALS` after the same work (an unknown e-mail
is verified against a dummy Argon2 hash). Password checks run outside any transaction, so
a flood of logins holds no database connection while hashing.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import strawberry

from graphql_api.core import audit
from graphql_api.core.auth.masking import mask_email
from graphql_api.core.auth.passwords import (
    MAX_PASSWORD_LENGTH,
    MIN_PASSWORD_LENGTH,
    hash_password,
    needs_rehash,
    password_problem,
    verify_password,
)
from graphql_api.core.auth.tokens import (
    IssuedRefreshToken,
    RefreshOutcome,
    find_refresh_token,
    issue_access_token,
    issue_refresh_token,
    revoke_family,
    rotate_refresh_token,
)
from graphql_api.core.db import models
from graphql_api.core.db.enums import Role as RoleEnum
from graphql_api.core.db.writes.accounts import (
    insert_user,
    lock_user,
    record_login,
    set_role,
    user_by_email,
)
from graphql_api.core.validation import Checks
from schema.accounts.errors import (
    email_taken,
    invalid_credentials,
    invalid_refresh_token,
    own_role,
    user_not_found,
)
from schema.accounts.types import Role, UserType
from schema.context import Context
from schema.errors import UserError, UserErrorCode
from schema.permissions import IsAdmin
from schema.types import Info

# Longer input is refused before hashing (Argon2 would accept it, at a cost).
_MAX_LOGIN_PASSWORD = 1024


@strawberry.input(description="A new account: it gets the MEMBER role and is signed in.")
class RegisterInput:
    email: str = strawberry.field(description="Login e-mail address (stored lower-cased).")
    password: str = strawberry.field(
        description=f"Password, {MIN_PASSWORD_LENGTH} to {MAX_PASSWORD_LENGTH} characters."
    )
    display_name: str = strawberry.field(description="Name shown to other users, at most 100.")


@strawberry.input(description="Credentials to sign in with.")
class LoginInput:
    email: str = strawberry.field(description="Login e-mail address (case-insensitive).")
    password: str = strawberry.field(description="The account's password.")


@strawberry.type(
    description="Tokens of a signed-in session. Send the access token as "
    "`Authorization: Bearer <token>`; trade the refresh token for new tokens before the "
    "access token expires. Everything but `errors` is null when `errors` is not empty."
)
class AuthPayload:
    access_token: str | None = strawberry.field(
        default=None, description="Short-lived JWT for the `Authorization: Bearer` header."
    )
    access_token_expires_at: datetime | None = strawberry.field(
        default=None, description="When the access token stops being accepted."
    )
    refresh_token: str | None = strawberry.field(
        default=None,
        description="Single-use secret for `refreshToken`: each use returns a new one, and "
        "reusing a used one ends the whole session.",
    )
    refresh_token_expires_at: datetime | None = strawberry.field(
        default=None, description="When the refresh token expires unless used before."
    )
    user: UserType | None = strawberry.field(default=None, description="The signed-in user.")
    errors: list[UserError] = strawberry.field(
        default_factory=list, description="Why nothing happened; empty on success."
    )


@strawberry.type(description="Result of `logout`.")
class LogoutPayload:
    logged_out: bool | None = strawberry.field(
        default=None,
        description="True when the session (every refresh token of it) is revoked; null "
        "when `errors` is not empty.",
    )
    errors: list[UserError] = strawberry.field(
        default_factory=list, description="Why nothing happened; empty on success."
    )


@strawberry.type(description="Result of a mutation that changes a user.")
class UserPayload:
    user: UserType | None = strawberry.field(
        default=None, description="The user after the change; null when `errors` is not empty."
    )
    errors: list[UserError] = strawberry.field(
        default_factory=list, description="Why nothing was written; empty on success."
    )


def _signed_in(
    ctx: Context, user: models.User, refresh: IssuedRefreshToken, role: RoleEnum
) -> AuthPayload:
    access = issue_access_token(ctx.settings, user_id=user.id, role=role, now=ctx.now)
    return AuthPayload(
        access_token=access.token,
        access_token_expires_at=access.expires_at,
        refresh_token=refresh.token,
        refresh_token_expires_at=refresh.expires_at,
        user=user,  # type: ignore[arg-type]
    )


def _check_new_password(check: Checks, password: str, path: str) -> None:
    problem = password_problem(password)
    if problem is None:
        return
    if not password.strip():
        check.fail(UserErrorCode.REQUIRED, "A value is required.", path)
    elif len(password) > MAX_PASSWORD_LENGTH:
        check.fail(UserErrorCode.TOO_LONG, problem, path)
    else:
        check.fail(UserErrorCode.WEAK_PASSWORD, problem, path)


@strawberry.type
class AccountMutations:
    @strawberry.mutation(
        description="Create a MEMBER account and sign it in. Errors: REQUIRED, TOO_LONG, "
        "INVALID_FORMAT, WEAK_PASSWORD, EMAIL_TAKEN."
    )
    async def register(
        self,
        info: Info,
        input: Annotated[RegisterInput, strawberry.argument(description="The new account.")],
    ) -> AuthPayload:
        ctx = info.context
        check = Checks()
        email = check.email(input.email, "input.email")
        display_name = check.text(input.display_name, "input.displayName", max_length=100)
        _check_new_password(check, input.password, "input.password")
        if not check.ok or email is None or display_name is None:
            return AuthPayload(errors=check.errors)
        password_hash = await hash_password(input.password)
        async with ctx.db.write() as session:
            user = await insert_user(
                session, email=email, password_hash=password_hash, display_name=display_name
            )
            if user is None:
                return AuthPayload(errors=[email_taken()])
            refresh = await issue_refresh_token(
                session,
                user_id=user.id,
                now=ctx.now,
                ttl_seconds=ctx.settings.refresh_token_ttl_seconds,
            )
            await audit.record_request(
                session,
                ctx.actor,
                action="auth.register",
                actor_user_id=user.id,
                target_type="User",
                target_id=user.id,
            )
        return _signed_in(ctx, user, refresh, user.role)

    @strawberry.mutation(
        description="Sign in with e-mail and password. Every failure is the same "
        "INVALID_CREDENTIALS, whether or not the e-mail has an account."
    )
    async def login(
        self,
        info: Info,
        input: Annotated[LoginInput, strawberry.argument(description="The credentials.")],
    ) -> AuthPayload:
        ctx = info.context
        email = input.email.strip().lower()
        password = input.password
        if not email or not password:
            check = Checks()
            if not email:
                check.fail(UserErrorCode.REQUIRED, "A value is required.", "input.email")
            if not password:
                check.fail(UserErrorCode.REQUIRED, "A value is required.", "input.password")
            return AuthPayload(errors=check.errors)
        user: models.User | None = None
        # Input no account can match is not looked up, but costs the same time.
        if len(email) <= 254 and len(password) <= _MAX_LOGIN_PASSWORD and "\x00" not in email:
            async with ctx.db.read() as session:
                user = await user_by_email(session, email=email)
        matches = await verify_password(user.password_hash if user else None, password)
        ok = user is not None and matches and user.is_active
        new_hash: str | None = None
        if user is not None and ok and needs_rehash(user.password_hash):
            new_hash = await hash_password(password)

        async with ctx.db.write() as session:
            if user is None or not ok:
                reason = "unknown_email" if user is None else (
                    "inactive" if matches else "wrong_password"
                )  # fmt: skip
                await audit.record_request(
                    session,
                    ctx.actor,
                    action="auth.login",
                    success=False,
                    target_type="User" if user else None,
                    target_id=user.id if user else None,
                    details={"email": mask_email(email), "reason": reason},
                )
                return AuthPayload(errors=[invalid_credentials()])
            await record_login(session, user_id=user.id, at=ctx.now, password_hash=new_hash)
            refresh = await issue_refresh_token(
                session,
                user_id=user.id,
                now=ctx.now,
                ttl_seconds=ctx.settings.refresh_token_ttl_seconds,
            )
            await audit.record_request(
                session,
                ctx.actor,
                action="auth.login",
                actor_user_id=user.id,
                target_type="User",
                target_id=user.id,
                details={"email": mask_email(email)},
            )
        return _signed_in(ctx, user, refresh, user.role)

    @strawberry.mutation(
        name="refreshToken",
        description="Trade a refresh token for a new access token and a new refresh token. "
        "Each refresh token works once: presenting a used one again revokes its whole "
        "session (INVALID_TOKEN), the newer tokens included.",
    )
    async def refresh_token(
        self,
        info: Info,
        refresh_token: Annotated[
            str, strawberry.argument(description="The refresh token from the last sign-in.")
        ],
    ) -> AuthPayload:
        ctx = info.context
        async with ctx.db.write() as session:
            rotation = await rotate_refresh_token(
                session,
                raw=refresh_token,
                now=ctx.now,
                ttl_seconds=ctx.settings.refresh_token_ttl_seconds,
            )
            if rotation.outcome is RefreshOutcome.REUSED:
                # Committed with the revocation, although the caller only sees an error.
                await audit.record_request(
                    session,
                    ctx.actor,
                    action="auth.refresh_reuse",
                    success=False,
                    actor_user_id=rotation.user_id,
                    target_type="RefreshTokenFamily",
                    target_id=str(rotation.family_id),
                    details={"revoked_tokens": rotation.revoked_count},
                )
            if rotation.outcome is not RefreshOutcome.ROTATED:
                return AuthPayload(errors=[invalid_refresh_token()])
            assert rotation.issued is not None
            assert rotation.user_id is not None
            user = await session.get(models.User, rotation.user_id)
            assert user is not None
        return _signed_in(ctx, user, rotation.issued, user.role)

    @strawberry.mutation(
        description="Sign out: revoke the session of this refresh token (every token of its "
        "family). Access tokens already issued stay valid until they expire (minutes)."
    )
    async def logout(
        self,
        info: Info,
        refresh_token: Annotated[
            str, strawberry.argument(description="A refresh token of the session to end.")
        ],
    ) -> LogoutPayload:
        ctx = info.context
        async with ctx.db.write() as session:
            token = await find_refresh_token(session, raw=refresh_token)
            if token is None:
                return LogoutPayload(errors=[invalid_refresh_token()])
            revoked = await revoke_family(
                session, family_id=token.family_id, now=ctx.now, reason="logout"
            )
            await audit.record_request(
                session,
                ctx.actor,
                action="auth.logout",
                actor_user_id=token.user_id,
                target_type="RefreshTokenFamily",
                target_id=str(token.family_id),
                details={"revoked_tokens": revoked},
            )
        return LogoutPayload(logged_out=True)

    @strawberry.mutation(
        description="Give a user another role. Admins only (FORBIDDEN otherwise); an admin "
        "cannot change their own role. Takes effect on the user's next requests (within "
        "seconds), without signing them out.",
        permission_classes=[IsAdmin],
    )
    async def set_user_role(
        self,
        info: Info,
        user_id: Annotated[strawberry.ID, strawberry.argument(description="Global ID of a User.")],
        role: Annotated[Role, strawberry.argument(description="The new role.")],  # type: ignore[valid-type]
    ) -> UserPayload:
        ctx = info.context
        check = Checks()
        pk = check.global_id(user_id, "userId", type_name="User")
        if not check.ok or pk is None:
            return UserPayload(errors=check.errors)
        if pk == ctx.principal.user_id:
            return UserPayload(errors=[own_role()])
        new_role = RoleEnum(role)
        async with ctx.db.write() as session:
            user = await lock_user(session, user_id=pk)
            if user is None:
                return UserPayload(errors=[user_not_found()])
            old_role = user.role
            if old_role is new_role:
                return UserPayload(user=user)  # type: ignore[arg-type]
            user = await set_role(session, user_id=pk, role=new_role)
            await audit.record_request(
                session,
                ctx.actor,
                action="user.role_changed",
                target_type="User",
                target_id=pk,
                details={"old_role": old_role.value, "new_role": new_role.value},
            )
        ctx.principals.forget(pk)  # this process at once; others within seconds
        return UserPayload(user=user)  # type: ignore[arg-type]
