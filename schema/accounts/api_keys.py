"""API keys for services (R8): list, create, rotate, revoke. Admins only (R7).

The whole key (the secret) appears once, in the payload of `createApiKey`/`rotateApiKey`;
only its SHA-256 and its public prefix are stored, and neither the secret nor the hash is
ever exposed, logged or audited. Each change is audited in its own transaction (R9).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Annotated, Any

import strawberry
from redis.exceptions import RedisError
from sqlalchemy.ext.asyncio import AsyncSession

from graphql_api.core import audit
from graphql_api.core.auth.api_keys import IssuedKey, flush_last_used, forget_key, generate_key
from graphql_api.core.db import models
from graphql_api.core.db.enums import ApiKeyScope as ApiKeyScopeEnum
from graphql_api.core.db.enums import Role
from graphql_api.core.db.queries.api_keys import API_KEY_CLASSES, AnyApiKey, list_api_keys
from graphql_api.core.db.writes import api_keys as writes
from graphql_api.core.errors import BadUserInput
from graphql_api.core.ids import decode_id_of, encode_id
from graphql_api.core.validation import Checks
from schema.accounts.types import UserType
from schema.errors import UserError, UserErrorCode, user_error
from schema.node import register
from schema.permissions import IsAdmin
from schema.types import Info, Node, described_enum

log = logging.getLogger(__name__)

DEFAULT_EXPIRES_IN_DAYS = 90
MAX_EXPIRES_IN_DAYS = 365
MAX_NAME_LENGTH = 100
# Draws of a fresh prefix before giving up; a clash among 36^8 prefixes is already rare.
_ISSUE_ATTEMPTS = 5

ApiKeyScope = described_enum(
    ApiKeyScopeEnum,
    name="ApiKeyScope",
    description="What a service holding an API key may do; a key has one or more.",
    values={
        "BRIEFINGS_WRITE": "`briefings:write`: write daily briefings (`upsertBriefing`) "
        "and read draft briefings.",
        "PRICES_WRITE": "`prices:write`: update security prices (`updatePrices`).",
        "ANNOUNCEMENTS_WRITE": "`announcements:write`: read and write announcements, "
        "drafts included.",
    },
)


def _visible(info: Info, row: AnyApiKey) -> bool:
    return info.context.principal.has_role(Role.ADMIN)


register("ApiKey", lambda info, pk: info.context.loaders.api_key_by_id.load(pk), _visible)


@strawberry.type(
    name="ApiKey",
    description="A service credential (R8). Only its public prefix is shown; the secret was "
    "shown once, when it was created. Admins only.",
)
class ApiKeyType(Node):
    name: str = strawberry.field(description="What the key is for, e.g. the service's name.")
    prefix: str = strawberry.field(
        description="Public part of the key (`gak_<prefix>_...`), to tell keys apart in logs "
        "and listings; not a secret and not enough to authenticate."
    )
    created_at: datetime = strawberry.field(description="When the key was created.")
    expires_at: datetime = strawberry.field(
        description="When the key stops working; requests with it are then UNAUTHENTICATED."
    )
    revoked_at: datetime | None = strawberry.field(
        description="When the key was revoked (or rotated away); null while it is valid."
    )
    last_used_at: datetime | None = strawberry.field(
        description="When a request last authenticated with the key; null if never. Uses are "
        "written in batches: current in `apiKeys`, elsewhere up to 30 seconds behind."
    )

    # A resolver replaces the interface's plain attribute, which mypy's dataclass model rejects.
    @strawberry.field(description="Globally unique, opaque identifier.")  # type: ignore[misc]
    @staticmethod
    def id(root: strawberry.Parent[AnyApiKey]) -> strawberry.ID:
        return strawberry.ID(encode_id("ApiKey", root.id))

    @strawberry.field(description="What the key allows.")
    @staticmethod
    def scopes(root: strawberry.Parent[AnyApiKey]) -> list[ApiKeyScope]:  # type: ignore[valid-type]
        known = {scope.value for scope in ApiKeyScopeEnum}
        return [ApiKeyScopeEnum(scope) for scope in root.scopes if scope in known]

    @strawberry.field(description="The admin who created the key; null if that account is gone.")
    @staticmethod
    async def created_by(root: strawberry.Parent[AnyApiKey], info: Info) -> UserType | None:
        if root.created_by_id is None:
            return None
        return await info.context.loaders.user_by_id.load(root.created_by_id)  # type: ignore[return-value]

    @strawberry.field(
        description="The key this one replaced (`rotateApiKey`); null for a key created anew."
    )
    @staticmethod
    async def rotated_from(root: strawberry.Parent[AnyApiKey], info: Info) -> ApiKeyType | None:
        if root.rotated_from_id is None:
            return None
        return await info.context.loaders.api_key_by_id.load(root.rotated_from_id)  # type: ignore[return-value]

    @classmethod
    def is_type_of(cls, obj: Any, info: Info) -> bool:
        return isinstance(obj, API_KEY_CLASSES)


@strawberry.input(description="A new API key.")
class CreateApiKeyInput:
    name: str = strawberry.field(
        description=f"What the key is for, 1 to {MAX_NAME_LENGTH} characters."
    )
    scopes: list[ApiKeyScope] = strawberry.field(  # type: ignore[valid-type]
        description="What the key allows; at least one."
    )
    expires_in_days: int | None = strawberry.field(
        default=DEFAULT_EXPIRES_IN_DAYS,
        description=f"Days until the key expires, 1 to {MAX_EXPIRES_IN_DAYS} "
        f"(default {DEFAULT_EXPIRES_IN_DAYS}; null means the default).",
    )


@strawberry.type(description="Result of creating or rotating an API key.")
class CreateApiKeyPayload:
    api_key: ApiKeyType | None = strawberry.field(
        description="The new key; null when `errors` is not empty."
    )
    secret: str | None = strawberry.field(
        description="The whole key (`gak_<prefix>_<secret>`) to send as the `X-API-Key` "
        "header. Shown only here and only once: it is stored hashed and cannot be shown again."
    )
    errors: list[UserError] = strawberry.field(
        description="Why nothing was created; empty on success."
    )


@strawberry.type(description="Result of changing an API key.")
class ApiKeyPayload:
    api_key: ApiKeyType | None = strawberry.field(
        description="The key after the change; null when `errors` is not empty."
    )
    errors: list[UserError] = strawberry.field(
        description="Why nothing was changed; empty on success."
    )


def _created(row: models.ApiKey, issued: IssuedKey) -> CreateApiKeyPayload:
    return CreateApiKeyPayload(api_key=row, secret=issued.raw, errors=[])  # type: ignore[arg-type]


def _create_failed(errors: list[UserError]) -> CreateApiKeyPayload:
    return CreateApiKeyPayload(api_key=None, secret=None, errors=errors)


def _key_id(global_id: str) -> int | None:
    """The primary key of an ApiKey ID, or None when the ID is not one."""
    try:
        return decode_id_of(global_id, "ApiKey")
    except BadUserInput:
        return None


def _not_found() -> list[UserError]:
    return [user_error(UserErrorCode.NOT_FOUND, "No API key with this ID.", "id")]


@dataclass(frozen=True, slots=True)
class _KeySpec:
    name: str
    scopes: list[str]
    expires_at: datetime
    created_by_id: int | None
    rotated_from_id: int | None = None


async def _issue(session: AsyncSession, spec: _KeySpec) -> tuple[models.ApiKey, IssuedKey]:
    """Insert a freshly generated key; a prefix clash just draws another one."""
    for _ in range(_ISSUE_ATTEMPTS):
        issued = generate_key()
        row = await writes.insert_api_key(
            session,
            name=spec.name,
            prefix=issued.prefix,
            key_hash=issued.key_hash,
            scopes=spec.scopes,
            created_by_id=spec.created_by_id,
            expires_at=spec.expires_at,
            rotated_from_id=spec.rotated_from_id,
        )
        if row is not None:
            return row, issued
    raise RuntimeError("could not draw an unused API key prefix")


def _scopes(check: Checks, values: list[ApiKeyScopeEnum]) -> list[str]:
    scopes = sorted({ApiKeyScopeEnum(value).value for value in values})
    if not scopes:
        check.fail(UserErrorCode.REQUIRED, "Give the key at least one scope.", "input.scopes")
    return scopes


@strawberry.type
class ApiKeyQueries:
    @strawberry.field(
        description="Every API key, newest first, revoked and expired ones included. "
        "Admins only (FORBIDDEN otherwise).",
        permission_classes=[IsAdmin],
    )
    async def api_keys(self, info: Info) -> list[ApiKeyType]:
        ctx = info.context
        # Bring last-use times up to date first (one UPDATE, none if nothing was used);
        # without Redis the listing still answers, with times up to one flush behind.
        try:
            await flush_last_used(db=ctx.db, redis=ctx.redis)
        except RedisError:
            log.warning("could not flush api key last-use times before listing")
        return await list_api_keys(ctx.db)  # type: ignore[return-value]


@strawberry.type
class ApiKeyMutations:
    @strawberry.mutation(
        description="Create an API key for a service. The payload's `secret` is the only "
        "time the key is shown. Admins only (FORBIDDEN otherwise); audited.",
        permission_classes=[IsAdmin],
    )
    async def create_api_key(
        self,
        info: Info,
        input: Annotated[
            CreateApiKeyInput, strawberry.argument(description="Name, scopes and lifetime.")
        ],
    ) -> CreateApiKeyPayload:
        ctx = info.context
        check = Checks()
        name = check.text(input.name, "input.name", max_length=MAX_NAME_LENGTH)
        scopes = _scopes(check, input.scopes)
        days = check.integer(
            DEFAULT_EXPIRES_IN_DAYS if input.expires_in_days is None else input.expires_in_days,
            "input.expiresInDays",
            minimum=1,
            maximum=MAX_EXPIRES_IN_DAYS,
        )
        if not check.ok or name is None or days is None:
            return _create_failed(check.errors)
        spec = _KeySpec(
            name=name,
            scopes=scopes,
            expires_at=ctx.now + timedelta(days=days),
            created_by_id=ctx.principal.user_id,
        )
        async with ctx.db.write() as session:
            row, issued = await _issue(session, spec)
            await audit.record_request(
                session,
                ctx.actor,
                action="api_key.created",
                target_type="ApiKey",
                target_id=row.id,
                details={
                    "name": row.name,
                    "prefix": row.prefix,
                    "scopes": row.scopes,
                    "expires_at": row.expires_at.isoformat(),
                },
            )
        return _created(row, issued)

    @strawberry.mutation(
        description="Replace a key by a new one with the same name, scopes and lifetime, and "
        "revoke the old one, in one step. The payload's `secret` is the only time the new key "
        "is shown. A revoked key cannot be rotated (INVALID_TRANSITION). Admins only "
        "(FORBIDDEN otherwise); audited.",
        permission_classes=[IsAdmin],
    )
    async def rotate_api_key(
        self,
        info: Info,
        id: Annotated[strawberry.ID, strawberry.argument(description="The key to replace.")],
    ) -> CreateApiKeyPayload:
        ctx = info.context
        key_id = _key_id(id)
        if key_id is None:
            return _create_failed(_not_found())
        async with ctx.db.write() as session:
            old = await writes.lock_api_key(session, key_id=key_id)
            if old is None:
                return _create_failed(_not_found())
            if old.revoked_at is not None:
                return _create_failed(
                    [
                        user_error(
                            UserErrorCode.INVALID_TRANSITION,
                            "A revoked key cannot be rotated; create a new one.",
                            "id",
                        )
                    ]
                )
            lifetime = min(
                max(old.expires_at - old.created_at, timedelta(days=1)),
                timedelta(days=MAX_EXPIRES_IN_DAYS),
            )
            spec = _KeySpec(
                name=old.name,
                scopes=list(old.scopes),
                expires_at=ctx.now + lifetime,
                created_by_id=ctx.principal.user_id,
                rotated_from_id=old.id,
            )
            row, issued = await _issue(session, spec)
            await writes.revoke_api_key(session, key_id=old.id, at=ctx.now)
            await audit.record_request(
                session,
                ctx.actor,
                action="api_key.rotated",
                target_type="ApiKey",
                target_id=old.id,
                details={
                    "name": old.name,
                    "prefix": old.prefix,
                    "new_key_id": row.id,
                    "new_prefix": row.prefix,
                    "expires_at": row.expires_at.isoformat(),
                },
            )
        # After the commit: a validation cannot re-cache the old key as valid any more.
        await forget_key(ctx.redis, old.key_hash)
        return _created(row, issued)

    @strawberry.mutation(
        description="Revoke a key: requests with it are UNAUTHENTICATED from now on (within "
        "5 seconds on every server). Revoking a revoked key changes nothing. Admins only "
        "(FORBIDDEN otherwise); audited.",
        permission_classes=[IsAdmin],
    )
    async def revoke_api_key(
        self,
        info: Info,
        id: Annotated[strawberry.ID, strawberry.argument(description="The key to revoke.")],
    ) -> ApiKeyPayload:
        ctx = info.context
        key_id = _key_id(id)
        if key_id is None:
            return ApiKeyPayload(api_key=None, errors=_not_found())
        async with ctx.db.write() as session:
            row = await writes.lock_api_key(session, key_id=key_id)
            if row is None:
                return ApiKeyPayload(api_key=None, errors=_not_found())
            if row.revoked_at is None:
                row = await writes.revoke_api_key(session, key_id=row.id, at=ctx.now)
                await audit.record_request(
                    session,
                    ctx.actor,
                    action="api_key.revoked",
                    target_type="ApiKey",
                    target_id=row.id,
                    details={"name": row.name, "prefix": row.prefix},
                )
        await forget_key(ctx.redis, row.key_hash)
        return ApiKeyPayload(api_key=row, errors=[])  # type: ignore[arg-type]
