"""The response cache's first level: whole query results, in process (issue 12).

Each document has a cache hint computed once from the fields it selects (its scope: public,
role or user, and its max age; engine/cache_plan.py). The face turns the scope into the part
of the key that says who may share the answer (`CacheRules.key`: nothing for public
documents, the caller's role and API-key scopes, or the caller's identity), so the engine
still knows no principals. Key: that scope key, the sha256 of the query text, the operation
name and the canonical JSON of the variables. Bounded by the bytes of the encoded responses
(LRU); an entry is served for at most the document's max age (or the cache's, if shorter).

Never stale, by entity tags (core/tags.py, core/changes.py):
- a miss runs the query collecting the tags its SQL read (tables, rows by primary key) and
  stores the answer with them and with the shared generation read before it ran;
- a write here drops, synchronously after its COMMIT, exactly the entries holding a tag it
  moved, and a miss racing it does not store (its tags moved after it started); a write on
  another instance does the same here when its DATA_CHANGED event arrives;
- before the event can arrive, a hit reads the shared generation (one GET): unchanged since
  the entry was last checked, it is served; changed, the entry's tags are read from Redis
  (one HMGET) and it is served only if none moved after it was read. So a write on another
  instance is seen as soon as that write has returned. Redis unable to answer: the request
  bypasses the cache.
Concurrent misses on one key run the query once (one future per key and generations).
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any, Final

import orjson
from graphql import ExecutionResult

from graphql_api.core.cache_hints import CacheHint, Scope
from graphql_api.core.changes import Changes
from graphql_api.core.tagged import SharedCheck, TaggedEntries
from graphql_api.core.tags import read_tags

log = logging.getLogger(__name__)

HIT: Final = "HIT"
MISS: Final = "MISS"
BYPASS: Final = "BYPASS"

_TALLY: Final = {HIT: "hits", MISS: "misses", BYPASS: "bypasses"}

# The second level, shared by every instance (Redis): get(key) -> stored bytes or None,
# put(key, value, ttl seconds). Either may raise; the cache then behaves as if it missed.
SharedGet = Callable[[str], Awaitable[bytes | None]]
SharedPut = Callable[[str, bytes, float], Awaitable[None]]
SECOND_LEVEL_PREFIX: Final = "graphql-api:response:"


@dataclass(frozen=True, slots=True)
class SecondLevel:
    get: SharedGet
    put: SharedPut


# A result and its actual cost (objects returned, for `extensions.cost`).
Outcome = tuple[ExecutionResult, int | None]
Run = Callable[[], Awaitable[Outcome]]
# (scope key, sha256 of the query, operation name, canonical JSON of the variables)
Key = tuple[str, str, str | None, bytes]


@dataclass(frozen=True, slots=True)
class CacheRules:
    """What the face decides about a request (the engine knows no principals nor headers)."""

    # Who may share an answer of this scope with the context's caller: a key naming them
    # ("public", the role, the caller), or None: this caller is never cached.
    key: Callable[[Any, Scope], str | None]
    # Whether the client asked for `extensions.cacheStatus`.
    report: Callable[[Any], bool]


@dataclass(slots=True)
class Entry:
    data: dict[str, Any]
    actual_cost: int | None
    # What the run read, and the shared generation read before it ran.
    tags: frozenset[str]
    read_at: int
    # The shared generation at which none of its tags had moved since `read_at`.
    checked_at: int
    size: int
    # time.monotonic() after which the entry is not served.
    expires_at: float


@dataclass(frozen=True, slots=True)
class Served:
    result: ExecutionResult
    actual_cost: int | None
    status: str


def canonical_variables(variables: Mapping[str, Any] | None) -> bytes | None:
    """Sorted-key JSON of the variables; None when they cannot be encoded (then bypass)."""
    try:
        return orjson.dumps(variables or {}, option=orjson.OPT_SORT_KEYS)
    except TypeError:
        return None


class ResponseCache:
    def __init__(
        self,
        *,
        rules: CacheRules,
        changes: Changes,
        shared: SharedCheck,
        max_bytes: int,
        max_age_seconds: float,
        second_level: SecondLevel | None = None,
    ) -> None:
        self.rules = rules
        self._second = second_level
        # The safety net, and the bound on answers that depend on the clock (a call's
        # effective status turns CLOSED when its deadline passes without any write).
        self.max_age_seconds = max_age_seconds
        self._changes = changes
        self._shared = shared
        self._entries: TaggedEntries[Key, Entry] = TaggedEntries(max_bytes)
        self._flights: dict[tuple[Key, int, int], asyncio.Future[Outcome | None]] = {}
        self.hits = 0
        self.misses = 0
        self.stores = 0
        self.bypasses = 0
        # Misses answered by another request's run of the same key (also counted as hits).
        self.coalesced = 0
        # Misses of this level answered by the shared one (also counted as hits).
        self.second_level_hits = 0
        self.second_level_stores = 0
        # Queries per document scope: hits, misses, bypasses (mutations are not counted).
        self._per_scope = {scope: dict.fromkeys(_TALLY.values(), 0) for scope in Scope}
        changes.listen(self._entries.invalidate)

    def __len__(self) -> int:
        return len(self._entries)

    @property
    def max_bytes(self) -> int:
        return self._entries.max_size

    @property
    def held_bytes(self) -> int:
        return self._entries.size

    @property
    def invalidations(self) -> int:
        return self._entries.invalidations

    @property
    def evictions(self) -> int:
        return self._entries.evictions

    def counters(self) -> dict[str, int]:
        return {
            "hits": self.hits,
            "misses": self.misses,
            "stores": self.stores,
            "invalidations": self.invalidations,
            "evictions": self.evictions,
            "bypasses": self.bypasses,
            "coalesced": self.coalesced,
            "secondLevelHits": self.second_level_hits,
            "secondLevelStores": self.second_level_stores,
            "entries": len(self._entries),
            "bytes": self.held_bytes,
        }

    def counters_per_scope(self) -> dict[str, dict[str, int]]:
        """Queries per document scope ("public", "role", "user"): hits, misses, bypasses."""
        return {scope.name.lower(): dict(tally) for scope, tally in self._per_scope.items()}

    async def serve(
        self,
        *,
        context: Any,
        hint: CacheHint | None,
        digest: str,
        operation_name: str | None,
        variables: Mapping[str, Any] | None,
        run: Run,
    ) -> Served:
        """`hint`: the document's (None for mutations and subscriptions: never cached)."""
        served = await self._serve(context, hint, digest, operation_name, variables, run)
        if hint is not None:
            self._per_scope[hint.scope][_TALLY[served.status]] += 1
        return served

    async def _serve(
        self,
        context: Any,
        hint: CacheHint | None,
        digest: str,
        operation_name: str | None,
        variables: Mapping[str, Any] | None,
        run: Run,
    ) -> Served:
        scope = self.rules.key(context, hint.scope) if hint is not None else None
        encoded = canonical_variables(variables) if scope is not None else None
        if hint is None or scope is None or encoded is None:
            return await self._bypass(run)
        # The local generation first: a write committing while Redis answers moves it.
        local = self._changes.generation
        shared = await self._shared.current()
        if shared is None:
            return await self._bypass(run)
        key: Key = (scope, digest, operation_name, encoded)
        entry = self._entries.get(key)
        if entry is not None:
            fresh = await self._fresh(key, entry, shared)
            if fresh is None:
                return await self._bypass(run)
            if fresh:
                self.hits += 1
                return Served(ExecutionResult(entry.data), entry.actual_cost, HIT)
        max_age = self.max_age_seconds
        if hint.max_age is not None:
            max_age = min(max_age, hint.max_age)
        return await self._miss(key, local=local, shared=shared, max_age=max_age, run=run)

    async def _fresh(self, key: Key, entry: Entry, shared: int) -> bool | None:
        """Whether `entry` may be served; None when Redis cannot say (then bypass)."""
        if time.monotonic() > entry.expires_at:
            self._entries.drop(key)
            return False
        unmoved = await self._shared.unmoved(entry, shared)
        if unmoved is None:
            return None
        if not unmoved:
            self._entries.stale(key, entry)
            return False
        self._entries.touch(key)
        return True

    async def _bypass(self, run: Run) -> Served:
        self.bypasses += 1
        result, actual = await run()
        return Served(result, actual, BYPASS)

    async def _miss(self, key: Key, *, local: int, shared: int, max_age: float, run: Run) -> Served:
        flight_key = (key, local, shared)
        flight = self._flights.get(flight_key)
        if flight is not None:
            # Shielded: this request going away must not cancel the others' run.
            shared_outcome = await asyncio.shield(flight)
            if shared_outcome is not None:
                self.hits += 1
                self.coalesced += 1
                result, actual = shared_outcome
                return Served(ExecutionResult(result.data, result.errors), actual, HIT)
            # The first run failed or was cancelled: run it ourselves, uncached.
            return await self._bypass(run)
        flight = asyncio.get_running_loop().create_future()
        self._flights[flight_key] = flight
        outcome: Outcome | None = None
        status = MISS
        read_at = shared
        tags: set[str] = set()
        try:
            stored = await self._second_get(key, shared)
            if stored is not None:
                outcome, max_age, read_at, tags = stored
                status = HIT
            else:
                token = read_tags.set(tags)
                try:
                    outcome = await run()
                finally:
                    read_tags.reset(token)
        finally:
            del self._flights[flight_key]
            flight.set_result(outcome)  # None: the others run it themselves
        result, actual = outcome
        if status == HIT:
            self.hits += 1
            self.second_level_hits += 1
        else:
            self.misses += 1
        # A write here that moved what the run read, after it started: not stored.
        if max_age > 0 and not self._changes.moved_since(tags, local):
            kept = self._store(key, result, actual, frozenset(tags), read_at, shared, max_age)
            if kept is not None and status == MISS:
                await self._second_put(key, *kept, max_age)
        return Served(result, actual, status)

    # --- the second level -----------------------------------------------------------------

    @staticmethod
    def _second_key(key: Key) -> str:
        scope, digest, operation_name, variables = key
        parts = b"\0".join(
            (scope.encode(), digest.encode(), (operation_name or "").encode(), variables)
        )
        return f"{SECOND_LEVEL_PREFIX}{hashlib.sha256(parts).hexdigest()}"

    async def _second_get(
        self, key: Key, shared: int
    ) -> tuple[Outcome, float, int, set[str]] | None:
        """A stored answer none of whose tags moved since it was read: (outcome, seconds
        left, shared generation it was read at, tags)."""
        if self._second is None:
            return None
        try:
            raw = await self._second.get(self._second_key(key))
        except Exception:  # Redis unable to answer: run the query instead
            log.warning("response cache: second level unavailable", exc_info=True)
            return None
        if raw is None:
            return None
        stored = orjson.loads(raw)
        # Wall clock: the instance that stored it set the deadline.
        left = stored["until"] - time.time()
        if left <= 0:
            return None
        read_at: int = stored["readAt"]
        tags: set[str] = set(stored["tags"])
        if read_at != shared and await self._shared.moved(tags, read_at) is not False:
            return None  # written since (or Redis cannot say): run the query
        return (ExecutionResult(stored["data"]), stored["cost"]), left, read_at, tags

    async def _second_put(self, key: Key, data: bytes, entry: Entry, max_age: float) -> None:
        if self._second is None:
            return
        value = b'{"data":%s,"cost":%s,"until":%s,"readAt":%d,"tags":%s}' % (
            data,
            orjson.dumps(entry.actual_cost),
            orjson.dumps(time.time() + max_age),
            entry.read_at,
            orjson.dumps(sorted(entry.tags)),
        )
        try:
            await self._second.put(self._second_key(key), value, max_age)
        except Exception:  # the answer is served anyway; only sharing it failed
            log.warning("response cache: could not store in the second level", exc_info=True)
            return
        self.second_level_stores += 1

    def _store(
        self,
        key: Key,
        result: ExecutionResult,
        actual: int | None,
        tags: frozenset[str],
        read_at: int,
        shared: int,
        max_age: float,
    ) -> tuple[bytes, Entry] | None:
        """Keep a clean answer in this level: its encoding and entry (None: not kept)."""
        # Errors may be passing (a timeout, a failed connection): only clean answers stay.
        if result.errors or result.data is None:
            return None
        encoded = orjson.dumps(result.data)
        expires_at = time.monotonic() + max_age
        entry = Entry(result.data, actual, tags, read_at, shared, len(encoded), expires_at)
        if not self._entries.put(key, entry):
            return None
        self.stores += 1
        return encoded, entry
