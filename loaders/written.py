"""What a write makes stale in the request's loaders, keyed by the model written.

After a mutation commits, its resolver calls `refresh(loaders, row)` for each row it wrote:
the row's own loaders are primed with it as written (the payload then reads it without a
query), and every relation loader that may list or count it is emptied (their keys carry
paging arguments, so a whole loader is cleared, not one key). One table for every domain,
so a new relation loader is added here once, not to each mutation.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from graphql_api.core.db import models
from loaders import Loaders


@dataclass(frozen=True, slots=True)
class Stale:
    # Loader attribute -> the row attribute that is its key; primed with the written row.
    primed: dict[str, str]
    # Loaders that list, count or aggregate rows of the model: cleared.
    cleared: tuple[str, ...] = field(default=())


STALE: dict[type, Stale] = {
    models.Announcement: Stale(
        {"announcement_by_id": "id"},
        (
            "announcements_by_business_id",
            "announcement_count_by_business_id",
            "matching_announcements_by_business_id",
        ),
    ),
    models.Business: Stale(
        {"business_by_id": "id"},
        ("businesses_by_owner_id", "matching_announcements_by_business_id"),
    ),
    models.Application: Stale(
        {"application_by_id": "id"},
        (
            "application_count_by_announcement_id",
            "applications_by_business_id",
            "application_count_by_business_id",
            "success_rate_by_business_id",
        ),
    ),
    models.Security: Stale({"security_by_id": "id"}, ("portfolio_valuation_by_portfolio_id",)),
    models.Portfolio: Stale(
        {"portfolio_by_id": "id"},
        (
            "portfolios_by_owner_id",
            "holdings_by_portfolio_id",
            "portfolio_valuation_by_portfolio_id",
            "transaction_count_by_portfolio_id",
            "transactions_by_portfolio_id",
        ),
    ),
    models.Transaction: Stale(
        {"transaction_by_id": "id"},
        (
            "transactions_by_portfolio_id",
            "transaction_count_by_portfolio_id",
            "holdings_by_portfolio_id",
            "portfolio_valuation_by_portfolio_id",
        ),
    ),
    models.Briefing: Stale(
        {"briefing_by_id": "id", "briefing_by_date": "date"},
        ("glossary_terms_by_briefing_id", "related_cases_by_briefing_id"),
    ),
    models.User: Stale({"user_by_id": "id"}),
    models.ApiKey: Stale({"api_key_by_id": "id"}),
}


def refresh(loaders: Loaders, row: Any) -> None:
    """Make this request's loaders show `row` as written (see the module docstring)."""
    stale = STALE[type(row)]
    for name, attribute in stale.primed.items():
        key = getattr(row, attribute)
        getattr(loaders, name).clear(key).prime(key, row)
    for name in stale.cleared:
        getattr(loaders, name).clear_all()
