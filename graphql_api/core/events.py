"""Domain events, published only after the writing transaction commits (R17 groundwork).

A mutation calls `emit(session, topic, payload)` inside `db.write()`; the events wait in the
session and `Database.write` hands them to the publisher once COMMIT succeeded, so a
rolled-back write never announces anything. The publisher sends them to Redis pub/sub,
from where every server instance fans them out to its own subscribers.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

import orjson
from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncSession

log = logging.getLogger(__name__)

CHANNEL_PREFIX = "graphql-api:events:"
_PENDING = "pending_events"

# Topics and their payloads (ids are database primary keys).
ANNOUNCEMENT_PUBLISHED = "announcement.published"  # {"id": int}
BRIEFING_PUBLISHED = "briefing.published"  # {"id": int, "date": "YYYY-MM-DD"}
PORTFOLIO_UPDATED = "portfolio.updated"  # {"portfolio_ids": [int], "reason": "trade"|"prices"}
PRICES_UPDATED = "prices.updated"  # {"security_ids": [int]}
SESSION_REVOKED = "session.revoked"  # {"session": "<refresh token family uuid>"}

Publisher = Callable[[str, dict[str, Any]], Awaitable[None]]


def emit(session: AsyncSession, topic: str, payload: dict[str, Any]) -> None:
    """Queue an event on the session; it is published after the transaction commits."""
    session.info.setdefault(_PENDING, []).append((topic, payload))


def take_pending(session: AsyncSession) -> list[tuple[str, dict[str, Any]]]:
    pending: list[tuple[str, dict[str, Any]]] = session.info.pop(_PENDING, [])
    return pending


# Wall-clock time of publishing (seconds), added to every event on the wire and taken off
# by the receiving broker, which measures the lag with it (core/broker.py).
SENT_AT = "sentAt"


def redis_publisher(redis: Redis) -> Publisher:
    async def publish(topic: str, payload: dict[str, Any]) -> None:
        stamped = {**payload, SENT_AT: time.time()}
        await redis.publish(CHANNEL_PREFIX + topic, orjson.dumps(stamped))

    return publish
