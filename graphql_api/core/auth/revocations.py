"""Sessions revoked recently, known to every instance at once (issue 11).

`logout` and a refresh-token reuse revoke a session (a refresh-token family) in the database
and emit SESSION_REVOKED after commit. Every instance hears it through the subscription
broker and adds the session here; `authenticate` then refuses access tokens carrying that
session id (`sid`), with no database or Redis read per request, and open subscriptions of
the session are closed at once. An entry lives as long as an access token can, so the set
stays small. The revocation is also kept in Redis for that long, so an instance that starts
later loads it.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any, Final

from redis.asyncio import Redis
from redis.exceptions import RedisError

from graphql_api.core.background import spawn

log = logging.getLogger(__name__)

KEY_PREFIX: Final = "revoked-session:"


class RevokedSessions:
    def __init__(self, ttl_seconds: float) -> None:
        self._ttl = ttl_seconds
        self._until: dict[str, float] = {}
        self._watchers: dict[str, set[Callable[[], None]]] = {}

    def is_revoked(self, session: str | None) -> bool:
        if session is None:
            return False
        until = self._until.get(session)
        if until is None:
            return False
        if until < time.monotonic():
            del self._until[session]
            return False
        return True

    def add(self, session: str, ttl_seconds: float | None = None) -> None:
        """Revoke `session` here and tell whoever watches it (its open subscriptions)."""
        self._until[session] = time.monotonic() + (ttl_seconds or self._ttl)
        for callback in list(self._watchers.pop(session, ())):
            callback()
        if len(self._until) > 1000:
            now = time.monotonic()
            self._until = {key: until for key, until in self._until.items() if until > now}

    def watch(self, session: str, callback: Callable[[], None]) -> Callable[[], None]:
        """Call `callback` once if `session` is revoked; returns the way to stop watching."""
        watchers = self._watchers.setdefault(session, set())
        watchers.add(callback)

        def stop() -> None:
            remaining = self._watchers.get(session)
            if remaining is not None:
                remaining.discard(callback)
                if not remaining:
                    del self._watchers[session]

        return stop

    def on_event(self, redis: Redis) -> Callable[[dict[str, Any]], None]:
        """The broker listener for SESSION_REVOKED: revoke here, and keep it in Redis."""

        def heard(payload: dict[str, Any]) -> None:
            session = payload.get("session")
            if isinstance(session, str) and session:
                self.add(session)
                remember = redis.set(KEY_PREFIX + session, "1", ex=int(self._ttl) + 1)
                spawn(remember, failure="could not keep a revoked session in Redis")

        return heard

    async def load(self, redis: Redis) -> int:
        """Sessions revoked before this instance started (still within an access token's
        lifetime), from Redis; 0 when Redis cannot say."""
        loaded = 0
        try:
            async for key in redis.scan_iter(match=KEY_PREFIX + "*", count=500):
                name = key.decode() if isinstance(key, bytes) else str(key)
                ttl = await redis.ttl(name)
                if ttl > 0:
                    self.add(name[len(KEY_PREFIX) :], ttl)
                    loaded += 1
        except RedisError:
            log.warning("could not load revoked sessions from Redis")
        return loaded
