"""Account reads."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from graphql_api.db.models import User


async def users_by_ids(session: AsyncSession, *, ids: Sequence[int]) -> list[User]:
    return list((await session.scalars(select(User).where(User.id.in_(ids)))).all())
