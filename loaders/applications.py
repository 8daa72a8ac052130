"""Application loaders: by id, a page per business, and statistics per business."""

from __future__ import annotations

from graphql_api.core.db.queries.applications import (
    AnyApplication,
    ApplicationRow,
    application_counts,
    application_pages,
    applications_by_ids,
    success_rates,
)
from graphql_api.core.pagination import Page
from loaders.base import ByIdLoader
from loaders.pages import GroupedLoader, PageKey, ParentOnlyKey


# Mutations prime it with ORM instances; reads fill it with rows.
class ApplicationByIdLoader(ByIdLoader[AnyApplication]):
    fetch = staticmethod(applications_by_ids)


class ApplicationsByBusinessIdLoader(GroupedLoader[PageKey, Page[ApplicationRow]]):
    """A page of a business's applications, newest first (`Business.applications`)."""

    async def fetch(self, parent_ids: list[int], args: PageKey) -> dict[int, Page[ApplicationRow]]:
        return await application_pages(
            self.db, business_ids=parent_ids, first=args.first, after=args.after
        )


class ApplicationCountByBusinessIdLoader(GroupedLoader[ParentOnlyKey, int]):
    """How many applications a business made (`totalCount` of `Business.applications`)."""

    async def fetch(self, parent_ids: list[int], args: ParentOnlyKey) -> dict[int, int]:
        counts = await application_counts(self.db, business_ids=parent_ids)
        return {pid: counts.get(pid, 0) for pid in parent_ids}


class SuccessRateByBusinessIdLoader(GroupedLoader[ParentOnlyKey, float | None]):
    """Approved / decided applications of a business (`Business.successRate`)."""

    async def fetch(self, parent_ids: list[int], args: ParentOnlyKey) -> dict[int, float | None]:
        return await success_rates(self.db, business_ids=parent_ids)
