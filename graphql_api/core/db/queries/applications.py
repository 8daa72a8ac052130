"""Application reads: by id, a page per business, and outcome statistics per business.

Reads return `ApplicationRow`s (graphql_api.core.db.rows); mutations prime the loaders with ORM
instances, so both classes resolve as the GraphQL `Application` (`APPLICATION_CLASSES`).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from functools import lru_cache
from operator import attrgetter

from sqlalchemy import any_, func, or_, select

from graphql_api.core.db.engine import Database
from graphql_api.core.db.enums import ApplicationStatus
from graphql_api.core.db.models import Application
from graphql_api.core.db.rows import Query, Row, ids_param, prepare
from graphql_api.core.pagination import (
    Page,
    Seek,
    SortSpec,
    pages_by_parent,
    parse_datetime,
    seek,
    windowed,
)

# Newest first; served by ix_applications_business_id_submitted_at_id.
APPLICATIONS_SORT = SortSpec("sd", Application.submitted_at, Application.id, True, parse_datetime)


class ApplicationRow(Row):
    """An application as reads return it: the columns the API exposes."""

    __slots__ = ()
    id: int
    business_id: int
    announcement_id: int
    status: ApplicationStatus
    submitted_at: datetime
    decided_at: datetime | None


APPLICATION_CLASSES = (Application, ApplicationRow)
AnyApplication = Application | ApplicationRow

APPLICATION_COLUMNS = tuple(getattr(Application, name) for name in ApplicationRow.__annotations__)

_BY_IDS = prepare(
    select(*APPLICATION_COLUMNS).where(Application.id == any_(ids_param("ids"))), ApplicationRow
)


async def applications_by_ids(db: Database, *, ids: Sequence[int]) -> list[ApplicationRow]:
    return await db.fetch(_BY_IDS, ids=ids)


@lru_cache(maxsize=4)
def _pages_query(where: Seek) -> Query[ApplicationRow]:
    stmt = windowed(
        select(*APPLICATION_COLUMNS),
        APPLICATIONS_SORT,
        where,
        parent_column=Application.business_id,
    )
    return prepare(stmt, ApplicationRow)


_BY_BUSINESS = attrgetter("business_id")
_SUBMITTED_ID = attrgetter("submitted_at", "id")


async def application_pages(
    db: Database, *, business_ids: Sequence[int], first: int, after: str | None
) -> dict[int, Page[ApplicationRow]]:
    """A page of each business's applications, for many businesses in ONE query."""
    where, params = seek(APPLICATIONS_SORT, first=first, after=after)
    rows = await db.fetch(_pages_query(where), parent_ids=business_ids, **params)
    return pages_by_parent(
        rows, business_ids, APPLICATIONS_SORT, first=first, after=after,
        parent=_BY_BUSINESS, key=_SUBMITTED_ID,
    )  # fmt: skip


_COUNTS = prepare(
    select(Application.business_id, func.count().label("count"))
    .where(Application.business_id == any_(ids_param("business_ids")))
    .group_by(Application.business_id),
    Row,
)


async def application_counts(db: Database, *, business_ids: Sequence[int]) -> dict[int, int]:
    """How many applications each business made (one GROUP BY for many businesses)."""
    rows = await db.fetch(_COUNTS, business_ids=business_ids)
    return {row[0]: int(row[1]) for row in rows}


def _success_rates_query() -> Query[Row]:
    approved = func.count().filter(Application.status == ApplicationStatus.APPROVED)
    decided = func.count().filter(
        or_(
            Application.status == ApplicationStatus.APPROVED,
            Application.status == ApplicationStatus.REJECTED,
        )
    )
    stmt = (
        select(Application.business_id, approved.label("approved"), decided.label("decided"))
        .where(Application.business_id == any_(ids_param("business_ids")))
        .group_by(Application.business_id)
    )
    return prepare(stmt, Row)


_SUCCESS_RATES = _success_rates_query()


async def success_rates(db: Database, *, business_ids: Sequence[int]) -> dict[int, float | None]:
    """Approved / decided (approved + rejected) per business; None when nothing is decided.

    Submitted and withdrawn applications have no outcome and count for neither side.
    """
    rates: dict[int, float | None] = dict.fromkeys(business_ids)
    for business_id, n_approved, n_decided in await db.fetch(
        _SUCCESS_RATES, business_ids=business_ids
    ):
        rates[business_id] = n_approved / n_decided if n_decided else None
    return rates
