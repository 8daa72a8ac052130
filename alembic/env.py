"""Alembic environment: async engine, URL from the caller or from Settings.

Resolution order for the database:
1. ``config.attributes["connection"]``: a sync ``Connection`` lent by a caller that already
   holds one (``await async_conn.run_sync(...)``); migrations run on it, in its transaction.
2. ``config.attributes["url"]``: set by ``graphql_api.core.db.migrate``.
3. ``Settings.from_env().database_url`` (``DATABASE_URL``), for the plain ``alembic`` CLI.
"""

from __future__ import annotations

import asyncio
from logging.config import fileConfig
from typing import Any

from alembic import context
from sqlalchemy import func, pool, select
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import create_async_engine

from graphql_api.core.config import Settings
from graphql_api.core.db.migrate import COMPARE_OPTIONS, MIGRATION_LOCK_KEY
from graphql_api.core.db.models import Base

config = context.config
target_metadata = Base.metadata

# Only the plain `alembic` CLI configures logging from the ini; an application calling
# through graphql_api.core.db.migrate keeps its own logging setup.
if config.config_file_name is not None and config.attributes.get("configure_logging", True):
    fileConfig(config.config_file_name, disable_existing_loggers=False)


def _database_url() -> str:
    url = config.attributes.get("url")
    if url:
        return str(url)
    url = Settings.from_env().database_url
    if url:
        return url
    raise SystemExit(
        "alembic: no database URL. Set DATABASE_URL=postgresql+asyncpg://... (and REDIS_URL), "
        "or run migrations through `graphql-api migrate` / graphql_api.core.db.migrate, which pass "
        "the URL of the embedded database."
    )


def _configure(**kwargs: Any) -> None:
    context.configure(target_metadata=target_metadata, **COMPARE_OPTIONS, **kwargs)


def run_migrations_offline() -> None:
    """Emit SQL to stdout (``alembic upgrade head --sql``) without connecting."""
    _configure(url=_database_url(), literal_binds=True, dialect_opts={"paramstyle": "named"})
    with context.begin_transaction():
        context.run_migrations()


def _run_sync_migrations(connection: Connection) -> None:
    _configure(connection=connection)
    with context.begin_transaction():
        # Taken inside the migration transaction, before Alembic reads the current version,
        # so a second replica waits and then finds nothing left to do.
        connection.execute(select(func.pg_advisory_xact_lock(MIGRATION_LOCK_KEY)))
        context.run_migrations()


async def _run_async_migrations() -> None:
    # NullPool: a migration run is one short-lived connection; nothing should linger after.
    engine = create_async_engine(_database_url(), poolclass=pool.NullPool)
    try:
        async with engine.connect() as connection:
            await connection.run_sync(_run_sync_migrations)
            await connection.commit()
    finally:
        await engine.dispose()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is None:
        # Alembic commands are synchronous; graphql_api.core.db.migrate calls them from a worker
        # thread, so this asyncio.run never collides with the caller's running loop.
        asyncio.run(_run_async_migrations())
    elif isinstance(connection, Connection):
        _run_sync_migrations(connection)
    else:
        raise TypeError(
            'config.attributes["connection"] must be a sync Connection; from an '
            "AsyncConnection pass it via `await conn.run_sync(fn)` and use the argument"
        )


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
