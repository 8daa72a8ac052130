"""API key writes (R8): issue, lock, revoke, and the batched last-use update."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime

from sqlalchemy import BigInteger, DateTime, column, func, select, update, values
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from graphql_api.core.db.models import ApiKey


async def insert_api_key(
    session: AsyncSession,
    *,
    name: str,
    prefix: str,
    key_hash: str,
    scopes: Sequence[str],
    created_by_id: int | None,
    expires_at: datetime,
    rotated_from_id: int | None = None,
) -> ApiKey | None:
    """The new row, or None when the prefix (or hash) is taken: the caller draws another key.

    ON CONFLICT DO NOTHING lets the unique indexes decide without aborting the transaction.
    """
    stmt = (
        insert(ApiKey)
        .values(
            name=name,
            prefix=prefix,
            key_hash=key_hash,
            scopes=list(scopes),
            created_by_id=created_by_id,
            expires_at=expires_at,
            rotated_from_id=rotated_from_id,
        )
        .on_conflict_do_nothing()
        .returning(ApiKey)
    )
    return (await session.scalars(stmt)).one_or_none()


async def lock_api_key(session: AsyncSession, *, key_id: int) -> ApiKey | None:
    """The row locked FOR UPDATE, so concurrent rotations and revocations serialise."""
    stmt = select(ApiKey).where(ApiKey.id == key_id).with_for_update()
    result = await session.scalars(stmt, execution_options={"populate_existing": True})
    return result.one_or_none()


async def revoke_api_key(session: AsyncSession, *, key_id: int, at: datetime) -> ApiKey:
    stmt = update(ApiKey).where(ApiKey.id == key_id).values(revoked_at=at).returning(ApiKey)
    result = await session.scalars(stmt, execution_options={"populate_existing": True})
    return result.one()


async def record_last_used(session: AsyncSession, *, used_at: Mapping[int, datetime]) -> int:
    """Set `last_used_at` of many keys in ONE statement, never moving it backwards:

    UPDATE api_keys SET last_used_at = GREATEST(last_used_at, v.ts)
    FROM (VALUES (id, ts), ...) AS v WHERE api_keys.id = v.id
    """
    if not used_at:
        return 0
    batch = values(column("id", BigInteger), column("ts", DateTime(timezone=True)), name="v").data(
        list(used_at.items())
    )
    stmt = (
        update(ApiKey)
        .where(ApiKey.id == batch.c.id)
        .values(last_used_at=func.greatest(ApiKey.last_used_at, batch.c.ts))
    )
    result = await session.execute(stmt)
    return int(getattr(result, "rowcount", 0) or 0)
