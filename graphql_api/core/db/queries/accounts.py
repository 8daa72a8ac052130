"""Account reads.

`users_by_ids` keeps the ORM session for the business mutations that check an owner inside
their transaction; reads use `user_rows_by_ids` (graphql_api.core.db.rows).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import any_, select
from sqlalchemy.ext.asyncio import AsyncSession

from graphql_api.core.db.engine import Database
from graphql_api.core.db.enums import Role
from graphql_api.core.db.models import User
from graphql_api.core.db.rows import Row, ids_param, prepare


class UserRow(Row):
    """A user as reads return it: the profile the API exposes (never the password hash)."""

    __slots__ = ()
    id: int
    email: str
    display_name: str
    role: Role
    created_at: datetime


# What the GraphQL `User` type resolves from: a read row or, after a write, the ORM instance.
USER_CLASSES = (User, UserRow)
AnyUser = User | UserRow

USER_COLUMNS = tuple(getattr(User, name) for name in UserRow.__annotations__)


async def users_by_ids(session: AsyncSession, *, ids: Sequence[int]) -> list[User]:
    """ORM instances, for writes that check users inside their own transaction."""
    return list((await session.scalars(select(User).where(User.id.in_(ids)))).all())


_USERS_BY_IDS = prepare(select(*USER_COLUMNS).where(User.id == any_(ids_param("ids"))), UserRow)


async def user_rows_by_ids(db: Database, *, ids: Sequence[int]) -> list[UserRow]:
    return await db.fetch(_USERS_BY_IDS, ids=ids)
