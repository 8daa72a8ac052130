"""Helpers for the announcement, business and application mutation tests (issue 5)."""

from __future__ import annotations

import asyncio
import itertools
import secrets
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import orjson
import redis.asyncio as aioredis
from sqlalchemy import func, insert, select
from sqlalchemy.dialects.postgresql import TSVECTOR
from sqlalchemy.ext.asyncio import AsyncEngine

from graphql_api.core.auth.principal import Principal
from graphql_api.core.db.models import ApiKey, AuditLog, Base
from graphql_api.core.events import CHANNEL_PREFIX, SENT_AT
from tests.graphql_client import gql

_serial = itertools.count(1)

WRITE_TABLES = ("announcements", "businesses", "applications", "audit_logs")

ANNOUNCEMENT_FIELDS = """
  id title body organization category targetIndustries targetSizes regions budget
  opensAt closesAt status sourceUrl keywords publishedAt createdAt updatedAt
  business { id name }
"""
CREATE_ANNOUNCEMENT = f"""
mutation($input: CreateAnnouncementInput!) {{
  createAnnouncement(input: $input) {{
    announcement {{ {ANNOUNCEMENT_FIELDS} }}
    errors {{ field message code }}
  }}
}}
"""
UPDATE_ANNOUNCEMENT = f"""
mutation($id: ID!, $input: UpdateAnnouncementInput!) {{
  updateAnnouncement(id: $id, input: $input) {{
    announcement {{ {ANNOUNCEMENT_FIELDS} }}
    errors {{ field message code }}
  }}
}}
"""
PUBLISH_ANNOUNCEMENT = f"""
mutation($id: ID!) {{
  publishAnnouncement(id: $id) {{
    announcement {{ {ANNOUNCEMENT_FIELDS} }}
    errors {{ field message code }}
  }}
}}
"""
CLOSE_ANNOUNCEMENT = f"""
mutation($id: ID!) {{
  closeAnnouncement(id: $id) {{
    announcement {{ {ANNOUNCEMENT_FIELDS} }}
    errors {{ field message code }}
  }}
}}
"""

BUSINESS_FIELDS = """
  id name registrationNumber industry size region foundedOn employeeCount annualRevenue
  owner { id }
"""
CREATE_BUSINESS = f"""
mutation($input: CreateBusinessInput!) {{
  createBusiness(input: $input) {{
    business {{ {BUSINESS_FIELDS} }}
    errors {{ field message code }}
  }}
}}
"""
UPDATE_BUSINESS = f"""
mutation($id: ID!, $input: UpdateBusinessInput!) {{
  updateBusiness(id: $id, input: $input) {{
    business {{ {BUSINESS_FIELDS} }}
    errors {{ field message code }}
  }}
}}
"""

APPLICATION_FIELDS = """
  id status submittedAt decidedAt
  business { id successRate } announcement { id applicationCount }
"""
APPLY = f"""
mutation($businessId: ID!, $announcementId: ID!) {{
  applyToAnnouncement(businessId: $businessId, announcementId: $announcementId) {{
    application {{ {APPLICATION_FIELDS} }}
    errors {{ field message code }}
  }}
}}
"""
DECIDE = f"""
mutation($id: ID!, $status: ApplicationStatus!) {{
  decideApplication(id: $id, status: $status) {{
    application {{ {APPLICATION_FIELDS} }}
    errors {{ field message code }}
  }}
}}
"""


def registration_number(n: int | None = None) -> str:
    """A well-formed, unique-per-call registration number (NNN-NN-NNNNN)."""
    digits = f"{(n if n is not None else next(_serial) + 5_000_000):010d}"
    return f"{digits[:3]}-{digits[3:5]}-{digits[5:]}"


def announcement_input(**overrides: Any) -> dict[str, Any]:
    now = datetime.now(UTC)
    value: dict[str, Any] = {
        "title": "Export voucher 2026",
        "body": "Support for first-time exporters.",
        "organization": "Ministry of SMEs and Startups",
        "category": "export",
        "targetIndustries": ["software"],
        "targetSizes": ["SMALL", "MEDIUM"],
        "regions": ["Seoul"],
        "budget": "1500000.50",
        "opensAt": (now - timedelta(days=1)).isoformat(),
        "closesAt": (now + timedelta(days=30)).isoformat(),
        "sourceUrl": "https://example.go.kr/notice/1",
        "keywords": ["export", "voucher"],
    }
    value.update(overrides)
    return value


