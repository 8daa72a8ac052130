"""Account mutations: register, login, refresh, logout, and admins' role changes (R6, R7, R9).

The workflows, their rules and their audit rows are `graphql_api.services.accounts`; these
resolvers parse the input, call one service and build the payload.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import strawberry

from graphql_api.core.auth.passwords import MAX_PASSWORD_LENGTH, MIN_PASSWORD_LENGTH
from graphql_api.core.db.enums import Role
from graphql_api.core.errors import Rejected
from graphql_api.core.validation import Checks
from graphql_api.services import accounts
from loaders import written
from schema.accounts.types import UserType
from schema.errors import UserError
from schema.payloads import Payload
from schema.permissions import IsAdmin
from schema.types import Info


@strawberry.input(description="A new account: it gets the MEMBER role and is signed in.")
class RegisterInput:
    email: str = strawberry.field(description="Login e-mail address (stored lower-cased).")
    password: str = strawberry.field(
        description=f"Password, {MIN_PASSWORD_LENGTH} to {MAX_PASSWORD_LENGTH} characters."
    )
    display_name: str = strawberry.field(
        description=f"Name shown to other users, at most {accounts.MAX_DISPLAY_NAME_LENGTH}."
    )


@strawberry.input(description="Credentials to sign in with.")
class LoginInput:
    email: str = strawberry.field(description="Login e-mail address (case-insensitive).")
    password: str = strawberry.field(description="The account's password.")


@strawberry.type(
    description="Tokens of a signed-in session. Send the access token as "
    "`Authorization: Bearer <token>`; trade the refresh token for new tokens before the "
    "access token expires. Everything but `errors` is null when `errors` is not empty."
)
class AuthPayload(Payload):
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
class LogoutPayload(Payload):
    logged_out: bool | None = strawberry.field(
        default=None,
        description="True when the session (every refresh token of it) is revoked; null "
        "when `errors` is not empty.",
    )
    errors: list[UserError] = strawberry.field(
        default_factory=list, description="Why nothing happened; empty on success."
    )


@strawberry.type(description="Result of a mutation that changes a user.")
class UserPayload(Payload):
    user: UserType | None = strawberry.field(
        default=None, description="The user after the change; null when `errors` is not empty."
    )
    errors: list[UserError] = strawberry.field(
        default_factory=list, description="Why nothing was written; empty on success."
    )


def _signed_in(signed_in: accounts.SignedIn) -> AuthPayload:
    return AuthPayload.ok(
        access_token=signed_in.access.token,
        access_token_expires_at=signed_in.access.expires_at,
        refresh_token=signed_in.refresh.token,
        refresh_token_expires_at=signed_in.refresh.expires_at,
        user=signed_in.user,
    )


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
        try:
            signed_in = await accounts.register(
                db=ctx.db,
                settings=ctx.settings,
                actor=ctx.actor,
                email=input.email,
                password=input.password,
                display_name=input.display_name,
            )
        except Rejected as refusal:
            return AuthPayload.failed(refusal)
        written.refresh(ctx.loaders, signed_in.user)
        return _signed_in(signed_in)

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
        try:
            signed_in = await accounts.login(
                db=ctx.db,
                settings=ctx.settings,
                actor=ctx.actor,
                email=input.email,
                password=input.password,
            )
        except Rejected as refusal:
            return AuthPayload.failed(refusal)
        return _signed_in(signed_in)

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
        try:
            signed_in = await accounts.refresh_session(
                db=ctx.db, settings=ctx.settings, actor=ctx.actor, refresh_token=refresh_token
            )
        except Rejected as refusal:
            return AuthPayload.failed(refusal)
        return _signed_in(signed_in)

    @strawberry.mutation(
        description="Sign out: revoke the session of this refresh token (every token of its "
        "family); the session's access tokens and open subscriptions stop at once."
    )
    async def logout(
        self,
        info: Info,
        refresh_token: Annotated[
            str, strawberry.argument(description="A refresh token of the session to end.")
        ],
    ) -> LogoutPayload:
        ctx = info.context
        try:
            ended = await accounts.logout(db=ctx.db, actor=ctx.actor, refresh_token=refresh_token)
        except Rejected as refusal:
            return LogoutPayload.failed(refusal)
        # This instance at once; the others when SESSION_REVOKED reaches them (milliseconds).
        ctx.revoked_sessions.add(ended.session)
        return LogoutPayload.ok(logged_out=True)

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
        # The GraphQL enum `Role` (schema.accounts.types) is this class, described in place.
        role: Annotated[Role, strawberry.argument(description="The new role.")],
    ) -> UserPayload:
        ctx = info.context
        check = Checks()
        pk = check.global_id(user_id, "userId", type_name="User")
        if not check.ok or pk is None:
            return UserPayload.failed(check.errors)
        try:
            user = await accounts.set_user_role(
                db=ctx.db, actor=ctx.actor, principals=ctx.principals, user_id=pk, role=role
            )
        except Rejected as refusal:
            return UserPayload.failed(refusal)
        written.refresh(ctx.loaders, user)
        return UserPayload.ok(user=user)
