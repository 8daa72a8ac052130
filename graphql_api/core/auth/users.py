"""Accounts made outside the API: the first admin (CLI) and the demo logins (development).

Demo logins: the demo seed's well-known users (admin@, editor@, member@example.com) get the
password `DEMO_PASSWORD`, so a developer can sign in as each role. Only outside production,
and only while the account still has the seed's unusable password hash, so a password set
since is never overwritten.
"""

from __future__ import annotations

from typing import Final

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from graphql_api.core import audit
from graphql_api.core.auth.passwords import (
    UNUSABLE_PASSWORD_HASH,
    hash_password,
    password_problem,
    verify_password,
)
from graphql_api.core.config import Environment, Settings
from graphql_api.core.db.enums import Role
from graphql_api.core.db.models import User
from graphql_api.core.db.writes.accounts import insert_user

__all__ = [
    "DEMO_ACCOUNTS",
    "DEMO_PASSWORD",
    "UserCreationError",
    "create_user",
    "demo_logins",
    "enable_demo_logins",
    "password_problem",
]

DEMO_PASSWORD: Final = "demo-password"  # noqa: S105  (documented, development only)
DEMO_ACCOUNTS: Final = (
    ("admin@example.com", Role.ADMIN),
    ("editor@example.com", Role.EDITOR),
    ("member@example.com", Role.MEMBER),
)


class UserCreationError(ValueError):
    """The user cannot be created; the message says why (and never holds the password)."""


async def create_user(
    engine: AsyncEngine, *, email: str, password: str, role: Role, display_name: str
) -> User:
    """Create an active user (audited as `user.created`); `email` is already validated."""
    problem = password_problem(password)
    if problem is not None:
        raise UserCreationError(f"password: {problem}")
    password_hash = await hash_password(password)
    sessions = async_sessionmaker(engine, expire_on_commit=False)
    async with sessions() as session, session.begin():
        user = await insert_user(
            session,
            email=email.lower(),
            password_hash=password_hash,
            display_name=display_name,
            role=role,
        )
        if user is None:
            raise UserCreationError(f"a user with the e-mail {email.lower()} already exists")
        await audit.record(
            session,
            action="user.created",
            actor=None,
            target_type="User",
            target_id=user.id,
            details={"via": "cli", "role": role.value},
        )
    return user


def _demo_allowed(settings: Settings) -> bool:
    return settings.env is not Environment.PRODUCTION


async def enable_demo_logins(engine: AsyncEngine, settings: Settings) -> list[str]:
    """Give the seed's demo users the demo password; returns the e-mails changed."""
    if not _demo_allowed(settings):
        return []
    changed: list[str] = []
    sessions = async_sessionmaker(engine, expire_on_commit=False)
    async with sessions() as session, session.begin():
        for email, role in DEMO_ACCOUNTS:
            result = await session.execute(
                update(User)
                .where(
                    User.email == email,
                    User.role == role,
                    User.password_hash == UNUSABLE_PASSWORD_HASH,
                )
                .values(password_hash=await hash_password(DEMO_PASSWORD))
                .returning(User.id)
            )
            if result.first() is not None:
                changed.append(email)
    return changed


async def demo_logins(engine: AsyncEngine, settings: Settings) -> list[tuple[str, Role]]:
    """Demo accounts that can sign in with `DEMO_PASSWORD` now (none in production)."""
    if not _demo_allowed(settings):
        return []
    sessions = async_sessionmaker(engine, expire_on_commit=False)
    async with sessions() as session:
        return await _usable_demo_accounts(session)


async def _usable_demo_accounts(session: AsyncSession) -> list[tuple[str, Role]]:
    emails = [email for email, _ in DEMO_ACCOUNTS]
    rows = (
        await session.execute(
            select(User.email, User.role, User.password_hash).where(
                User.email.in_(emails), User.is_active.is_(True)
            )
        )
    ).all()
    usable = [
        (row.email, row.role)
        for row in rows
        if await verify_password(row.password_hash, DEMO_PASSWORD)
    ]
    order = {email: index for index, email in enumerate(emails)}
    return sorted(usable, key=lambda item: order[item[0]])
