"""Engines and session factories: a writer, and an optional read replica for queries."""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any, TypeVar

from sqlalchemy import event, text
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.orm import ORMExecuteState, Session, UOWTransaction

from graphql_api.core.changes import Announcer, Changes
from graphql_api.core.config import Settings
from graphql_api.core.db.query_cache import QueryCache
from graphql_api.core.db.rows import (
    Query,
    Row,
    RowReader,
    StatementListener,
    read_settings,
    statement_counter,
)
from graphql_api.core.db.touched import changed_tags, flushed_tags
from graphql_api.core.events import Publisher, take_pending
from graphql_api.core.tags import EVERYTHING, record

__all__ = ["Database", "statement_counter"]

log = logging.getLogger("graphql_api.sql")

R = TypeVar("R", bound=Row)


def _install_statement_counter(engine: Engine) -> None:
    @event.listens_for(engine, "before_cursor_execute")
    def _count(conn: Connection, cursor: Any, statement: str, params: Any, context: Any,
               executemany: bool) -> None:  # fmt: skip
        counter = statement_counter.get()
        if counter is not None:
            counter[0] += 1


def _install_slow_query_log(engine: Engine, threshold_ms: int) -> None:
    @event.listens_for(engine, "before_cursor_execute")
    def _start(
        conn: Connection, cursor: Any, statement: str, params: Any, context: Any, executemany: bool
    ) -> None:
        conn.info.setdefault("query_start", []).append(time.perf_counter())

    @event.listens_for(engine, "after_cursor_execute")
    def _end(
        conn: Connection, cursor: Any, statement: str, params: Any, context: Any, executemany: bool
    ) -> None:
        elapsed_ms = (time.perf_counter() - conn.info["query_start"].pop()) * 1000
        if elapsed_ms >= threshold_ms:
            # Parameters are left out on purpose: they may hold secrets or personal data.
            log.warning(
                "slow query",
                extra={"duration_ms": round(elapsed_ms, 1), "statement": statement[:2000]},
            )


_CHANGED = "changed"


class _WriteSession(Session):
    """The writer's session: collects the tags its transaction moved (see write())."""


def _changed(session: Session) -> set[str]:
    tags: set[str] = session.info.setdefault(_CHANGED, set())
    return tags


@event.listens_for(_WriteSession, "after_flush")
def _flushed(session: Session, flush_context: UOWTransaction) -> None:
    _changed(session).update(flushed_tags(session))


@event.listens_for(_WriteSession, "do_orm_execute")
def _executed(state: ORMExecuteState) -> None:
    # INSERT/UPDATE/DELETE statements, and anything that is not a plain SELECT (text(),
    # functions), which moves every tag.
    if not state.is_select:
        _changed(state.session).update(changed_tags(state.statement))


def _engine(url: str, settings: Settings, *, read_only: bool = False) -> AsyncEngine:
    # No pre-ping: it costs a round trip per checkout; a dead connection raises a
    # disconnect error instead, which invalidates the pool, and recycling bounds its age.
    options: dict[str, Any] = {}
    # Writes get their own, longer statement_timeout; every statement also has a client-side
    # timeout a little past it (a frozen server cannot enforce its own), and connecting and
    # waiting for a pooled connection are bounded (issue 14).
    connect_args: dict[str, Any] = {
        "server_settings": {
            "application_name": "graphql-api",
            "statement_timeout": str(settings.write_statement_timeout_ms),
        },
        "command_timeout": settings.write_statement_timeout_ms / 1000 + 1,
        "timeout": settings.db_connect_timeout_seconds,
    }
    if read_only:
        # Reads run in autocommit: no BEGIN/ROLLBACK round trips around each statement,
        # and no reset on return because no transaction is ever left open.
        options = {"isolation_level": "AUTOCOMMIT", "pool_reset_on_return": None}
        connect_args = {
            "server_settings": read_settings(settings.statement_timeout_ms),
            "command_timeout": settings.statement_timeout_ms / 1000 + 1,
            "timeout": settings.db_connect_timeout_seconds,
        }
    engine = create_async_engine(
        url,
        pool_size=settings.db_pool_size,
        max_overflow=settings.db_max_overflow,
        pool_recycle=1800,
        pool_timeout=settings.db_pool_timeout_seconds,
        connect_args=connect_args,
        **options,
    )
    _install_slow_query_log(engine.sync_engine, settings.slow_query_ms)
    _install_statement_counter(engine.sync_engine)
    return engine


