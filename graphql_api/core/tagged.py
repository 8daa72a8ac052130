"""What the caches that invalidate by entity tags share (core/tags.py, core/changes.py).

`TaggedEntries`: entries that remember the tags they read, bounded by a size (LRU), with
an index tag -> keys so a write drops exactly the entries holding its tags.
`SharedCheck`: whether an entry is still good after writes on other instances, read from
Redis: the shared generation (one GET per request), and when it moved since the entry was
last checked, the entry's tags (one HMGET): good only if none moved after it was read.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Hashable, Iterable, Iterator
from dataclasses import dataclass
from typing import Generic, Protocol, TypeVar

from graphql_api.core.changes import SharedGeneration, SharedTags
from graphql_api.core.tags import EVERYTHING, request_generation


class Tagged(Protocol):
    # What the entry read, and the shared generation read before it was read.
    tags: frozenset[str]
    read_at: int
    # The shared generation at which none of its tags had moved since `read_at`.
    checked_at: int
    # What it counts against the bound.
    size: int


K = TypeVar("K", bound=Hashable)
E = TypeVar("E", bound=Tagged)


class TaggedEntries(Generic[K, E]):
    def __init__(self, max_size: int) -> None:
        self.max_size = max_size
        self.size = 0
        self.evictions = 0
        # Entries dropped because a write moved one of their tags.
        self.invalidations = 0
        self._entries: OrderedDict[K, E] = OrderedDict()
        self._tagged: dict[str, set[K]] = {}

    def __len__(self) -> int:
        return len(self._entries)

    def __iter__(self) -> Iterator[K]:
        return iter(self._entries)

    def get(self, key: K) -> E | None:
        return self._entries.get(key)

    def touch(self, key: K) -> None:
        if key in self._entries:
            self._entries.move_to_end(key)

    def put(self, key: K, entry: E) -> bool:
        """Keep `entry` (least recently used ones make room); False if it is too big."""
        if entry.size > self.max_size:
            return False
        self.drop(key)
        self._entries[key] = entry
        for tag in entry.tags:
            self._tagged.setdefault(tag, set()).add(key)
        self.size += entry.size
        while self.size > self.max_size:
            self.drop(next(iter(self._entries)))
            self.evictions += 1
        return True

    def drop(self, key: K) -> bool:
        entry = self._entries.pop(key, None)
        if entry is None:
            return False
        self.size -= entry.size
        for tag in entry.tags:
            keys = self._tagged.get(tag)
            if keys is not None:
                keys.discard(key)
                if not keys:
                    del self._tagged[tag]
        return True

    def stale(self, key: K, entry: E) -> None:
        """Drop `entry`, found stale, if it is still the one held under `key`."""
        if self._entries.get(key) is entry:
            self.drop(key)
            self.invalidations += 1

    def invalidate(self, tags: frozenset[str]) -> None:
        """Drop the entries that read any of `tags` (a committed write moved them)."""
        if EVERYTHING in tags:
            self.invalidations += len(self._entries)
            self._entries.clear()
            self._tagged.clear()
            self.size = 0
            return
        for tag in tags:
            for key in self._tagged.pop(tag, ()):
                if self.drop(key):
                    self.invalidations += 1


@dataclass(frozen=True, slots=True)
class SharedCheck:
    """Redis's view of the tags; both None: one instance alone, only local writes count."""

    generation: SharedGeneration | None = None
    tags: SharedTags | None = None

    async def current(self) -> int | None:
        """The shared generation for this request: read once per request (the request
        overlaps any write that returns after that), None when Redis cannot say."""
        if self.generation is None:
            return 0
        memo = request_generation.get()
        if memo is not None and memo[0] is not None:
            return memo[0]
        shared = await self.generation()
        if memo is not None:
            memo[0] = shared
        return shared

    async def unmoved(self, entry: Tagged, shared: int) -> bool | None:
        """Whether `entry` is still good at shared generation `shared` (None: Redis cannot
        say); when it is, it is not asked again until something is written somewhere."""
        if entry.checked_at == shared:
            return True
        moved = await self.moved(entry.tags, entry.read_at)
        if moved is None:
            return None
        if moved:
            return False
        entry.checked_at = shared
        return True

    async def moved(self, tags: Iterable[str], read_at: int) -> bool | None:
        """Whether a write anywhere moved any of `tags` (or everything) after shared
        generation `read_at`; None when Redis cannot say."""
        if self.tags is None:
            return False
        generations = await self.tags([EVERYTHING, *tags])
        if generations is None:
            return None
        return any(generation > read_at for generation in generations)
