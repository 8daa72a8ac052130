"""Pooled SQLAlchemy connections whose server went away are replaced at checkout (issue 14).

The pools run without pre-ping (a round trip per checkout). When PostgreSQL restarts,
asyncpg learns that each connection's socket closed as soon as the event loop sees it, but
SQLAlchemy's pool would still hand such a connection out, and the first statement on each
would fail. Checking asyncpg's own flag at checkout costs an attribute read, no round trip;
a closed connection raises DisconnectionError, on which the pool connects a fresh one.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import event
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.ext.asyncio import AsyncEngine


def _discard_closed(dbapi_connection: Any, record: Any, proxy: Any) -> None:
    raw = getattr(dbapi_connection, "_connection", None)  # the asyncpg Connection
    if raw is not None and raw.is_closed():
        raise DisconnectionError("the server closed this pooled connection")


def replace_closed_connections(*engines: AsyncEngine) -> None:
    for engine in engines:
        if not event.contains(engine.sync_engine, "checkout", _discard_closed):
            event.listen(engine.sync_engine, "checkout", _discard_closed)
