"""Small, explicit test data builders (the demo seed is tested on its own)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncEngine

from graphql_api.core.db.enums import AnnouncementStatus, BusinessSize
from graphql_api.core.db.models import Announcement, Business

BASE_TIME = datetime(2026, 1, 1, tzinfo=UTC)


async def make_businesses(engine: AsyncEngine, count: int, **overrides: Any) -> list[int]:
    rows = [
        {
            "name": f"Business {i}",
            "registration_number": f"REG-{i:06d}-{overrides.get('tag', 'x')}",
            "industry": ["software", "food", "logistics"][i % 3],
            "size": list(BusinessSize)[i % 4],
            "region": ["Seoul", "Busan", "Daegu"][i % 3],
            "employee_count": 10 + i,
            "annual_revenue": Decimal("1000000.00") + i,
        }
        for i in range(count)
    ]
    for row in rows:
        row.update({k: v for k, v in overrides.items() if k != "tag"})
    async with engine.begin() as conn:
        result = await conn.execute(insert(Business).returning(Business.id), rows)
        return [r[0] for r in result]


async def make_announcements(
    engine: AsyncEngine,
    count: int,
    *,
    business_ids: list[int] | None = None,
    status: AnnouncementStatus = AnnouncementStatus.PUBLISHED,
    **overrides: Any,
) -> list[int]:
    now = datetime.now(UTC)
    rows = []
    for i in range(count):
        row: dict[str, Any] = {
            "title": f"Call {i}",
            "body": f"Body of call {i}",
            "organization": "Ministry of SMEs",
            "category": ["funding", "export", "rnd"][i % 3],
            "regions": [["Seoul"], ["Busan"], ["Seoul", "Daegu"]][i % 3],
            "status": status,
            "opens_at": now - timedelta(days=10),
            "closes_at": now + timedelta(days=30 + i),
            "published_at": None
            if status is AnnouncementStatus.DRAFT
            else BASE_TIME + timedelta(minutes=i),
            "business_id": business_ids[i % len(business_ids)] if business_ids else None,
            "keywords": ["ai", "export"] if i % 2 else ["food"],
        }
        row.update(overrides)
        rows.append(row)
    async with engine.begin() as conn:
        result = await conn.execute(insert(Announcement).returning(Announcement.id), rows)
        return [r[0] for r in result]
