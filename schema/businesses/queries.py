"""Business queries: thin resolvers over graphql_api.core.db.queries.businesses (R2)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Any

import strawberry

from graphql_api.core.db.queries.applications import AnyApplication
from graphql_api.core.db.queries.businesses import (
    AnyBusiness,
    BusinessFilters,
    BusinessRow,
    BusinessSort,
    count_businesses,
    list_businesses,
)
from graphql_api.core.errors import BadUserInput
from schema.businesses.permissions import can_read_private_business_data
from schema.businesses.types import BusinessConnection, BusinessFilter
from schema.node import register
from schema.projection import selected_columns
from schema.types import AfterArg, Connection, FirstArg, Info, paginate

register("Business", lambda info, pk: info.context.loaders.business_by_id.load(pk))


async def _fetch_application(info: Info, pk: int) -> AnyApplication | None:
    """An application only for its business's owner, editors and admins; else as missing."""
    loaders = info.context.loaders
    application: AnyApplication | None = await loaders.application_by_id.load(pk)
    if application is None:
        return None
    business: AnyBusiness | None = await loaders.business_by_id.load(application.business_id)
    if business is None or not can_read_private_business_data(
        info.context.principal, business.owner_id
    ):
        return None
    return application


register("Application", _fetch_application)

MAX_NAME_FILTER = 200
MAX_LIST_FILTER = 100


def _list(values: Sequence[Any] | None, field: str) -> Sequence[Any] | None:
    if values is not None and len(values) > MAX_LIST_FILTER:
        raise BadUserInput(f"At most {MAX_LIST_FILTER} values.", field=field)
    return values


def _text(value: str | None, field: str) -> str | None:
    if value is not None and len(value) > MAX_NAME_FILTER:
        raise BadUserInput(f"At most {MAX_NAME_FILTER} characters.", field=field)
    return value


def _filters(value: BusinessFilter | None) -> BusinessFilters:
    if value is None:
        return BusinessFilters()
    return BusinessFilters(
        industries=_list(value.industry, "filter.industry"),
        sizes=_list(value.size, "filter.size"),
        regions=_list(value.region, "filter.region"),
        name_contains=_text(value.name, "filter.name"),
        name_prefix=_text(value.name_prefix, "filter.namePrefix"),
    )


@strawberry.type
class BusinessQueries:
    @strawberry.field(
        description="Businesses, by name by default. Public fields for everyone; sensitive "
        "fields and applications only for the owner, editors and admins.",
        graphql_type=BusinessConnection,
    )
    async def businesses(
        self,
        info: Info,
        first: FirstArg = None,
        after: AfterArg = None,
        filter: Annotated[
            BusinessFilter | None,
            strawberry.argument(description="Criteria every returned row meets."),
        ] = None,
        order_by: Annotated[
            BusinessSort | None,
            strawberry.argument(description="Ordering; default NAME_ASC."),
        ] = None,
    ) -> Connection[BusinessRow]:
        db = info.context.db
        filters = _filters(filter)
        sort = order_by or BusinessSort.NAME_ASC
        return await paginate(
            first,
            lambda size: list_businesses(
                db,
                filters=filters,
                sort=sort,
                first=size,
                after=after,
                columns=selected_columns(info, "Business"),
            ),
            lambda: count_businesses(db, filters=filters),
        )
