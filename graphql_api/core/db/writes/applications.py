"""Application writes: apply once per business and call, decide once (R2, R12)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from graphql_api.core.db.enums import ApplicationStatus
from graphql_api.core.db.models import Application


async def insert_application(
    session: AsyncSession, *, business_id: int, announcement_id: int, submitted_at: datetime
) -> Application | None:
    """The new SUBMITTED application, or None when this business already applied.

    The unique (business_id, announcement_id) constraint decides, so concurrent attempts
    for one pair produce exactly one row; the others insert nothing and raise nothing.
    """
    stmt = (
        insert(Application)
        .values(
            business_id=business_id,
            announcement_id=announcement_id,
            status=ApplicationStatus.SUBMITTED,
            submitted_at=submitted_at,
        )
        .on_conflict_do_nothing(
            index_elements=[Application.business_id, Application.announcement_id]
        )
        .returning(Application)
    )
    return (await session.scalars(stmt)).one_or_none()


async def lock_application(session: AsyncSession, *, application_id: int) -> Application | None:
    """The row locked FOR UPDATE, so concurrent decisions serialise; None if missing."""
    stmt = select(Application).where(Application.id == application_id).with_for_update()
    result = await session.scalars(stmt, execution_options={"populate_existing": True})
    return result.one_or_none()


async def decide_application(
    session: AsyncSession,
    *,
    application_id: int,
    status: ApplicationStatus,
    decided_at: datetime,
    decided_by_id: int | None,
) -> Application:
    stmt = (
        update(Application)
        .where(Application.id == application_id)
        .values(status=status, decided_at=decided_at, decided_by_id=decided_by_id)
        .returning(Application)
    )
    result = await session.scalars(stmt, execution_options={"populate_existing": True})
    return result.one()
