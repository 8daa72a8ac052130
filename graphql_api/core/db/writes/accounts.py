"""Account writes: users and their credentials (R6, R7). Refresh tokens: auth/tokens.py."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from graphql_api.core.db.enums import Role
from graphql_api.core.db.models import User


async def user_by_email(session: AsyncSession, *, email: str) -> User | None:
    """The user with this (already lower-cased) e-mail, active or not."""
    return (await session.scalars(select(User).where(User.email == email))).one_or_none()


async def user_by_id(session: AsyncSession, *, user_id: int) -> User | None:
    return await session.get(User, user_id)


async def insert_user(
    session: AsyncSession,
    *,
    email: str,
    password_hash: str,
    display_name: str,
    role: Role = Role.MEMBER,
) -> User | None:
    """The new user, or None when the e-mail is taken (the unique index decides, race-free)."""
    stmt = (
        insert(User)
        .values(email=email, password_hash=password_hash, display_name=display_name, role=role)
        .on_conflict_do_nothing(index_elements=[User.email])
        .returning(User)
    )
    return (await session.scalars(stmt)).one_or_none()


async def lock_user(session: AsyncSession, *, user_id: int) -> User | None:
    """The row locked FOR UPDATE (concurrent role changes serialise); None if missing."""
    stmt = select(User).where(User.id == user_id).with_for_update()
    result = await session.scalars(stmt, execution_options={"populate_existing": True})
    return result.one_or_none()


async def set_role(session: AsyncSession, *, user_id: int, role: Role) -> User:
    stmt = update(User).where(User.id == user_id).values(role=role).returning(User)
    result = await session.scalars(stmt, execution_options={"populate_existing": True})
    return result.one()


async def record_login(
    session: AsyncSession, *, user_id: int, at: datetime, password_hash: str | None = None
) -> None:
    """Note a successful login; `password_hash` replaces an outdated hash (rehash on login)."""
    values: dict[str, object] = {"last_login_at": at}
    if password_hash is not None:
        values["password_hash"] = password_hash
    await session.execute(update(User).where(User.id == user_id).values(**values))
