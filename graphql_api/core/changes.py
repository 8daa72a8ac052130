"""Data generations and entity tags: how caches learn that a committed write changed what they hold.

A committed write transaction that changed anything knows the tags it moved (core/tags.py,
collected by the writer's session). Then, in this order:
- this instance's `Changes.bump(tags)`, at once and synchronously after the COMMIT: its
  local generation moves, each tag remembers that generation, and listeners (the response
  cache's first level) drop what holds those tags. Nothing in this process can read the
  old state once the write returned;
- in Redis, one script moves the shared generation (`SHARED_KEY`, INCR) and sets each tag
  to it (`TAGS_KEY`, a hash), awaited before the write returns, so every instance can tell
  on its next cache hit whether what it holds read a tag moved after it was read;
- one DATA_CHANGED event with the tags through the broker, so that other instances drop
  those entries promptly instead of on their next hit.
The hash holds one field per tag ever moved: per table, its list tag, `#*` and at most
1,024 entity buckets, so it stays bounded.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Awaitable, Callable, Collection, Iterable, Sequence
from typing import TYPE_CHECKING, Any, Final

from redis.asyncio import Redis
from redis.exceptions import RedisError

from graphql_api.core.cooldown import cooldown_of
from graphql_api.core.events import Publisher, redis_publisher
from graphql_api.core.tags import EVERYTHING

if TYPE_CHECKING:
    from graphql_api.core.db.engine import Database

log = logging.getLogger(__name__)

DATA_CHANGED: Final = "data.changed"  # {"origin": "<instance id>", "tags": [...]}
SHARED_KEY: Final = "graphql-api:data-generation"
TAGS_KEY: Final = "graphql-api:tag-generations"

Tags = Collection[str]
# Announces a committed change beyond this process (Redis generations + event).
Announcer = Callable[[Tags], Awaitable[None]]
Listener = Callable[[frozenset[str]], None]
# The shared generation; None when Redis cannot say.
SharedGeneration = Callable[[], Awaitable[int | None]]
# The shared generation each of the tags was last moved at (0: never); None when Redis
# cannot say.
SharedTags = Callable[[Sequence[str]], Awaitable[list[int] | None]]

# Moves the shared generation and sets every tag given to it, atomically.
_MOVE_TAGS = """
local generation = redis.call('INCR', KEYS[1])
for i = 1, #ARGV do
  redis.call('HSET', KEYS[2], ARGV[i], generation)
end
return generation
"""


class Changes:
    """This instance's data generation and who wants to hear when it moves."""

    def __init__(self) -> None:
        # Names this instance in DATA_CHANGED events, so it ignores its own.
        self.origin = uuid.uuid4().hex
        self.generation = 0
        # tag -> the local generation it last moved at (bounded: see the module's doc).
        self._moved: dict[str, int] = {}
        self._listeners: list[Listener] = []

    def listen(self, listener: Listener) -> None:
        self._listeners.append(listener)

    def bump(self, tags: Tags = (EVERYTHING,)) -> None:
        """A write committed (here or elsewhere) that moved `tags`."""
        self.generation += 1
        moved = frozenset(tags)
        for tag in moved:
            self._moved[tag] = self.generation
        for listener in self._listeners:
            listener(moved)

    def moved_since(self, tags: Iterable[str], generation: int) -> bool:
        """Whether any of `tags` (or everything) moved after local `generation`."""
        moved = self._moved
        if moved.get(EVERYTHING, 0) > generation:
            return True
        return any(moved.get(tag, 0) > generation for tag in tags)

    def on_event(self) -> Callable[[dict[str, Any]], None]:
        """The broker listener for DATA_CHANGED from other instances."""

        def heard(payload: dict[str, Any]) -> None:
            if payload.get("origin") == self.origin:
                return
            tags = payload.get("tags")
            if isinstance(tags, list) and all(isinstance(tag, str) for tag in tags):
                self.bump(tags)
            else:  # an event from an older version: everything
                self.bump()

        return heard


def connect(db: Database, redis: Redis) -> None:
    """Publish `db`'s events after commit and announce its changes to every instance (the
    app and every CLI command that writes: caches elsewhere must not serve older data)."""
    db.publisher = redis_publisher(redis)
    db.announce = redis_announcer(redis=redis, publisher=db.publisher, origin=db.changes.origin)


async def announce_change(redis_url: str) -> None:
    """Announce a change written outside `Database.write()` (the seed's bulk load)."""
    redis = Redis.from_url(redis_url)
    try:
        announce = redis_announcer(redis=redis, publisher=redis_publisher(redis), origin="cli")
        await announce((EVERYTHING,))
    finally:
        await redis.aclose()


def redis_announcer(*, redis: Redis, publisher: Publisher, origin: str) -> Announcer:
    """Move the tags in Redis, then tell every instance (DATA_CHANGED)."""
    move = redis.register_script(_MOVE_TAGS)

    async def announce(tags: Tags) -> None:
        names = sorted(tags)
        try:
            await move(keys=[SHARED_KEY, TAGS_KEY], args=names)
        except RedisError:
            # The write is committed; other instances' caches notice the change only by
            # the event below (or their hits fail to read the keys and bypass).
            log.exception("could not move the shared tag generations")
        await publisher(DATA_CHANGED, {"origin": origin, "tags": names})

    return announce


def shared_generation(redis: Redis) -> SharedGeneration:
    """Reads the shared generation; None when Redis cannot say (callers must not trust a
    cached value then)."""

    cooldown = cooldown_of(redis)

    async def read() -> int | None:
        # A frozen Redis must not cost every request its socket timeout: after a failure,
        # caches are bypassed for a few seconds without asking (core/cooldown.py).
        if cooldown.active:
            return None
        try:
            raw = await redis.get(SHARED_KEY)
        except RedisError:
            cooldown.failed()
            return None
        cooldown.succeeded()
        return int(raw) if raw is not None else 0

    return read


def shared_tags(redis: Redis) -> SharedTags:
    """Reads the shared generations of tags; None when Redis cannot say."""

    cooldown = cooldown_of(redis)

    async def read(tags: Sequence[str]) -> list[int] | None:
        if cooldown.active:
            return None
        try:
            raw = await redis.hmget(TAGS_KEY, list(tags))
        except RedisError:
            cooldown.failed()
            return None
        return [int(value) if value is not None else 0 for value in raw]

    return read
