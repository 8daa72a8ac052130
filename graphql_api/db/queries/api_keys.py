"""API key reads (R8). Only the key's SHA-256 and its public prefix are stored."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from graphql_api.db.models import ApiKey


async def api_key_by_prefix(session: AsyncSession, *, prefix: str) -> ApiKey | None:
    """The key with this public prefix (unique), revoked and expired ones included."""
    result = await session.scalars(select(ApiKey).where(ApiKey.prefix == prefix))
    return result.one_or_none()


async def api_keys_by_ids(session: AsyncSession, *, ids: Sequence[int]) -> list[ApiKey]:
    return list((await session.scalars(select(ApiKey).where(ApiKey.id.in_(ids)))).all())


async def list_api_keys(session: AsyncSession) -> list[ApiKey]:
    """Every key, newest first (revoked and expired ones too: they are history)."""
    stmt = select(ApiKey).order_by(ApiKey.created_at.desc(), ApiKey.id.desc())
    return list((await session.scalars(stmt)).all())
