"""Row builders for the dashboard tests: plain dicts in, SQLAlchemy insert() on the models."""

from __future__ import annotations

import datetime as dt
import itertools
from typing import Any

from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncEngine

from graphql_api.core.db.enums import AnnouncementStatus, BriefingStatus, BusinessSize
from graphql_api.core.db.models import Announcement, Briefing, Business

_serial = itertools.count(1)


def announcement(
    *,
    status: AnnouncementStatus = AnnouncementStatus.PUBLISHED,
    category: str = "funding",
    opens_at: dt.datetime | None = None,
    closes_at: dt.datetime | None = None,
    business_id: int | None = None,
    **overrides: Any,
) -> dict[str, Any]:
    n = next(_serial)
    row: dict[str, Any] = {
        "title": f"Dashboard call {n}",
        "body": "Body",
        "organization": "Ministry of SMEs",
        "category": category,
        "status": status,
        "opens_at": opens_at,
        "closes_at": closes_at,
        "published_at": None
        if status is AnnouncementStatus.DRAFT
        else dt.datetime(2026, 1, 1, tzinfo=dt.UTC),
        "business_id": business_id,
        "keywords": [],
    }
    row.update(overrides)
    return row


def business(size: BusinessSize, **overrides: Any) -> dict[str, Any]:
    n = next(_serial)
    row: dict[str, Any] = {
        "name": f"Dashboard business {n}",
        "registration_number": f"DASH-{n:08d}",
        "industry": "software",
        "size": size,
        "region": "Seoul",
    }
    row.update(overrides)
    return row


def briefing(
    date: dt.date,
    top_keywords: dict[str, Any] | None = None,
    *,
    status: BriefingStatus = BriefingStatus.PUBLISHED,
) -> dict[str, Any]:
    return {
        "date": date,
        "title": f"Briefing {date.isoformat()}",
        "summary": "Summary",
        "narrative": "Narrative",
        "top_keywords": top_keywords or {},
        "status": status,
        "published_at": None
        if status is BriefingStatus.DRAFT
        else dt.datetime.combine(date, dt.time(6), tzinfo=dt.UTC),
    }


async def insert_rows(engine: AsyncEngine, model: Any, rows: list[dict[str, Any]]) -> list[int]:
    """Insert ``rows`` into ``model``'s table in one statement; returns the new ids in order."""
    if not rows:
        return []
    async with engine.begin() as conn:
        result = await conn.execute(
            insert(model).returning(model.id, sort_by_parameter_order=True), rows
        )
        return [r[0] for r in result]


async def insert_announcements(engine: AsyncEngine, rows: list[dict[str, Any]]) -> list[int]:
    return await insert_rows(engine, Announcement, rows)


async def insert_businesses(engine: AsyncEngine, rows: list[dict[str, Any]]) -> list[int]:
    return await insert_rows(engine, Business, rows)


async def insert_briefings(engine: AsyncEngine, rows: list[dict[str, Any]]) -> list[int]:
    return await insert_rows(engine, Briefing, rows)
