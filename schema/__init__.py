"""The GraphQL schema: root types composed from the domain packages."""

from __future__ import annotations

from strawberry.extensions import MaxTokensLimiter, ParserCache, QueryDepthLimiter, ValidationCache
from strawberry.schema.config import StrawberryConfig
from strawberry.tools import merge_types

import schema.businesses.queries  # registers Business for `node`
from schema.accounts.queries import AccountQueries
from schema.announcements.queries import AnnouncementQueries
from schema.briefings.queries import BriefingQueries
from schema.businesses.types import BusinessType
from schema.dashboard.queries import DashboardQueries
from schema.extensions import ApiSchema
from schema.node import NodeQueries
from schema.portfolios.queries import PortfolioQueries

Query = merge_types(
    "Query",
    (
        NodeQueries,
        AnnouncementQueries,
        AccountQueries,
        PortfolioQueries,
        DashboardQueries,
        BriefingQueries,
    ),
)
Query.__strawberry_definition__.description = "Entry points for reading data."  # type: ignore[attr-defined]

MAX_DEPTH = 12


def build_schema(*, max_depth: int = MAX_DEPTH) -> ApiSchema:
    return ApiSchema(
        query=Query,
        types=[BusinessType],
        config=StrawberryConfig(auto_camel_case=True),
        extensions=[
            # Factories: a fresh extension per request; the parse/validate LRU caches are
            # module-level in Strawberry, so they are still shared across requests.
            lambda: ParserCache(maxsize=1024),
            lambda: ValidationCache(maxsize=1024),
            lambda: QueryDepthLimiter(max_depth=max_depth),
            lambda: MaxTokensLimiter(max_token_count=5000),
        ],
    )


schema = build_schema()
