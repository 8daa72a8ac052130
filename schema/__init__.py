"""The GraphQL schema: root types composed from the domain packages."""

from __future__ import annotations

from graphql.validation import ASTValidationRule
from strawberry.extensions import QueryDepthLimiter
from strawberry.schema.config import StrawberryConfig
from strawberry.tools import merge_types
from strawberry.types.base import has_object_definition

from schema.accounts.api_keys import ApiKeyMutations, ApiKeyQueries
from schema.accounts.audit import AuditQueries
from schema.accounts.mutations import AccountMutations
from schema.accounts.queries import AccountQueries
from schema.announcements.mutations import AnnouncementMutations
from schema.announcements.queries import AnnouncementQueries
from schema.announcements.subscriptions import AnnouncementSubscriptions
from schema.briefings.mutations import BriefingMutations
from schema.briefings.queries import BriefingQueries
from schema.briefings.subscriptions import BriefingSubscriptions
from schema.businesses.mutations import BusinessMutations
from schema.businesses.queries import BusinessQueries  # also registers Business, Application
from schema.businesses.types import BusinessType
from schema.cache import mark_cache_hints
from schema.dashboard.queries import DashboardQueries
from schema.extensions import ApiSchema
from schema.fast import streamline
from schema.node import NodeQueries
from schema.portfolios.mutations import PortfolioMutations
from schema.portfolios.queries import PortfolioQueries
from schema.portfolios.subscriptions import PortfolioSubscriptions
from schema.scalars import SCALAR_OVERRIDES


def _root(name: str, types: tuple[type, ...], description: str) -> type:
    """One root type merged from the domains' classes, with its description."""
    merged = merge_types(name, types)
    assert has_object_definition(merged)
    merged.__strawberry_definition__.description = description
    return merged


Query = _root(
    "Query",
    (
        NodeQueries,
        AnnouncementQueries,
        BusinessQueries,
        AccountQueries,
        ApiKeyQueries,
        AuditQueries,
        PortfolioQueries,
        DashboardQueries,
        BriefingQueries,
    ),
    "Entry points for reading data.",
)

# Each domain adds its mutation class here.
MUTATION_TYPES: tuple[type, ...] = (
    AccountMutations,
    ApiKeyMutations,
    BriefingMutations,
    PortfolioMutations,
    AnnouncementMutations,
    BusinessMutations,
)
Mutation = _root("Mutation", MUTATION_TYPES, "Entry points for changing data.")

# Each domain adds its subscription class here (served over WebSocket only, R17).
SUBSCRIPTION_TYPES: tuple[type, ...] = (
    AnnouncementSubscriptions,
    BriefingSubscriptions,
    PortfolioSubscriptions,
)
Subscription = _root(
    "Subscription",
    SUBSCRIPTION_TYPES,
    "Real-time events over WebSocket on /graphql (graphql-transport-ws, or the legacy "
    "graphql-ws protocol); authenticated once per connection from `connection_init`.",
)

MAX_DEPTH = 12


def depth_rules(max_depth: int) -> list[type[ASTValidationRule]]:
    """The depth-limit validation rule, built once per schema.

    A new rule class per request would defeat validation caching (its key includes the
    rules) and grow graphql-core's per-class visitor caches.
    """
    return list(QueryDepthLimiter(max_depth=max_depth).validation_rules)


def build_schema(
    *, max_depth: int = MAX_DEPTH, schema_class: type[ApiSchema] = ApiSchema
) -> ApiSchema:
    """The schema. It carries no Strawberry extensions: every operation runs on the server's
    one execution path (graphql_api/engine), which applies `depth_rules(max_depth)` and the
    size limits when it parses and validates."""
    built = schema_class(
        query=Query,
        mutation=Mutation,
        subscription=Subscription,
        types=[BusinessType],
        config=StrawberryConfig(auto_camel_case=True),
        scalar_overrides=SCALAR_OVERRIDES,
    )
    streamline(built)
    # Who may share each field's answers in the response cache (issue 12).
    mark_cache_hints(built)
    return built


schema = build_schema()
