"""Announcement writes: create, change, and lock a call for a status transition (R1, R12)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from graphql_api.core.db.models import Announcement


async def lock_announcement(
    session: AsyncSession, *, announcement_id: int, shared: bool = False
) -> Announcement | None:
    """The row locked for the rest of the transaction, or None when it does not exist.

    FOR UPDATE (the default) serialises transitions: of two concurrent publishes the second
    waits and then sees the first one's result. FOR SHARE (`shared`) is for readers that
    must not see the call change under them (an application checks the call is open), and
    lets several of them proceed together.
    """
    stmt = select(Announcement).where(Announcement.id == announcement_id)
    stmt = stmt.with_for_update(read=shared)
    result = await session.scalars(stmt, execution_options={"populate_existing": True})
    return result.one_or_none()


async def insert_announcement(session: AsyncSession, *, values: Mapping[str, Any]) -> Announcement:
    stmt = insert(Announcement).values(**values).returning(Announcement)
    return (await session.scalars(stmt)).one()


async def update_announcement(
    session: AsyncSession, *, announcement_id: int, values: Mapping[str, Any]
) -> Announcement:
    """Apply `values` (column -> new value) and return the fresh row (updated_at too)."""
    stmt = (
        update(Announcement)
        .where(Announcement.id == announcement_id)
        .values(**values)
        .returning(Announcement)
    )
    result = await session.scalars(stmt, execution_options={"populate_existing": True})
    return result.one()
