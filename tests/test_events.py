"""Events leave only after the writing transaction commits (issue 5/6 groundwork)."""

from __future__ import annotations

import asyncio

import orjson
import pytest
import redis.asyncio as aioredis
from sqlalchemy import text
from starlette.applications import Starlette

from graphql_api.core.events import CHANNEL_PREFIX, SENT_AT, emit


async def _listen(redis_url: str) -> tuple[aioredis.Redis, object]:
    client = aioredis.Redis.from_url(redis_url)
    pubsub = client.pubsub()
    await pubsub.psubscribe(CHANNEL_PREFIX + "*")
    await pubsub.get_message(timeout=1)  # the subscribe confirmation
    return client, pubsub


async def test_committed_write_publishes_and_rolled_back_write_does_not(
    app: Starlette, redis_url: str
) -> None:
    client, pubsub = await _listen(redis_url)
    db = app.state.db
    try:

        async def failing_write() -> None:
            async with db.write() as session:
                await session.execute(text("SELECT 1"))
                emit(session, "test.rolled_back", {"id": 1})
                raise RuntimeError("abort")

        with pytest.raises(RuntimeError):
            await failing_write()
        async with db.write() as session:
            emit(session, "test.committed", {"id": 2})
        message = None
        for _ in range(20):
            message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=0.5)
            if message:
                break
            await asyncio.sleep(0.05)
        assert message is not None
        assert message["channel"] == (CHANNEL_PREFIX + "test.committed").encode()
        payload = orjson.loads(message["data"])
        assert isinstance(payload.pop(SENT_AT), float)  # for the receiving brokers' lag
        assert payload == {"id": 2}
        assert await pubsub.get_message(ignore_subscribe_messages=True, timeout=0.5) is None
    finally:
        await pubsub.aclose()
        await client.aclose()
