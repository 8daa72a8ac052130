"""The demo logins (development only). New accounts: graphql_api.services.accounts.

Demo logins: the demo seed's well-known users (admin@, editor@, member@example.com) get the
password `DEMO_PASSWORD`, so a developer can sign in as each role. Only outside production,
and only while the account still has the seed's unusable password hash, so a password set
since is never overwritten.
"""

from __future__ import annotations

from typing import Final

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from graphql_api.core.auth.passwords import UNUSABLE_PASSWORD_HASH, hash_password, verify_password
from graphql_api.core.config import Environment, Settings
from graphql_api.core.db.enums import Role
from graphql_api.core.db.models import User

__all__ = ["DEMO_ACCOUNTS", "DEMO_PASSWORD", "demo_logins", "enable_demo_logins"]

DEMO_PASSWORD: Final = "demo-password"  # noqa: S105  (documented, development only)
DEMO_ACCOUNTS: Final = (
    ("admin@example.com", Role.ADMIN),
    ("editor@example.com", Role.EDITOR),
    ("member@example.com", Role.MEMBER),
)


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
