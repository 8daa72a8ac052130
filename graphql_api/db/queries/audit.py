"""Audit log reads (R9); rows are written by graphql_api.audit.record in each action's own
transaction. Newest first on (created_at, id), the keyset of ix_audit_logs_created_at_id."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Select, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from graphql_api.db.models import AuditLog
from graphql_api.pagination import Page, SortSpec, apply_keyset, build_page, parse_datetime

AUDIT_SORT = SortSpec("al", AuditLog.created_at, AuditLog.id, True, parse_datetime)


@dataclass(frozen=True, slots=True)
class AuditLogFilters:
    """What an audit log listing may be narrowed by; None means no restriction."""

    actor_user_id: int | None = None
    actions: Sequence[str] | None = None
    created_from: datetime | None = None
    created_to: datetime | None = None


def _filtered(stmt: Select[Any], filters: AuditLogFilters) -> Select[Any]:
    if filters.actor_user_id is not None:
        stmt = stmt.where(AuditLog.actor_user_id == filters.actor_user_id)
    if filters.actions is not None:
        stmt = stmt.where(AuditLog.action.in_(filters.actions))
    if filters.created_from is not None:
        stmt = stmt.where(AuditLog.created_at >= filters.created_from)
    if filters.created_to is not None:
        stmt = stmt.where(AuditLog.created_at <= filters.created_to)
    return stmt


async def list_audit_logs(
    session: AsyncSession, *, filters: AuditLogFilters, first: int, after: str | None
) -> Page[AuditLog]:
    stmt = apply_keyset(_filtered(select(AuditLog), filters), AUDIT_SORT, first=first, after=after)
    rows = (await session.scalars(stmt)).all()
    return build_page(
        rows, AUDIT_SORT, first=first, after=after, key=lambda row: (row.created_at, row.id)
    )


async def count_audit_logs(session: AsyncSession, *, filters: AuditLogFilters) -> int:
    stmt = _filtered(select(func.count()).select_from(AuditLog), filters)
    return int((await session.execute(stmt)).scalar_one())


async def audit_logs_by_ids(session: AsyncSession, *, ids: Sequence[int]) -> list[AuditLog]:
    return list((await session.scalars(select(AuditLog).where(AuditLog.id.in_(ids)))).all())
