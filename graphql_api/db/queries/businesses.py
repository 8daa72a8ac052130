"""Business reads."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from graphql_api.db.models import Business


async def businesses_by_ids(session: AsyncSession, *, ids: Sequence[int]) -> list[Business]:
    return list((await session.scalars(select(Business).where(Business.id.in_(ids)))).all())
