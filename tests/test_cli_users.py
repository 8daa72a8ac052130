"""`graphql-api create-user` and the demo logins (issue 4 bootstrapping, R6, R9, R20)."""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import itertools
import os
import subprocess
import sys

import httpx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from graphql_api.core.auth.users import (
    DEMO_ACCOUNTS,
    DEMO_PASSWORD,
    demo_logins,
    enable_demo_logins,
)
from graphql_api.core.config import Environment, Settings
from graphql_api.core.db.models import User
from graphql_api.devtools.seed import seed_demo
from graphql_api.face import cli
from tests.auth_helpers import LOGIN, PASSWORD, audit_rows, login
from tests.conftest import TestPostgres
from tests.graphql_client import gql

_seed_databases = itertools.count(1)


def _create_user(
    settings: Settings, *args: str, stdin: str = PASSWORD + "\n"
) -> subprocess.CompletedProcess[str]:
    assert settings.database_url is not None
    assert settings.redis_url is not None
    env = {
        **os.environ,
        "ENV": "test",
        "DATABASE_URL": settings.database_url,
        "REDIS_URL": settings.redis_url,
        "LOG_LEVEL": "WARNING",
    }
    return subprocess.run(
        [sys.executable, "-m", "graphql_api.face.cli", "create-user", *args],
        input=stdin,
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )


async def _run(
    settings: Settings, *args: str, stdin: str = PASSWORD + "\n"
) -> subprocess.CompletedProcess[str]:
    return await asyncio.to_thread(_create_user, settings, *args, stdin=stdin)


async def test_create_first_admin_from_stdin(
    settings: Settings, engine: AsyncEngine, client: httpx.AsyncClient
) -> None:
    result = await _run(
        settings, "--email", "Root@Example.com", "--role", "admin", "--display-name", "Root"
    )
    assert result.returncode == 0, result.stderr
    assert "Created ADMIN user root@example.com" in result.stderr
    assert PASSWORD not in result.stdout + result.stderr
    payload = await login(client, "root@example.com")
    assert payload["user"]["role"] == "ADMIN"
    assert payload["user"]["displayName"] == "Root"
    [row] = await audit_rows(engine, "user.created")
    assert row.details == {"via": "cli", "role": "ADMIN"}


async def test_a_user_created_by_the_cli_moves_the_shared_data_generation(
    settings: Settings, engine: AsyncEngine
) -> None:
    """Running servers' response caches (issue 12) must not keep serving what it changed."""
    import redis.asyncio as aioredis

    from graphql_api.core.changes import SHARED_KEY

    assert settings.redis_url is not None
    redis = aioredis.Redis.from_url(settings.redis_url)
    try:
        before = int(await redis.get(SHARED_KEY) or 0)
        result = await _run(settings, "--email", "gen@example.com", "--role", "member")
        assert result.returncode == 0, result.stderr
        assert int(await redis.get(SHARED_KEY) or 0) == before + 1
        # A refusal writes nothing and moves nothing.
        result = await _run(settings, "--email", "gen@example.com", "--role", "member")
        assert result.returncode != 0
        assert int(await redis.get(SHARED_KEY) or 0) == before + 1
    finally:
        await redis.aclose()


async def test_create_user_refusals(settings: Settings, engine: AsyncEngine) -> None:
    # The password is never an argument.
    result = await _run(settings, "--email", "a@example.com", "--role", "ADMIN", "--password", "x")
    assert result.returncode == 2
    assert "No such option" in result.stderr
    # Password rules apply; nothing is created.
    result = await _run(settings, "--email", "a@example.com", "--role", "ADMIN", stdin="short\n")
    assert result.returncode == 1
    assert "At least 10 characters" in result.stderr
    result = await _run(settings, "--email", "not-an-email", "--role", "MEMBER")
    assert result.returncode == 1
    assert "e-mail" in result.stderr
    result = await _run(settings, "--email", "a@example.com", "--role", "ROOT")
    assert result.returncode == 2
    async with engine.connect() as conn:
        assert (await conn.execute(select(User.id))).first() is None
    # An existing e-mail is refused, not overwritten.
    assert (await _run(settings, "--email", "a@example.com", "--role", "MEMBER")).returncode == 0
    result = await _run(settings, "--email", "A@example.com", "--role", "ADMIN")
    assert result.returncode == 1
    assert "already exists" in result.stderr
    async with engine.connect() as conn:
        roles = (await conn.execute(select(User.role))).scalars().all()
    assert [r.value for r in roles] == ["MEMBER"]


