"""Application reads: by id, a page per business, and outcome statistics per business."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from graphql_api.db.enums import ApplicationStatus
from graphql_api.db.models import Application
from graphql_api.pagination import Page, SortSpec, parse_datetime, windowed_pages

# Newest first; served by ix_applications_business_id_submitted_at_id.
APPLICATIONS_SORT = SortSpec("sd", Application.submitted_at, Application.id, True, parse_datetime)


async def applications_by_ids(session: AsyncSession, *, ids: Sequence[int]) -> list[Application]:
    return list((await session.scalars(select(Application).where(Application.id.in_(ids)))).all())


async def application_pages(
    session: AsyncSession, *, business_ids: Sequence[int], first: int, after: str | None
) -> dict[int, Page[Application]]:
    """A page of each business's applications, for many businesses in ONE query."""
    return await windowed_pages(
        session,
        model=Application,
        stmt=select(Application),
        sort=APPLICATIONS_SORT,
        parent_column=Application.business_id,
        parent_ids=business_ids,
        first=first,
        after=after,
    )


async def application_counts(
    session: AsyncSession, *, business_ids: Sequence[int]
) -> dict[int, int]:
    """How many applications each business made (one GROUP BY for many businesses)."""
    stmt = (
        select(Application.business_id, func.count())
        .where(Application.business_id.in_(business_ids))
        .group_by(Application.business_id)
    )
    return {bid: int(n) for bid, n in (await session.execute(stmt)).all()}


async def success_rates(
    session: AsyncSession, *, business_ids: Sequence[int]
) -> dict[int, float | None]:
    """Approved / decided (approved + rejected) per business; None when nothing is decided.

    Submitted and withdrawn applications have no outcome and count for neither side.
    """
    approved = func.count().filter(Application.status == ApplicationStatus.APPROVED)
    decided = func.count().filter(
        Application.status.in_((ApplicationStatus.APPROVED, ApplicationStatus.REJECTED))
    )
    stmt = (
        select(Application.business_id, approved, decided)
        .where(Application.business_id.in_(business_ids))
        .group_by(Application.business_id)
    )
    rates: dict[int, float | None] = dict.fromkeys(business_ids)
    for business_id, n_approved, n_decided in (await session.execute(stmt)).all():
        rates[business_id] = n_approved / n_decided if n_decided else None
    return rates
