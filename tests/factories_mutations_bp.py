"""Helpers for the briefing, price and portfolio mutation tests (issue 5).

Service principals need a real `api_keys` row: audit rows reference the key by foreign key.
`snapshot` reads whole tables so a test can assert that a refused mutation wrote nothing.
"""

from __future__ import annotations

import asyncio
import hashlib
import itertools
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import orjson
import redis.asyncio as aioredis
from sqlalchemy import insert, text
from sqlalchemy.ext.asyncio import AsyncEngine

from graphql_api.core.auth.principal import ANONYMOUS, Principal
from graphql_api.core.changes import DATA_CHANGED
from graphql_api.core.db.enums import Role
from graphql_api.core.db.models import ApiKey
from graphql_api.core.events import CHANNEL_PREFIX, SENT_AT
from tests.factories_portfolios import make_principal

_serial = itertools.count(1)

# Every table a briefing, price or portfolio mutation may touch.
WRITE_TABLES = (
    "briefings",
    "briefing_glossary_terms",
    "securities",
    "portfolios",
    "holdings",
    "transactions",
    "audit_logs",
)


async def make_api_key(engine: AsyncEngine, *scopes: str) -> int:
    n = next(_serial)
    secret = secrets.token_hex(16)
    row = {
        "name": f"service {n}",
        "prefix": f"tk{n:06d}{secrets.token_hex(3)}"[:16],
        "key_hash": hashlib.sha256(secret.encode()).hexdigest(),
        "scopes": list(scopes),
        "expires_at": datetime.now(UTC) + timedelta(days=90),
    }
    async with engine.begin() as conn:
        return int((await conn.execute(insert(ApiKey).returning(ApiKey.id), [row])).scalar_one())


async def make_service(engine: AsyncEngine, *scopes: str) -> Principal:
    """A service principal backed by a real api_keys row holding `scopes`."""
    key_id = await make_api_key(engine, *scopes)
    return Principal(api_key_id=key_id, scopes=frozenset(scopes))


@dataclass(frozen=True)
class Callers:
    """One principal per row of the permission table."""

    anonymous: Principal
    member: Principal
    other_member: Principal
    editor: Principal
    admin: Principal
    service_with_scope: Principal
    service_without_scope: Principal

    def named(self) -> dict[str, Principal]:
        return {
            "anonymous": self.anonymous,
            "member": self.member,
            "other_member": self.other_member,
            "editor": self.editor,
            "admin": self.admin,
            "service_with_scope": self.service_with_scope,
            "service_without_scope": self.service_without_scope,
        }


async def make_callers(engine: AsyncEngine, scope: str) -> Callers:
    other_scope = "announcements:write"
    return Callers(
        anonymous=ANONYMOUS,
        member=await make_principal(engine, Role.MEMBER),
        other_member=await make_principal(engine, Role.MEMBER),
        editor=await make_principal(engine, Role.EDITOR),
        admin=await make_principal(engine, Role.ADMIN),
        service_with_scope=await make_service(engine, scope),
        service_without_scope=await make_service(engine, other_scope),
    )


async def snapshot(engine: AsyncEngine, tables: Sequence[str] = WRITE_TABLES) -> dict[str, Any]:
    """Every row of `tables`, as text, in a stable order (for before/after equality)."""
    result: dict[str, Any] = {}
    async with engine.connect() as conn:
        for table in tables:
            # Table names are this module's own constants, never input.
            rows = await conn.execute(text(f"SELECT t::text FROM {table} t ORDER BY t::text"))
            result[table] = [row[0] for row in rows]
    return result


async def audit_actions(engine: AsyncEngine) -> list[str]:
    async with engine.connect() as conn:
        rows = await conn.execute(text("SELECT action FROM audit_logs ORDER BY id"))
        return [row[0] for row in rows]


class EventListener:
    """Collects events published on Redis (pattern-subscribed to every topic)."""

    def __init__(self, redis_url: str) -> None:
        self._client = aioredis.Redis.from_url(redis_url)
        self._pubsub = self._client.pubsub()

    async def __aenter__(self) -> EventListener:
        await self._pubsub.psubscribe(CHANNEL_PREFIX + "*")
        await self._pubsub.get_message(timeout=1)  # the subscribe confirmation
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self._pubsub.aclose()
        await self._client.aclose()

    async def drain(self, quiet: float = 0.3) -> list[tuple[str, bytes]]:
        """Every message until none arrives for `quiet` seconds: (topic, payload)."""
        received: list[tuple[str, bytes]] = []
        while True:
            message = await self._pubsub.get_message(ignore_subscribe_messages=True, timeout=quiet)
            if message is None:
                # get_message may return None early; confirm the silence once.
                await asyncio.sleep(0.05)
                message = await self._pubsub.get_message(
                    ignore_subscribe_messages=True, timeout=quiet
                )
                if message is None:
                    return received
            topic = message["channel"].decode().removeprefix(CHANNEL_PREFIX)
            # Every committed write also announces DATA_CHANGED (caches' housekeeping,
            # graphql_api/core/changes.py); these tests are about the domain events.
            if topic != DATA_CHANGED:
                # Without the publication time every event carries (the brokers' lag).
                payload = orjson.loads(message["data"])
                assert isinstance(payload.pop(SENT_AT), float)
                received.append((topic, orjson.dumps(payload)))


async def post(client: httpx.AsyncClient, query: str, variables: dict[str, Any]) -> dict[str, Any]:
    """One GraphQL request; asserts HTTP 200 (never a 500) and returns the body."""
    response = await client.post("/graphql", json={"query": query, "variables": variables})
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body