async def test_demo_logins_in_development(
    settings: Settings, engine: AsyncEngine, client: httpx.AsyncClient
) -> None:
    await seed_demo(engine, today=dt.date(2025, 6, 2))
    development = dataclasses.replace(settings, env=Environment.DEVELOPMENT)
    changed = await enable_demo_logins(engine, development)
    assert changed == [email for email, _ in DEMO_ACCOUNTS]
    for email, role in DEMO_ACCOUNTS:
        payload = await login(client, email, DEMO_PASSWORD)
        assert payload["user"]["role"] == role.value
    assert await demo_logins(engine, development) == list(DEMO_ACCOUNTS)
    # Other seeded users still cannot sign in; a second call changes nothing.
    body = await gql(
        client, LOGIN, {"input": {"email": "member@example.com", "password": "demo-passwordX"}}
    )
    assert body["data"]["login"]["errors"][0]["code"] == "INVALID_CREDENTIALS"
    assert await enable_demo_logins(engine, development) == []


async def test_serve_banner_lists_demo_accounts(settings: Settings, engine: AsyncEngine) -> None:
    await seed_demo(engine, today=dt.date(2025, 6, 2))
    development = dataclasses.replace(settings, env=Environment.DEVELOPMENT)
    await enable_demo_logins(engine, development)
    # `serve` calls this from synchronous code (it runs its own event loop).
    accounts = await asyncio.to_thread(cli._demo_accounts, development)
    block = cli._ready_block("127.0.0.1", 8000, None, accounts)
    assert DEMO_PASSWORD in block
    for email, role in DEMO_ACCOUNTS:
        assert f"{role.value:<7} {email}" in block


async def test_no_demo_logins_in_production(
    settings: Settings, engine: AsyncEngine, client: httpx.AsyncClient
) -> None:
    await seed_demo(engine, today=dt.date(2025, 6, 2))
    production = dataclasses.replace(settings, env=Environment.PRODUCTION)
    assert await enable_demo_logins(engine, production) == []
    assert await demo_logins(engine, production) == []
    for email, _ in DEMO_ACCOUNTS:
        body = await gql(client, LOGIN, {"input": {"email": email, "password": DEMO_PASSWORD}})
        assert body["data"]["login"]["errors"][0]["code"] == "INVALID_CREDENTIALS"
    async with engine.connect() as conn:
        hashes = (await conn.execute(select(User.password_hash).distinct())).scalars().all()
    assert hashes == ["!"]


async def test_the_seed_command_moves_the_shared_data_generation(
    pg_server: TestPostgres, redis_url: str
) -> None:
    """`graphql-api seed` bulk-loads outside `Database.write()`; it announces the change
    itself, so running servers' response caches drop their answers (issue 12)."""
    import redis.asyncio as aioredis

    from graphql_api.core.changes import SHARED_KEY

    name = f"seedcli_{next(_seed_databases)}"
    await pg_server.create_database(name)
    redis = aioredis.Redis.from_url(redis_url)
    try:
        before = int(await redis.get(SHARED_KEY) or 0)
        env = {
            **os.environ,
            "ENV": "test",
            "DATABASE_URL": pg_server.url(name),
            "REDIS_URL": redis_url,
            "LOG_LEVEL": "WARNING",
            "JWT_SECRET": "s" * 40,
        }
        result = await asyncio.to_thread(
            subprocess.run,
            [sys.executable, "-m", "graphql_api.face.cli", "seed", "--scale", "1"],
            capture_output=True,
            text=True,
            env=env,
            timeout=300,
            check=False,
        )
        assert result.returncode == 0, result.stderr
        assert int(await redis.get(SHARED_KEY) or 0) == before + 1
    finally:
        await redis.aclose()
        await pg_server.drop_database(name)
