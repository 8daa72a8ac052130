"""DataLoaders, named <Thing>By<Key>Loader and created fresh for every request."""

from __future__ import annotations

from dataclasses import dataclass

from graphql_api.core.db.engine import Database
from loaders.accounts import ApiKeyByIdLoader, AuditLogByIdLoader, UserByIdLoader
from loaders.announcements import AnnouncementByIdLoader, ApplicationCountByAnnouncementIdLoader
from loaders.applications import (
    ApplicationByIdLoader,
    ApplicationCountByBusinessIdLoader,
    ApplicationsByBusinessIdLoader,
    SuccessRateByBusinessIdLoader,
)
from loaders.briefings import (
    BriefingByDateLoader,
    BriefingByIdLoader,
    GlossaryTermByIdLoader,
    GlossaryTermsByBriefingIdLoader,
    HistoricalCaseByIdLoader,
    RelatedCasesByBriefingIdLoader,
)
from loaders.businesses import (
    AnnouncementCountByBusinessIdLoader,
    AnnouncementsByBusinessIdLoader,
    BusinessByIdLoader,
    BusinessesByOwnerIdLoader,
    MatchingAnnouncementsByBusinessIdLoader,
)
from loaders.portfolios import (
    HoldingsByPortfolioIdLoader,
    PortfolioByIdLoader,
    PortfoliosByOwnerIdLoader,
    PortfolioValuationByPortfolioIdLoader,
    SecurityByIdLoader,
    TransactionByIdLoader,
    TransactionCountByPortfolioIdLoader,
    TransactionsByPortfolioIdLoader,
)


@dataclass(slots=True)
class Loaders:
    announcement_by_id: AnnouncementByIdLoader
    application_count_by_announcement_id: ApplicationCountByAnnouncementIdLoader
    business_by_id: BusinessByIdLoader
    businesses_by_owner_id: BusinessesByOwnerIdLoader
    announcements_by_business_id: AnnouncementsByBusinessIdLoader
    announcement_count_by_business_id: AnnouncementCountByBusinessIdLoader
    matching_announcements_by_business_id: MatchingAnnouncementsByBusinessIdLoader
    application_by_id: ApplicationByIdLoader
    applications_by_business_id: ApplicationsByBusinessIdLoader
    application_count_by_business_id: ApplicationCountByBusinessIdLoader
    success_rate_by_business_id: SuccessRateByBusinessIdLoader
    briefing_by_id: BriefingByIdLoader
    briefing_by_date: BriefingByDateLoader
    historical_case_by_id: HistoricalCaseByIdLoader
    glossary_term_by_id: GlossaryTermByIdLoader
    related_cases_by_briefing_id: RelatedCasesByBriefingIdLoader
    glossary_terms_by_briefing_id: GlossaryTermsByBriefingIdLoader
    user_by_id: UserByIdLoader
    api_key_by_id: ApiKeyByIdLoader
    audit_log_by_id: AuditLogByIdLoader
    security_by_id: SecurityByIdLoader
    portfolio_by_id: PortfolioByIdLoader
    portfolios_by_owner_id: PortfoliosByOwnerIdLoader
    holdings_by_portfolio_id: HoldingsByPortfolioIdLoader
    portfolio_valuation_by_portfolio_id: PortfolioValuationByPortfolioIdLoader
    transaction_by_id: TransactionByIdLoader
    transactions_by_portfolio_id: TransactionsByPortfolioIdLoader
    transaction_count_by_portfolio_id: TransactionCountByPortfolioIdLoader


def create_loaders(db: Database) -> Loaders:
    return Loaders(
        announcement_by_id=AnnouncementByIdLoader(db),
        application_count_by_announcement_id=ApplicationCountByAnnouncementIdLoader(db),
        business_by_id=BusinessByIdLoader(db),
        businesses_by_owner_id=BusinessesByOwnerIdLoader(db),
        announcements_by_business_id=AnnouncementsByBusinessIdLoader(db),
        announcement_count_by_business_id=AnnouncementCountByBusinessIdLoader(db),
        matching_announcements_by_business_id=MatchingAnnouncementsByBusinessIdLoader(db),
        application_by_id=ApplicationByIdLoader(db),
        applications_by_business_id=ApplicationsByBusinessIdLoader(db),
        application_count_by_business_id=ApplicationCountByBusinessIdLoader(db),
        success_rate_by_business_id=SuccessRateByBusinessIdLoader(db),
        briefing_by_id=BriefingByIdLoader(db),
        briefing_by_date=BriefingByDateLoader(db),
        historical_case_by_id=HistoricalCaseByIdLoader(db),
        glossary_term_by_id=GlossaryTermByIdLoader(db),
        related_cases_by_briefing_id=RelatedCasesByBriefingIdLoader(db),
        glossary_terms_by_briefing_id=GlossaryTermsByBriefingIdLoader(db),
        user_by_id=UserByIdLoader(db),
        api_key_by_id=ApiKeyByIdLoader(db),
        audit_log_by_id=AuditLogByIdLoader(db),
        security_by_id=SecurityByIdLoader(db),
        portfolio_by_id=PortfolioByIdLoader(db),
        portfolios_by_owner_id=PortfoliosByOwnerIdLoader(db),
        holdings_by_portfolio_id=HoldingsByPortfolioIdLoader(db),
        portfolio_valuation_by_portfolio_id=PortfolioValuationByPortfolioIdLoader(db),
        transaction_by_id=TransactionByIdLoader(db),
        transactions_by_portfolio_id=TransactionsByPortfolioIdLoader(db),
        transaction_count_by_portfolio_id=TransactionCountByPortfolioIdLoader(db),
    )