def business_input(**overrides: Any) -> dict[str, Any]:
    value: dict[str, Any] = {
        "name": "Hanbit Software",
        "registrationNumber": registration_number(),
        "industry": "software",
        "size": "SMALL",
        "region": "Seoul",
        "foundedOn": "2015-03-02",
        "employeeCount": 42,
        "annualRevenue": "1234567.89",
    }
    value.update(overrides)
    return value


async def make_service(engine: AsyncEngine, *scopes: str) -> Principal:
    """A real api_keys row (audit_logs.actor_api_key_id references it) and its principal."""
    async with engine.begin() as conn:
        key_id: int = (
            await conn.execute(
                insert(ApiKey).returning(ApiKey.id),
                {
                    "name": "test service",
                    "prefix": secrets.token_hex(6),
                    "key_hash": secrets.token_hex(32),
                    "scopes": list(scopes),
                    "expires_at": datetime.now(UTC) + timedelta(days=90),
                },
            )
        ).scalar_one()
    return Principal(api_key_id=key_id, scopes=frozenset(scopes))


async def snapshot(engine: AsyncEngine, *tables: str) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of the tables (generated tsvector columns left out), in id order."""
    result: dict[str, list[tuple[Any, ...]]] = {}
    async with engine.connect() as conn:
        for name in tables or WRITE_TABLES:
            table = Base.metadata.tables[name]
            columns = [c for c in table.columns if not isinstance(c.type, TSVECTOR)]
            rows = await conn.execute(select(*columns).order_by(table.c.id))
            result[name] = [tuple(row) for row in rows]
    return result


async def audit_rows(engine: AsyncEngine, action: str) -> list[Any]:
    """The audit_logs rows of one action, oldest first."""
    async with engine.connect() as conn:
        rows = await conn.execute(
            select(AuditLog.__table__).where(AuditLog.action == action).order_by(AuditLog.id)
        )
        return list(rows.all())


async def count_rows(engine: AsyncEngine, table: str) -> int:
    async with engine.connect() as conn:
        return int(
            (
                await conn.execute(select(func.count()).select_from(Base.metadata.tables[table]))
            ).scalar_one()
        )


async def mutate(
    client: httpx.AsyncClient, document: str, variables: dict[str, Any]
) -> tuple[dict[str, Any] | None, dict[str, Any]]:
    """(the payload of the one mutation field or None, the whole response body)."""
    body = await gql(client, document, variables)
    data = body.get("data") or {}
    payload = next(iter(data.values()), None) if data else None
    return payload, body


def only_error(payload: dict[str, Any] | None) -> tuple[str, str | None]:
    """(code, field) of a payload that failed with exactly one error and null data."""
    assert payload is not None
    errors = payload["errors"]
    assert len(errors) == 1, errors
    data_keys = [k for k in payload if k != "errors"]
    assert all(payload[k] is None for k in data_keys), payload
    return errors[0]["code"], errors[0]["field"]


class EventListener:
    """Collects the events of one topic from Redis pub/sub."""

    def __init__(self, redis_url: str, topic: str) -> None:
        self.redis_url = redis_url
        self.channel = CHANNEL_PREFIX + topic
        self.client: aioredis.Redis | None = None
        self.pubsub: Any = None

    async def __aenter__(self) -> EventListener:
        self.client = aioredis.Redis.from_url(self.redis_url)
        self.pubsub = self.client.pubsub()
        await self.pubsub.subscribe(self.channel)
        await self.pubsub.get_message(timeout=1)  # the subscribe confirmation
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.pubsub.aclose()
        assert self.client is not None
        await self.client.aclose()

    async def drain(self, quiet: float = 0.5) -> list[dict[str, Any]]:
        """Every payload received until nothing arrives for `quiet` seconds."""
        payloads: list[dict[str, Any]] = []
        while True:
            message = await self.pubsub.get_message(ignore_subscribe_messages=True, timeout=quiet)
            if message is None:
                # get_message may return None early; confirm the channel stayed quiet.
                await asyncio.sleep(0.05)
                message = await self.pubsub.get_message(
                    ignore_subscribe_messages=True, timeout=quiet
                )
                if message is None:
                    return payloads
            assert message["channel"] == self.channel.encode()
            payload = orjson.loads(message["data"])
            # Every event carries its publication time (the brokers measure their lag).
            assert isinstance(payload.pop(SENT_AT), float)
            payloads.append(payload)
