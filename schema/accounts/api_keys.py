"""API keys for services (R8): list, create, rotate, revoke. Admins only (R7).

The workflows are `graphql_api.services.api_keys`. The whole key (the secret) appears once,
in the payload of `createApiKey`/`rotateApiKey`; neither it nor its hash is ever exposed.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Annotated

import strawberry
from redis.exceptions import RedisError

from graphql_api.core.auth.api_keys import flush_last_used
from graphql_api.core.db.enums import ApiKeyScope, Role
from graphql_api.core.db.queries.accounts import AnyUser
from graphql_api.core.db.queries.api_keys import (
    API_KEY_CLASSES,
    AnyApiKey,
    ApiKeyRow,
    list_api_keys,
)
from graphql_api.core.errors import BadUserInput, Rejected
from graphql_api.core.ids import decode_id_of
from graphql_api.services import api_keys
from graphql_api.services.api_keys import (
    DEFAULT_EXPIRES_IN_DAYS,
    MAX_EXPIRES_IN_DAYS,
    MAX_NAME_LENGTH,
)
from loaders import written
from schema.accounts.types import UserType
from schema.cache import Scope, cache_hint
from schema.errors import UserError
from schema.node import register
from schema.payloads import Payload
from schema.permissions import IsAdmin
from schema.types import Info, Node, described_enum, later, node_type

log = logging.getLogger(__name__)

# Describes the domain enum in place (strawberry.enum returns the class it is given), so
# fields annotate `ApiKeyScope` itself.
described_enum(
    ApiKeyScope,
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


# The type refers to itself (`rotatedFrom`): resolved once the module has run.
ApiKeyRef = Annotated["ApiKeyType", strawberry.lazy("schema.accounts.api_keys")]


@cache_hint(Scope.USER)
@node_type(
    "ApiKey",
    API_KEY_CLASSES,
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

    @strawberry.field(description="What the key allows.")
    @staticmethod
    def scopes(root: strawberry.Parent[AnyApiKey]) -> list[ApiKeyScope]:
        known = {scope.value for scope in ApiKeyScope}
        return [ApiKeyScope(scope) for scope in root.scopes if scope in known]

    @strawberry.field(
        description="The admin who created the key; null if that account is gone.",
        graphql_type=UserType | None,
    )
    @staticmethod
    def created_by(root: strawberry.Parent[AnyApiKey], info: Info) -> AnyUser | None:
        if root.created_by_id is None:
            return None
        return later(info.context.loaders.user_by_id.load(root.created_by_id))

    @strawberry.field(
        description="The key this one replaced (`rotateApiKey`); null for a key created anew.",
        graphql_type=ApiKeyRef | None,
    )
    @staticmethod
    def rotated_from(root: strawberry.Parent[AnyApiKey], info: Info) -> AnyApiKey | None:
        if root.rotated_from_id is None:
            return None
        return later(info.context.loaders.api_key_by_id.load(root.rotated_from_id))


@strawberry.input(description="A new API key.")
class CreateApiKeyInput:
    name: str = strawberry.field(
        description=f"What the key is for, 1 to {MAX_NAME_LENGTH} characters."
    )
    scopes: list[ApiKeyScope] = strawberry.field(description="What the key allows; at least one.")
    expires_in_days: int | None = strawberry.field(
        default=DEFAULT_EXPIRES_IN_DAYS,
        description=f"Days until the key expires, 1 to {MAX_EXPIRES_IN_DAYS} "
        f"(default {DEFAULT_EXPIRES_IN_DAYS}; null means the default).",
    )


@strawberry.type(description="Result of creating or rotating an API key.")
class CreateApiKeyPayload(Payload):
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
class ApiKeyPayload(Payload):
    api_key: ApiKeyType | None = strawberry.field(
        description="The key after the change; null when `errors` is not empty."
    )
    errors: list[UserError] = strawberry.field(
        description="Why nothing was changed; empty on success."
    )


def _key_id(global_id: str) -> int | None:
    """The primary key of an ApiKey ID, or None when the ID names no API key."""
    try:
        return decode_id_of(global_id, "ApiKey")
    except BadUserInput:
        return None


@strawberry.type
class ApiKeyQueries:
    @strawberry.field(
        description="Every API key, newest first, revoked and expired ones included. "
        "Admins only (FORBIDDEN otherwise).",
        permission_classes=[IsAdmin],
        graphql_type=list[ApiKeyType],
    )
    @cache_hint(Scope.USER)
    async def api_keys(self, info: Info) -> list[ApiKeyRow]:
        ctx = info.context
        # Bring last-use times up to date first (one UPDATE, none if nothing was used);
        # without Redis the listing still answers, with times up to one flush behind.
        try:
            await flush_last_used(db=ctx.db, redis=ctx.redis)
        except RedisError:
            log.warning("could not flush api key last-use times before listing")
        return await list_api_keys(ctx.db)


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
        try:
            issued = await api_keys.create_api_key(
                db=ctx.db,
                actor=ctx.actor,
                name=input.name,
                scopes=input.scopes,
                expires_in_days=input.expires_in_days,
            )
        except Rejected as refusal:
            return CreateApiKeyPayload.failed(refusal)
        written.refresh(ctx.loaders, issued.row)
        return CreateApiKeyPayload.ok(api_key=issued.row, secret=issued.secret)

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
            return CreateApiKeyPayload.failed([api_keys.key_not_found()])
        try:
            issued = await api_keys.rotate_api_key(
                db=ctx.db, redis=ctx.redis, actor=ctx.actor, key_id=key_id
            )
        except Rejected as refusal:
            return CreateApiKeyPayload.failed(refusal)
        written.refresh(ctx.loaders, issued.row)
        return CreateApiKeyPayload.ok(api_key=issued.row, secret=issued.secret)

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
            return ApiKeyPayload.failed([api_keys.key_not_found()])
        try:
            row = await api_keys.revoke_api_key(
                db=ctx.db, redis=ctx.redis, actor=ctx.actor, key_id=key_id
            )
        except Rejected as refusal:
            return ApiKeyPayload.failed(refusal)
        written.refresh(ctx.loaders, row)
        return ApiKeyPayload.ok(api_key=row)
