"""The query cache: rows of chosen reads kept in process, never stale (issue 12, R15).

The domain caches R15 names (the glossary, the briefing of the day with its related cases
and terms, security prices) are reads whose statements say `prepare(..., cached=True)`.
`Database.fetch` hands those here. Unlike the response cache, one entry serves every
document and every caller that runs the same statement with the same parameters (the
statements are below the permission checks, which run on the rows in resolvers).

An entry holds the rows and the tags the statement read with those parameters
(core/db/touched.py), and is invalidated like the response cache's (core/tagged.py): a
write here drops it at once, a write elsewhere is seen by the request's shared-generation
read and the entry's tags in Redis. A fetch racing a write does not store. Only inside a
request (`core.tags.request_generation` set): elsewhere (subscriptions' events, the CLI)
reads go to the database.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

from graphql_api.core.changes import Changes
from graphql_api.core.db.rows import Query, Row
from graphql_api.core.tagged import SharedCheck, TaggedEntries
from graphql_api.core.tags import record, request_generation

log = logging.getLogger(__name__)

R = TypeVar("R", bound=Row)
Key = tuple[Query[Any], tuple[tuple[str, Any], ...]]
Load = Callable[[Query[R], Mapping[str, Any]], Awaitable[list[R]]]

DEFAULT_MAX_ROWS = 50_000
DEFAULT_MAX_AGE_SECONDS = 60.0


@dataclass(slots=True)
class Held:
    rows: list[Any]
    tags: frozenset[str]
    read_at: int
    checked_at: int
    # Rows, at least 1: the bound counts rows.
    size: int
    # time.monotonic() after which it is not served: the safety net for writes no tag
    # sees (SQL by hand).
    expires_at: float


def _key(query: Query[Any], params: Mapping[str, Any]) -> Key | None:
    """Hashable parameters (lists as tuples); None when some value is not hashable."""
    items = []
    for name, value in sorted(params.items()):
        if isinstance(value, list | tuple):
            value = tuple(value)
        try:
            hash(value)
        except TypeError:
            return None
        items.append((name, value))
    return query, tuple(items)


class QueryCache:
    def __init__(
        self,
        changes: Changes,
        *,
        max_rows: int = DEFAULT_MAX_ROWS,
        max_age_seconds: float = DEFAULT_MAX_AGE_SECONDS,
    ) -> None:
        self._changes = changes
        self.max_age_seconds = max_age_seconds
        # Redis's view (set when the app connects Redis; alone, only local writes count).
        self.shared = SharedCheck()
        self._entries: TaggedEntries[Key, Held] = TaggedEntries(max_rows)
        self.hits = 0
        self.misses = 0
        self.stores = 0
        self.bypasses = 0
        changes.listen(self._entries.invalidate)

    def __len__(self) -> int:
        return len(self._entries)

    def counters(self) -> dict[str, int]:
        return {
            "hits": self.hits,
            "misses": self.misses,
            "stores": self.stores,
            "invalidations": self._entries.invalidations,
            "evictions": self._entries.evictions,
            "bypasses": self.bypasses,
            "entries": len(self._entries),
            "rows": self._entries.size,
        }

    async def fetch(self, query: Query[R], params: Mapping[str, Any], load: Load[R]) -> list[R]:
        key = _key(query, params) if request_generation.get() is not None else None
        shared = None if key is None else await self.shared.current()
        if key is None or shared is None:
            self.bypasses += 1
            return await load(query, params)
        held = self._entries.get(key)
        if held is not None and time.monotonic() > held.expires_at:
            self._entries.drop(key)
            held = None
        if held is not None:
            unmoved = await self.shared.unmoved(held, shared)
            if unmoved:
                self.hits += 1
                self._entries.touch(key)
                # A cached response built from these rows depends on what they read.
                record(held.tags)
                return list(held.rows)
            if unmoved is None:
                self.bypasses += 1
                return await load(query, params)
            self._entries.stale(key, held)
        local = self._changes.generation
        rows = await load(query, params)
        self.misses += 1
        tags = query.tags.of(params, len(rows))
        # A write here that moved what it read, after it started: not stored.
        if self._changes.moved_since(tags, local):
            return rows
        expires_at = time.monotonic() + self.max_age_seconds
        held = Held(list(rows), tags, shared, shared, max(1, len(rows)), expires_at)
        if self._entries.put(key, held):
            self.stores += 1
        return rows


async def warm(calls: Callable[[], Awaitable[object]]) -> None:
    """Run `calls` as a request would, so what they read through cached statements is
    kept (the glossary at start-up); a failure is logged, not raised."""
    token = request_generation.set([None])
    try:
        await calls()
    except Exception:  # the server starts anyway; the first request reads the database
        log.warning("query cache: warming failed", exc_info=True)
    finally:
        request_generation.reset(token)
