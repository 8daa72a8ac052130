"""Test data builders for the businesses domain: users, owned businesses, applications."""

from __future__ import annotations

import itertools
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncEngine

from graphql_api.core.auth.principal import Principal
from graphql_api.core.db.enums import ApplicationStatus, BusinessSize, Role
from graphql_api.core.db.models import Application, Business, User
from tests.factories import BASE_TIME

_serial = itertools.count(1)


async def make_user(engine: AsyncEngine, role: Role = Role.MEMBER) -> Principal:
    """Insert a user and return the principal that acts as them."""
    n = next(_serial)
    async with engine.begin() as conn:
        user_id = (
            await conn.execute(
                insert(User).returning(User.id),
                {
                    "email": f"user{n}@example.com",
                    "password_hash": "!",
                    "display_name": f"User {n}",
                    "role": role,
                },
            )
        ).scalar_one()
    return Principal(user_id=user_id, role=role)


async def make_business(engine: AsyncEngine, **values: Any) -> int:
    """One business with sensible defaults; every column can be overridden."""
    n = next(_serial)
    row: dict[str, Any] = {
        "name": f"Company {n}",
        "registration_number": f"BRN-{n:08d}",
        "industry": "software",
        "size": BusinessSize.SMALL,
        "region": "Seoul",
        "employee_count": 20,
        "annual_revenue": Decimal("5000000.00"),
    }
    row.update(values)
    async with engine.begin() as conn:
        business_id: int = (
            await conn.execute(insert(Business).returning(Business.id), row)
        ).scalar_one()
    return business_id


async def make_applications(
    engine: AsyncEngine,
    business_id: int,
    announcement_ids: list[int],
    statuses: list[ApplicationStatus] | None = None,
    *,
    submitted_at: datetime = BASE_TIME,
) -> list[int]:
    """One application of `business_id` per announcement, one minute apart (oldest first)."""
    rows = [
        {
            "business_id": business_id,
            "announcement_id": announcement_id,
            "status": statuses[i] if statuses else ApplicationStatus.SUBMITTED,
            "submitted_at": submitted_at + timedelta(minutes=i),
        }
        for i, announcement_id in enumerate(announcement_ids)
    ]
    if not rows:
        return []
    async with engine.begin() as conn:
        result = await conn.execute(insert(Application).returning(Application.id), rows)
        return [r[0] for r in result]


async def make_users(engine: AsyncEngine, count: int, role: Role = Role.MEMBER) -> list[int]:
    """Many users in one statement (for statement-count tests)."""
    start = next(_serial)
    for _ in range(count):
        next(_serial)
    rows = [
        {
            "email": f"bulk{start}-{i}@example.com",
            "password_hash": "!",
            "display_name": f"Bulk user {i}",
            "role": role,
        }
        for i in range(count)
    ]
    async with engine.begin() as conn:
        result = await conn.execute(insert(User).returning(User.id), rows)
        return [r[0] for r in result]


async def make_owned_businesses(
    engine: AsyncEngine, count: int, owner_ids: list[int], *, tag: str = "b"
) -> list[int]:
    """Many businesses in one statement, owners assigned round-robin."""
    rows = [
        {
            "name": f"{tag} business {i:04d}",
            "registration_number": f"OWN-{tag}-{i:06d}",
            "industry": ["software", "food", "logistics"][i % 3],
            "size": list(BusinessSize)[i % 4],
            "region": ["Seoul", "Busan", "Daegu"][i % 3],
            "employee_count": 10 + i,
            "annual_revenue": Decimal("1000000.00") + i,
            "owner_id": owner_ids[i % len(owner_ids)],
        }
        for i in range(count)
    ]
    async with engine.begin() as conn:
        result = await conn.execute(insert(Business).returning(Business.id), rows)
        return [r[0] for r in result]


async def make_application_rows(engine: AsyncEngine, rows: list[dict[str, Any]]) -> list[int]:
    """Applications from explicit rows (business_id, announcement_id, status, ...)."""
    async with engine.begin() as conn:
        result = await conn.execute(insert(Application).returning(Application.id), rows)
        return [r[0] for r in result]
