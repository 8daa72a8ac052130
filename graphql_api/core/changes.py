"""Data generations: how caches learn that a committed write may have changed what they hold.

Every committed write transaction that changed anything moves two counters:
- the instance's own generation (`Changes.generation`), at once and synchronously after the
  COMMIT, so nothing in this process can read the old generation once the write returned;
- a shared generation in Redis (`SHARED_KEY`, INCR), awaited before the write returns, so
  every other instance can tell on its next cache hit that it must not serve what it holds.
Then one DATA_CHANGED event goes out through the broker so that other instances drop their
first level promptly instead of on their next hit (issue 12, first slice: the whole level).
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, Final

from redis.asyncio import Redis
from redis.exceptions import RedisError

from graphql_api.core.events import Publisher, redis_publisher

if TYPE_CHECKING:
    from graphql_api.core.db.engine import Database

log = logging.getLogger(__name__)

DATA_CHANGED: Final = "data.changed"  # {"origin": "<instance id>"}
SHARED_KEY: Final = "graphql-api:data-generation"

# Announces a committed change beyond this process (Redis generation + event).
Announcer = Callable[[], Awaitable[None]]
Listener = Callable[[], None]


class Changes:
    """This instance's data generation and who wants to hear when it moves."""

    def __init__(self) -> None:
        # Names this instance in DATA_CHANGED events, so it ignores its own.
        self.origin = uuid.uuid4().hex
        self.generation = 0
        self._listeners: list[Listener] = []

    def listen(self, listener: Listener) -> None:
        self._listeners.append(listener)

    def bump(self) -> None:
        """A write committed (here or elsewhere): whatever was read before may be stale."""
        self.generation += 1
        for listener in self._listeners:
            listener()

    def on_event(self) -> Callable[[dict[str, Any]], None]:
        """The broker listener for DATA_CHANGED from other instances."""

        def heard(payload: dict[str, Any]) -> None:
            if payload.get("origin") != self.origin:
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
        await redis_announcer(redis=redis, publisher=redis_publisher(redis), origin="cli")()
    finally:
        await redis.aclose()


def redis_announcer(*, redis: Redis, publisher: Publisher, origin: str) -> Announcer:
    """Move the shared generation, then tell every instance (DATA_CHANGED)."""

    async def announce() -> None:
        try:
            await redis.incr(SHARED_KEY)
        except RedisError:
            # The write is committed; other instances' caches notice the change only by
            # the event below (or their hits fail to read the key and bypass).
            log.exception("could not move the shared data generation")
        await publisher(DATA_CHANGED, {"origin": origin})

    return announce


def shared_generation(redis: Redis) -> Callable[[], Awaitable[int | None]]:
    """Reads the shared generation; None when Redis cannot say (callers must not trust a
    cached value then)."""

    async def read() -> int | None:
        try:
            raw = await redis.get(SHARED_KEY)
        except RedisError:
            return None
        return int(raw) if raw is not None else 0

    return read
