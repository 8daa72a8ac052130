"""The account and API key services called directly, without GraphQL (issue 10).

A refused workflow writes nothing (or, for a failed login and a reused refresh token, only
the record of the refusal); an accepted one writes its audit row with the actor's request
id and address.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import redis.asyncio as aioredis
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from graphql_api.core.actor import Actor
from graphql_api.core.auth.api_keys import cache_key
from graphql_api.core.auth.authenticate import PrincipalCache
from graphql_api.core.auth.principal import ANONYMOUS, Principal
from graphql_api.core.config import Settings
from graphql_api.core.db.engine import Database
from graphql_api.core.db.enums import ApiKeyScope, Role
from graphql_api.core.db.models import ApiKey, AuditLog, RefreshToken, User
from graphql_api.core.errors import Rejected, UserErrorCode
from graphql_api.services import accounts, api_keys
from tests.auth_helpers import PASSWORD, make_account

NOW = datetime(2025, 6, 2, 9, 30, tzinfo=UTC)


@pytest.fixture
async def db(settings: Settings) -> AsyncIterator[Database]:
    database = Database(settings)
    try:
        yield database
    finally:
        await database.dispose()


@pytest.fixture
async def redis(redis_url: str) -> AsyncIterator[aioredis.Redis]:
    client = aioredis.Redis.from_url(redis_url)
    try:
        yield client
    finally:
        await client.aclose()


def actor(principal: Principal = ANONYMOUS, now: datetime = NOW) -> Actor:
    return Actor(principal, request_id="req-42", ip="203.0.113.7", now=now)


async def count(engine: AsyncEngine, model: type[Any]) -> int:
    async with engine.connect() as conn:
        return int((await conn.execute(select(func.count()).select_from(model))).scalar_one())


async def audit_log(engine: AsyncEngine) -> list[Any]:
    async with engine.connect() as conn:
        return list((await conn.execute(select(AuditLog).order_by(AuditLog.id))).all())


def codes(refusal: pytest.ExceptionInfo[Rejected]) -> list[tuple[UserErrorCode, str | None]]:
    return [(error.code, error.field) for error in refusal.value.errors]


async def test_a_refused_registration_writes_nothing(
    db: Database, settings: Settings, engine: AsyncEngine
) -> None:
    with pytest.raises(Rejected) as refusal:
        await accounts.register(
            db=db,
            settings=settings,
            actor=actor(),
            email="not-an-email",
            password="short",
            display_name=" ",
        )
    # Every error at once, in input order.
    assert codes(refusal) == [
        (UserErrorCode.INVALID_FORMAT, "input.email"),
        (UserErrorCode.REQUIRED, "input.displayName"),
        (UserErrorCode.WEAK_PASSWORD, "input.password"),
    ]
    assert await count(engine, User) == 0
    assert await audit_log(engine) == []


async def test_registration_signs_in_and_is_audited_with_the_request(
    db: Database, settings: Settings, engine: AsyncEngine
) -> None:
    signed_in = await accounts.register(
        db=db,
        settings=settings,
        actor=actor(),
        email=" Ann@Example.com ",
        password=PASSWORD,
        display_name="Ann",
    )
    assert signed_in.user.email == "ann@example.com"
    assert signed_in.user.role is Role.MEMBER
    assert signed_in.access.expires_at == NOW + timedelta(seconds=settings.access_token_ttl_seconds)
    assert signed_in.refresh.expires_at == NOW + timedelta(
        seconds=settings.refresh_token_ttl_seconds
    )
    assert await count(engine, RefreshToken) == 1
    [row] = await audit_log(engine)
    assert (row.action, row.actor_user_id, row.target_id) == (
        "auth.register",
        signed_in.user.id,
        str(signed_in.user.id),
    )
    assert (row.request_id, row.ip) == ("req-42", "203.0.113.7")

    # The same e-mail again: refused by the insert, and nothing more is written.
    with pytest.raises(Rejected) as refusal:
        await accounts.register(
            db=db,
            settings=settings,
            actor=actor(),
            email="ANN@example.com",
            password=PASSWORD,
            display_name="Ann again",
        )
    assert codes(refusal) == [(UserErrorCode.EMAIL_TAKEN, "input.email")]
    assert await count(engine, User) == 1
    assert await count(engine, RefreshToken) == 1
    assert len(await audit_log(engine)) == 1


async def test_create_user_applies_the_same_rules(db: Database, engine: AsyncEngine) -> None:
    with pytest.raises(Rejected) as refusal:
        await accounts.create_user(
            db=db,
            actor=actor(),
            email="root@example.com",
            password=" " * 12,
            display_name="Root",
            role=Role.ADMIN,
        )
    assert codes(refusal) == [(UserErrorCode.REQUIRED, "input.password")]
    assert await count(engine, User) == 0

    user = await accounts.create_user(
        db=db,
        actor=actor(),
        email="Root@Example.com",
        password=PASSWORD,
        display_name="Root",
        role=Role.ADMIN,
    )
    assert (user.email, user.role) == ("root@example.com", Role.ADMIN)
    [row] = await audit_log(engine)
    assert (row.action, row.actor_user_id, row.details) == (
        "user.created",
        None,
        {"via": "cli", "role": "ADMIN"},
    )
    with pytest.raises(Rejected) as refusal:
        await accounts.create_user(
            db=db,
            actor=actor(),
            email="root@example.com",
            password=PASSWORD,
            display_name="Root",
            role=Role.MEMBER,
        )
    assert codes(refusal) == [(UserErrorCode.EMAIL_TAKEN, "input.email")]
    assert await count(engine, User) == 1


def test_new_account_checks_without_a_password() -> None:
    # The CLI checks the e-mail before it prompts for the password.
    account = accounts.check_new_account(email="A@Example.com", display_name="A", password=None)
    assert account == accounts.NewAccount(email="a@example.com", display_name="A")
    with pytest.raises(Rejected) as refusal:
        accounts.check_new_account(email="a@", display_name="A", password=None)
    assert codes(refusal) == [(UserErrorCode.INVALID_FORMAT, "input.email")]


async def test_a_failed_login_records_only_its_refusal(
    db: Database, settings: Settings, engine: AsyncEngine
) -> None:
    user_id, email = await make_account(engine)
    with pytest.raises(Rejected) as refusal:
        await accounts.login(
            db=db, settings=settings, actor=actor(), email=email, password="wrong password"
        )
    assert codes(refusal) == [(UserErrorCode.INVALID_CREDENTIALS, None)]
    assert await count(engine, RefreshToken) == 0
    [row] = await audit_log(engine)
    assert (row.action, row.success, row.target_id, row.details["reason"]) == (
        "auth.login",
        False,
        str(user_id),
        "wrong_password",
    )
    assert (row.request_id, row.ip) == ("req-42", "203.0.113.7")

    # Blank input is refused before any lookup or record.
    with pytest.raises(Rejected) as refusal:
        await accounts.login(db=db, settings=settings, actor=actor(), email=" ", password="")
    assert codes(refusal) == [
        (UserErrorCode.REQUIRED, "input.email"),
        (UserErrorCode.REQUIRED, "input.password"),
    ]
    assert len(await audit_log(engine)) == 1


async def test_login_refresh_and_logout(
    db: Database, settings: Settings, engine: AsyncEngine
) -> None:
    user_id, email = await make_account(engine)
    signed_in = await accounts.login(
        db=db, settings=settings, actor=actor(), email=email.upper(), password=PASSWORD
    )
    assert signed_in.user.id == user_id
    later = NOW + timedelta(minutes=5)
    renewed = await accounts.refresh_session(
        db=db, settings=settings, actor=actor(now=later), refresh_token=signed_in.refresh.token
    )
    assert renewed.refresh.family_id == signed_in.refresh.family_id
    assert renewed.access.expires_at == later + timedelta(seconds=settings.access_token_ttl_seconds)

    # A used token again: the session is revoked (committed) and the caller refused.
    with pytest.raises(Rejected) as refusal:
        await accounts.refresh_session(
            db=db, settings=settings, actor=actor(), refresh_token=signed_in.refresh.token
        )
    assert codes(refusal) == [(UserErrorCode.INVALID_TOKEN, "refreshToken")]
    async with engine.connect() as conn:
        revoked = (await conn.execute(select(RefreshToken.revoked_reason))).scalars().all()
    assert revoked == ["reuse", "reuse"]
    actions = [(row.action, row.success) for row in await audit_log(engine)]
    assert actions == [("auth.login", True), ("auth.refresh_reuse", False)]

    # Logging out of an unknown session writes nothing; of a known one, its audit row.
    with pytest.raises(Rejected) as refusal:
        await accounts.logout(db=db, actor=actor(), refresh_token="no-such-token")
    assert codes(refusal) == [(UserErrorCode.INVALID_TOKEN, "refreshToken")]
    assert len(await audit_log(engine)) == 2
    again = await accounts.login(
        db=db, settings=settings, actor=actor(), email=email, password=PASSWORD
    )
    ended = await accounts.logout(db=db, actor=actor(), refresh_token=again.refresh.token)
    assert ended.revoked_tokens == 1
    last = (await audit_log(engine))[-1]
    assert (last.action, last.actor_user_id, last.ip) == ("auth.logout", user_id, "203.0.113.7")


async def test_role_changes(db: Database, engine: AsyncEngine) -> None:
    admin_id, _ = await make_account(engine, role=Role.ADMIN)
    member_id, _ = await make_account(engine)
    admin = actor(Principal(user_id=admin_id, role=Role.ADMIN))
    principals = PrincipalCache()
    principals.put(member_id, Principal(user_id=member_id, role=Role.MEMBER))

    for user_id, expected in ((admin_id, "own role"), (10**9, "missing")):
        with pytest.raises(Rejected) as refusal:
            await accounts.set_user_role(
                db=db, actor=admin, principals=principals, user_id=user_id, role=Role.EDITOR
            )
        code = UserErrorCode.INVALID_VALUE if expected == "own role" else UserErrorCode.NOT_FOUND
        assert codes(refusal) == [(code, "userId")]
    assert await audit_log(engine) == []

    user = await accounts.set_user_role(
        db=db, actor=admin, principals=principals, user_id=member_id, role=Role.EDITOR
    )
    assert user.role is Role.EDITOR
    assert principals.get(member_id) == (False, None)
    [row] = await audit_log(engine)
    assert (row.action, row.actor_user_id, row.details) == (
        "user.role_changed",
        admin_id,
        {"old_role": "MEMBER", "new_role": "EDITOR"},
    )
    assert (row.request_id, row.ip) == ("req-42", "203.0.113.7")
    # The same role again changes and records nothing.
    await accounts.set_user_role(
        db=db, actor=admin, principals=principals, user_id=member_id, role=Role.EDITOR
    )
    assert len(await audit_log(engine)) == 1


async def test_api_keys(db: Database, redis: aioredis.Redis, engine: AsyncEngine) -> None:
    admin_id, _ = await make_account(engine, role=Role.ADMIN)
    admin = actor(Principal(user_id=admin_id, role=Role.ADMIN))
    with pytest.raises(Rejected) as refusal:
        await api_keys.create_api_key(db=db, actor=admin, name="", scopes=[], expires_in_days=400)
    assert codes(refusal) == [
        (UserErrorCode.REQUIRED, "input.name"),
        (UserErrorCode.REQUIRED, "input.scopes"),
        (UserErrorCode.OUT_OF_RANGE, "input.expiresInDays"),
    ]
    assert await count(engine, ApiKey) == 0
    assert await audit_log(engine) == []

    issued = await api_keys.create_api_key(
        db=db,
        actor=admin,
        name=" feed ",
        scopes=[ApiKeyScope.PRICES_WRITE, ApiKeyScope.BRIEFINGS_WRITE, ApiKeyScope.PRICES_WRITE],
    )
    assert issued.secret not in repr(issued)
    assert issued.row.name == "feed"
    assert issued.row.scopes == ["briefings:write", "prices:write"]
    assert issued.row.expires_at == NOW + timedelta(days=api_keys.DEFAULT_EXPIRES_IN_DAYS)
    assert issued.row.created_by_id == admin_id
    [row] = await audit_log(engine)
    assert (row.action, row.actor_user_id, row.request_id, row.ip) == (
        "api_key.created",
        admin_id,
        "req-42",
        "203.0.113.7",
    )
    assert issued.secret not in str(row.details)

    await redis.set(cache_key(issued.row.key_hash), b"cached")
    rotated = await api_keys.rotate_api_key(db=db, redis=redis, actor=admin, key_id=issued.row.id)
    assert rotated.row.rotated_from_id == issued.row.id
    assert not await redis.exists(cache_key(issued.row.key_hash))
    # The old key is revoked now: it cannot be rotated again, and nothing is written.
    with pytest.raises(Rejected) as refusal:
        await api_keys.rotate_api_key(db=db, redis=redis, actor=admin, key_id=issued.row.id)
    assert codes(refusal) == [(UserErrorCode.INVALID_TRANSITION, "id")]
    assert await count(engine, ApiKey) == 2
    with pytest.raises(Rejected) as refusal:
        await api_keys.revoke_api_key(db=db, redis=redis, actor=admin, key_id=10**9)
    assert codes(refusal) == [(UserErrorCode.NOT_FOUND, "id")]

    revoked = await api_keys.revoke_api_key(db=db, redis=redis, actor=admin, key_id=rotated.row.id)
    assert revoked.revoked_at == NOW
    assert [row.action for row in await audit_log(engine)] == [
        "api_key.created",
        "api_key.rotated",
        "api_key.revoked",
    ]
    # Revoking a revoked key changes and records nothing.
    await api_keys.revoke_api_key(db=db, redis=redis, actor=admin, key_id=rotated.row.id)
    assert len(await audit_log(engine)) == 3