class Database:
    """The request-independent database handles; sessions are short-lived and never shared."""

    def __init__(self, settings: Settings, *, url: str | None = None) -> None:
        write_url = url or settings.database_url
        if write_url is None:
            raise ValueError("a database URL is required")
        self.engine = _engine(write_url, settings)
        # An explicit url (tests) means one database for both roles.
        read_url = (settings.database_read_url if url is None else None) or write_url
        self.read_engine = _engine(read_url, settings, read_only=True)
        # The lean read path (graphql_api.core.db.rows): same server as the read engine.
        self._rows = RowReader(
            read_url,
            pool_size=settings.db_pool_size,
            slow_query_ms=settings.slow_query_ms,
            statement_timeout_ms=settings.statement_timeout_ms,
            connect_timeout_seconds=settings.db_connect_timeout_seconds,
        )
        # Set by the app once Redis is up; None publishes nothing (CLI, seed).
        self.publisher: Publisher | None = None
        # The data generation caches compare (core/changes.py), moved after every commit
        # that changed anything; `announce` (set by the app) tells the other instances.
        self.changes = Changes()
        self.announce: Announcer | None = None
        # Rows of the reads prepared with `cached=True` (core/db/query_cache.py).
        self.query_cache = (
            QueryCache(
                self.changes,
                max_rows=settings.query_cache_max_rows,
                max_age_seconds=settings.query_cache_max_age_seconds,
            )
            if settings.query_cache
            else None
        )
        self._writer = async_sessionmaker(
            self.engine, expire_on_commit=False, sync_session_class=_WriteSession
        )
        self._reader = async_sessionmaker(self.read_engine, expire_on_commit=False)

    def engines(self) -> tuple[AsyncEngine, ...]:
        return (
            (self.engine,) if self.read_engine is self.engine else (self.engine, self.read_engine)
        )

    @asynccontextmanager
    async def read(self) -> AsyncIterator[AsyncSession]:
        """A session for one batch of reads (one DataLoader batch or one list query)."""
        # Nothing tells what an ORM read reads: a cached run using one depends on everything.
        record((EVERYTHING,))
        async with self._reader() as session:
            yield session

    async def fetch(self, query: Query[R], /, **params: Any) -> list[R]:
        """Rows of a prepared read (`graphql_api.core.db.rows.prepare`), parameters by name."""
        if query.cached and self.query_cache is not None:
            return await self.query_cache.fetch(query, params, self._rows.fetch)
        return await self._rows.fetch(query, params)

    async def fetch_one(self, query: Query[R], /, **params: Any) -> R | None:
        """The first row of a prepared read, or None."""
        rows = await self.fetch(query, **params)
        return rows[0] if rows else None

    def add_statement_listener(self, listener: StatementListener) -> None:
        """Call `listener(sql)` before each lean-path statement (tests count statements)."""
        self._rows.listeners.append(listener)

    def remove_statement_listener(self, listener: StatementListener) -> None:
        self._rows.listeners.remove(listener)

    @asynccontextmanager
    async def write(self) -> AsyncIterator[AsyncSession]:
        """A session in a transaction: committed when the block ends, rolled back on error.

        Events queued with `graphql_api.core.events.emit` are published after the commit.
        A transaction that changed anything moves the tags it changed (core/tags.py) here
        first (no await between the COMMIT and the bump, so no read in this process can
        store a result that predates it afterwards), then in Redis and to the other
        instances before the block returns (core/changes.py).
        """
        async with self._writer() as session:
            async with session.begin():
                yield session
            changed: set[str] = session.info.pop(_CHANGED, set())
            if changed:
                self.changes.bump(changed)
            pending = take_pending(session)
        if changed and self.announce is not None:
            try:
                await self.announce(changed)
            except Exception:  # committed; a lost announcement must not undo the write
                log.exception("could not announce a data change")
        for topic, payload in pending:
            if self.publisher is None:
                continue
            try:
                await self.publisher(topic, payload)
            except Exception:  # the write is committed; losing the event must not undo it
                log.exception("could not publish event %s", topic)

    async def ping(self) -> None:
        for engine in self.engines():
            async with engine.connect() as conn:
                await conn.execute(text("SELECT 1"))

    async def dispose(self) -> None:
        await self._rows.close()
        for engine in self.engines():
            await engine.dispose()
