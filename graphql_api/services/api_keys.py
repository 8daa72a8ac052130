"""API key workflows (R8): create, rotate, revoke. Who may call them is the caller's check.

The whole key (the secret) leaves here once, in `IssuedApiKey.secret`; only its SHA-256 and
its public prefix are stored, and neither the secret nor the hash is ever audited. Each
change is audited in its own transaction (R9). A rotated or revoked key's validation cache
entry is dropped after the commit, so no request can cache the old key as valid again.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Final

from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncSession

from graphql_api.core import audit
from graphql_api.core.actor import Actor
from graphql_api.core.auth.api_keys import IssuedKey, forget_key, generate_key
from graphql_api.core.db.engine import Database
from graphql_api.core.db.enums import ApiKeyScope
from graphql_api.core.db.models import ApiKey
from graphql_api.core.db.writes import api_keys as writes
from graphql_api.core.errors import DomainError, Rejected, UserErrorCode
from graphql_api.core.validation import Checks

DEFAULT_EXPIRES_IN_DAYS: Final = 90
MAX_EXPIRES_IN_DAYS: Final = 365
MAX_NAME_LENGTH: Final = 100
# Draws of a fresh prefix before giving up; a clash among 36^8 prefixes is already rare.
_ISSUE_ATTEMPTS: Final = 5


def key_not_found() -> DomainError:
    """Missing, or an ID that names no API key: the same answer."""
    return DomainError(UserErrorCode.NOT_FOUND, "No API key with this ID.", "id")


@dataclass(frozen=True, slots=True)
class IssuedApiKey:
    """A stored key and its whole secret, which is handed out this once."""

    row: ApiKey
    secret: str = field(repr=False)


@dataclass(frozen=True, slots=True)
class _KeySpec:
    name: str
    scopes: list[str]
    expires_at: datetime
    created_by_id: int | None
    rotated_from_id: int | None = None


async def _issue(session: AsyncSession, spec: _KeySpec) -> tuple[ApiKey, IssuedKey]:
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


async def create_api_key(
    *,
    db: Database,
    actor: Actor,
    name: str,
    scopes: Iterable[ApiKeyScope],
    expires_in_days: int | None = None,
) -> IssuedApiKey:
    """A new key for a service (audited as `api_key.created`).

    `expires_in_days` None means `DEFAULT_EXPIRES_IN_DAYS`.
    """
    check = Checks()
    clean_name = check.text(name, "input.name", max_length=MAX_NAME_LENGTH)
    scope_values = sorted({ApiKeyScope(scope).value for scope in scopes})
    if not scope_values:
        check.fail(UserErrorCode.REQUIRED, "Give the key at least one scope.", "input.scopes")
    days = check.integer(
        DEFAULT_EXPIRES_IN_DAYS if expires_in_days is None else expires_in_days,
        "input.expiresInDays",
        minimum=1,
        maximum=MAX_EXPIRES_IN_DAYS,
    )
    check.reject_if_failed()
    assert clean_name is not None
    assert days is not None
    spec = _KeySpec(
        name=clean_name,
        scopes=scope_values,
        expires_at=actor.now + timedelta(days=days),
        created_by_id=actor.principal.user_id,
    )
    async with db.write() as session:
        row, issued = await _issue(session, spec)
        await audit.record_request(
            session,
            actor,
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
    return IssuedApiKey(row=row, secret=issued.raw)


async def rotate_api_key(*, db: Database, redis: Redis, actor: Actor, key_id: int) -> IssuedApiKey:
    """Replace a key by a new one with the same name, scopes and lifetime, and revoke the
    old one, in one transaction (audited as `api_key.rotated`). A revoked key cannot be
    rotated."""
    async with db.write() as session:
        old = await writes.lock_api_key(session, key_id=key_id)
        if old is None:
            raise Rejected(key_not_found())
        if old.revoked_at is not None:
            raise Rejected(
                DomainError(
                    UserErrorCode.INVALID_TRANSITION,
                    "A revoked key cannot be rotated; create a new one.",
                    "id",
                )
            )
        lifetime = min(
            max(old.expires_at - old.created_at, timedelta(days=1)),
            timedelta(days=MAX_EXPIRES_IN_DAYS),
        )
        spec = _KeySpec(
            name=old.name,
            scopes=list(old.scopes),
            expires_at=actor.now + lifetime,
            created_by_id=actor.principal.user_id,
            rotated_from_id=old.id,
        )
        row, issued = await _issue(session, spec)
        await writes.revoke_api_key(session, key_id=old.id, at=actor.now)
        await audit.record_request(
            session,
            actor,
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
    await forget_key(redis, old.key_hash)
    return IssuedApiKey(row=row, secret=issued.raw)


async def revoke_api_key(*, db: Database, redis: Redis, actor: Actor, key_id: int) -> ApiKey:
    """Revoke a key (audited as `api_key.revoked`); revoking a revoked key changes nothing."""
    async with db.write() as session:
        row = await writes.lock_api_key(session, key_id=key_id)
        if row is None:
            raise Rejected(key_not_found())
        if row.revoked_at is None:
            row = await writes.revoke_api_key(session, key_id=row.id, at=actor.now)
            await audit.record_request(
                session,
                actor,
                action="api_key.revoked",
                target_type="ApiKey",
                target_id=row.id,
                details={"name": row.name, "prefix": row.prefix},
            )
    await forget_key(redis, row.key_hash)
    return row
