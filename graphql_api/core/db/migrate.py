"""Programmatic Alembic: the one way the CLI, server start-up and tests migrate (R20).

Alembic's commands are synchronous and ``alembic/env.py`` runs its own event loop, so the
coroutines here run them in a worker thread; they are safe to await from a running loop.
"""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path
from typing import Any, Final

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import pool
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import create_async_engine

from graphql_api.core.db.models import Base

# The editable/development layout: graphql_api/core/db/migrate.py -> repository root.
REPO_ROOT: Final = Path(__file__).resolve().parents[3]
ALEMBIC_INI: Final = REPO_ROOT / "alembic.ini"
SCRIPT_LOCATION: Final = REPO_ROOT / "alembic"

# Shared with alembic/env.py so `alembic revision --autogenerate` and autogenerate_diff()
# (the CI drift check) compare the same things.
COMPARE_OPTIONS: Final[dict[str, Any]] = {"compare_type": True, "compare_server_default": True}

# Held (transaction-scoped) by env.py while migrating, so several replicas starting at once
# apply migrations one after another instead of racing on the same DDL.
MIGRATION_LOCK_KEY: Final = 0x6771_6C61_7069_6D67

# alembic.context is a process-wide proxy: two commands in two threads would overwrite each
# other's environment, so commands in this process run one at a time.
_command_lock = threading.Lock()


def _config(url: str | None) -> Config:
    if not ALEMBIC_INI.is_file():
        raise FileNotFoundError(
            f"alembic.ini not found at {ALEMBIC_INI}; migrations run from a source checkout "
            "(pip install -e .)"
        )
    config = Config(str(ALEMBIC_INI))
    config.set_main_option("script_location", str(SCRIPT_LOCATION))
    # The URL travels in attributes, not the ini options, so '%' in a password needs no
    # escaping and the URL never appears in a rendered config.
    if url is not None:
        config.attributes["url"] = url
    # The host application owns logging; env.py must not reconfigure it from the ini file.
    config.attributes["configure_logging"] = False
    return config


def alembic_config(url: str) -> Config:
    """An Alembic ``Config`` for this repository's migrations against ``url``, from any cwd."""
    return _config(url)


def _run_command(fn: Any, *args: Any, **kwargs: Any) -> None:
    with _command_lock:
        fn(*args, **kwargs)


async def upgrade(*, url: str, revision: str = "head") -> None:
    """Migrate the database at ``url`` up to ``revision``."""
    await asyncio.to_thread(_run_command, command.upgrade, alembic_config(url), revision)


async def downgrade(*, url: str, revision: str) -> None:
    """Migrate the database at ``url`` down to ``revision`` (``"base"`` drops everything)."""
    await asyncio.to_thread(_run_command, command.downgrade, alembic_config(url), revision)


def heads() -> list[str]:
    """The head revisions of the migration scripts; exactly one is the healthy state."""
    return list(ScriptDirectory.from_config(_config(None)).get_heads())


def _current(connection: Connection) -> list[str]:
    return list(MigrationContext.configure(connection).get_current_heads())


async def current(*, url: str) -> list[str]:
    """The revisions the database at ``url`` is at (empty when never migrated)."""
    engine = create_async_engine(url, poolclass=pool.NullPool)
    try:
        async with engine.connect() as connection:
            return await connection.run_sync(_current)
    finally:
        await engine.dispose()


def _compare(connection: Connection) -> list[Any]:
    context = MigrationContext.configure(
        connection, opts={"target_metadata": Base.metadata, **COMPARE_OPTIONS}
    )
    return list(compare_metadata(context, Base.metadata))


async def autogenerate_diff(*, url: str) -> list[Any]:
    """Differences between the models and the (migrated) database at ``url``.

    An empty list means the migrations produce exactly the schema the models declare.
    """
    engine = create_async_engine(url, poolclass=pool.NullPool)
    try:
        async with engine.connect() as connection:
            return await connection.run_sync(_compare)
    finally:
        await engine.dispose()
