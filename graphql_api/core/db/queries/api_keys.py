"""API key reads (R8). Only the key's SHA-256 and its public prefix are stored.

`api_key_by_prefix` (authentication) keeps its ORM session; the API's reads return
`ApiKeyRow`s (graphql_api.core.db.rows), which never carry the key hash.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import any_, select
from sqlalchemy.ext.asyncio import AsyncSession

from graphql_api.core.db.engine import Database
from graphql_api.core.db.models import ApiKey
from graphql_api.core.db.rows import Row, ids_param, prepare


class ApiKeyRow(Row):
    """An API key as reads return it: the columns the API exposes."""

    __slots__ = ()
    id: int
    name: str
    prefix: str
    scopes: list[str]
    created_by_id: int | None
    created_at: datetime
    expires_at: datetime
    revoked_at: datetime | None
    last_used_at: datetime | None
    rotated_from_id: int | None


# What the GraphQL `ApiKey` type resolves from: a read row or, after a write, the ORM instance.
API_KEY_CLASSES = (ApiKey, ApiKeyRow)
AnyApiKey = ApiKey | ApiKeyRow

API_KEY_COLUMNS = tuple(getattr(ApiKey, name) for name in ApiKeyRow.__annotations__)


async def api_key_by_prefix(session: AsyncSession, *, prefix: str) -> ApiKey | None:
    """The key with this public prefix (unique), revoked and expired ones included."""
    result = await session.scalars(select(ApiKey).where(ApiKey.prefix == prefix))
    return result.one_or_none()


_BY_IDS = prepare(select(*API_KEY_COLUMNS).where(ApiKey.id == any_(ids_param("ids"))), ApiKeyRow)


async def api_keys_by_ids(db: Database, *, ids: Sequence[int]) -> list[ApiKeyRow]:
    return await db.fetch(_BY_IDS, ids=ids)


_ALL = prepare(
    select(*API_KEY_COLUMNS).order_by(ApiKey.created_at.desc(), ApiKey.id.desc()), ApiKeyRow
)


async def list_api_keys(db: Database) -> list[ApiKeyRow]:
    """Every key, newest first (revoked and expired ones too: they are history)."""
    return await db.fetch(_ALL)
