"""Real PostgreSQL and Redis for the whole test session, a fresh database per test.

The cluster and redis-server are started once (graphql_api.devtools.embedded, the same code as
`graphql-api serve`); a template database is migrated once and each test gets its own
clone of it (CREATE DATABASE ... TEMPLATE), so tests never see each other's rows.
"""

from __future__ import annotations

import itertools
import shutil
import tempfile
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import asyncpg
import pytest
import redis.asyncio as aioredis
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from graphql_api.devtools.embedded import PostgresServer, RedisServer, start_postgres, start_redis

TEMPLATE_DB = "graphql_api_template"


class TestPostgres:
    """Handle on the session's throwaway cluster."""

    __test__ = False

    def __init__(self, server: PostgresServer) -> None:
        self.server = server

    def url(self, dbname: str) -> str:
        return self.server.url(dbname)

    def dsn(self, dbname: str) -> str:
        return self.url(dbname).replace("postgresql+asyncpg://", "postgresql://")

    async def create_database(self, name: str, template: str | None = None) -> None:
        conn = await asyncpg.connect(self.dsn("postgres"))
        try:
            # Identifiers cannot be bound parameters; names here are the suite's own constants.
            sql = f'CREATE DATABASE "{name}"'
            if template:
                sql += f' TEMPLATE "{template}"'
            await conn.execute(sql)
        finally:
            await conn.close()

    async def drop_database(self, name: str) -> None:
        conn = await asyncpg.connect(self.dsn("postgres"))
        try:
            await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await conn.close()


@pytest.fixture(scope="session")
def _services_dir() -> Iterator[Path]:
    path = Path(tempfile.mkdtemp(prefix="graphql-api-tests-"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture(scope="session")
def pg_server(_services_dir: Path) -> Iterator[TestPostgres]:
    server = start_postgres(
        data_dir=_services_dir / "postgres",
        cache_dir=_services_dir,
        durable=False,
        log_file=_services_dir / "postgres.log",
    )
    try:
        yield TestPostgres(server)
    finally:
        server.stop()


@pytest.fixture(scope="session")
def redis_server(_services_dir: Path) -> Iterator[RedisServer]:
    server = start_redis(data_dir=_services_dir / "redis", log_file=_services_dir / "redis.log")
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
async def template_db(pg_server: TestPostgres) -> str:
    from graphql_api.core.db.migrate import upgrade

    await pg_server.drop_database(TEMPLATE_DB)
    await pg_server.create_database(TEMPLATE_DB)
    await upgrade(url=pg_server.url(TEMPLATE_DB))
    return TEMPLATE_DB


_db_counter = itertools.count(1)


@pytest.fixture
async def db_url(pg_server: TestPostgres, template_db: str) -> AsyncIterator[str]:
    name = f"test_{next(_db_counter)}"
    await pg_server.create_database(name, template=template_db)
    try:
        yield pg_server.url(name)
    finally:
        await pg_server.drop_database(name)


@pytest.fixture
async def engine(db_url: str) -> AsyncIterator[AsyncEngine]:
    eng = create_async_engine(db_url)
    try:
        yield eng
    finally:
        await eng.dispose()


@pytest.fixture
async def redis_url(redis_server: RedisServer) -> str:
    client = aioredis.Redis.from_url(redis_server.url)
    try:
        await client.flushall()
    finally:
        await client.aclose()
    return redis_server.url


# --- The application under test -------------------------------------------------------

from contextlib import AsyncExitStack, asynccontextmanager  # noqa: E402
from dataclasses import dataclass, field  # noqa: E402
from typing import Any  # noqa: E402

import httpx  # noqa: E402
from sqlalchemy import event  # noqa: E402
from starlette.applications import Starlette  # noqa: E402

from graphql_api.core.auth.principal import Principal  # noqa: E402
from graphql_api.core.config import Environment, Settings  # noqa: E402


@pytest.fixture
def settings(db_url: str, redis_url: str) -> Settings:
    return Settings(
        env=Environment.TEST,
        database_url=db_url,
        redis_url=redis_url,
        jwt_secret="test-secret-" + "x" * 40,
        auto_migrate=False,
        seed_demo_data=False,
        # Tests of other features send bursts a caller's budget would refuse; the limiter
        # has its own tests (tests/test_rate_limit.py) that switch it on.
        rate_limit=False,
        # Likewise the response and query caches (tests/test_response_cache.py and
        # tests/test_query_cache.py switch them on): other tests count statements of
        # repeated reads.
        response_cache=False,
        query_cache=False,
    )


@pytest.fixture
async def app(settings: Settings) -> AsyncIterator[Starlette]:
    from graphql_api.face.app import create_app

    application = create_app(settings)
    async with application.router.lifespan_context(application):
        yield application


@asynccontextmanager
async def two_instances(
    settings: Settings,
) -> AsyncIterator[list[tuple[Starlette, httpx.AsyncClient]]]:
    """Two app instances (each its own caches, limiter and state) sharing PostgreSQL and
    Redis, each with its own client."""
    from graphql_api.face.app import create_app

    pair: list[tuple[Starlette, httpx.AsyncClient]] = []
    async with AsyncExitStack() as stack:
        for _ in range(2):
            application = create_app(settings)
            await stack.enter_async_context(application.router.lifespan_context(application))
            transport = httpx.ASGITransport(app=application)
            http = await stack.enter_async_context(
                httpx.AsyncClient(transport=transport, base_url="http://testserver")
            )
            pair.append((application, http))
        yield pair


def act_as(app: Starlette, principal: Principal) -> None:
    """Make every following request of this app run as `principal` (until auth lands)."""

    async def fixed(request: object) -> Principal:
        return principal

    app.state.authenticate = fixed


@pytest.fixture
async def client(app: Starlette) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        yield http


@dataclass
class StatementCounter:
    """Counts SQL statements the app sends, to prove the number does not grow with N (R14)."""

    statements: list[str] = field(default_factory=list)

    @property
    def count(self) -> int:
        return len(self.statements)

    def reset(self) -> None:
        self.statements.clear()


@pytest.fixture
def sql(app: Starlette) -> Iterator[StatementCounter]:
    """Every statement the app sends: ORM sessions and the lean read path (db.fetch)."""
    counter = StatementCounter()
    db = app.state.db
    engines = [engine.sync_engine for engine in db.engines()]

    def record(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        counter.statements.append(statement)

    for engine in engines:
        event.listen(engine, "before_cursor_execute", record)
    db.add_statement_listener(counter.statements.append)
    try:
        yield counter
    finally:
        db.remove_statement_listener(counter.statements.append)
        for engine in engines:
            event.remove(engine, "before_cursor_execute", record)
