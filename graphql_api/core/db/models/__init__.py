"""Every model, imported so that ``Base.metadata`` is complete for Alembic and the tests."""

from __future__ import annotations

from graphql_api.core.db.base import Base
from graphql_api.core.db.models.accounts import ApiKey, AuditLog, RefreshToken, User
from graphql_api.core.db.models.announcements import SEARCH_CONFIG, Announcement
from graphql_api.core.db.models.briefings import (
    Briefing,
    BriefingGlossaryTerm,
    GlossaryTerm,
    HistoricalCase,
)
from graphql_api.core.db.models.businesses import Application, Business
from graphql_api.core.db.models.portfolios import Holding, Portfolio, Security, Transaction

__all__ = [
    "SEARCH_CONFIG",
    "Announcement",
    "ApiKey",
    "Application",
    "AuditLog",
    "Base",
    "Briefing",
    "BriefingGlossaryTerm",
    "Business",
    "GlossaryTerm",
    "HistoricalCase",
    "Holding",
    "Portfolio",
    "RefreshToken",
    "Security",
    "Transaction",
    "User",
]
