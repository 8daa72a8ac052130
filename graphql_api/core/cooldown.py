"""Skipping optional dependency calls for a while after one failed (issue 14).

Some Redis calls only make a request faster (the API-key validation cache, the last-use
buffer): when Redis is down or frozen each would cost its socket timeout on every request.
After one fails, `Cooldown` makes callers skip them for a few seconds and take the slower
path (PostgreSQL, or nothing), so a frozen Redis costs one request the timeout every few
seconds instead of every request.
"""

from __future__ import annotations

import time
import weakref
from collections.abc import Callable
from typing import Final

COOLDOWN_SECONDS: Final = 5.0


class Cooldown:
    __slots__ = ("_clock", "_seconds", "_until")

    def __init__(
        self, seconds: float = COOLDOWN_SECONDS, *, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._seconds = seconds
        self._clock = clock
        self._until = 0.0

    @property
    def active(self) -> bool:
        """True while callers should skip the optional call."""
        return self._until > 0.0 and self._clock() < self._until

    def failed(self) -> None:
        self._until = self._clock() + self._seconds

    def succeeded(self) -> None:
        self._until = 0.0


_per_client: weakref.WeakKeyDictionary[object, Cooldown] = weakref.WeakKeyDictionary()


def cooldown_of(client: object) -> Cooldown:
    """The cooldown of one client (one per app instance's Redis connection pool)."""
    found = _per_client.get(client)
    if found is None:
        found = _per_client[client] = Cooldown()
    return found
