"""Briefing, historical case and glossary queries: thin resolvers over
graphql_api.core.db.queries.briefings (R3)."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

import strawberry

from graphql_api.core.db.queries.briefings import (
    AnyBriefing,
    BriefingFilters,
    BriefingRow,
    GlossaryTermRow,
    HistoricalCaseRow,
    count_briefings,
    count_glossary_terms,
    count_historical_cases,
    list_briefings,
    list_glossary_terms,
    list_historical_cases,
)
from graphql_api.core.errors import BadUserInput
from schema.briefings.permissions import can_see_briefing, can_see_draft_briefings
from schema.briefings.types import (
    BriefingConnection,
    BriefingFilter,
    BriefingType,
    GlossaryTermConnection,
    HistoricalCaseConnection,
)
from schema.cache import Scope, cache_hint
from schema.node import register
from schema.types import AfterArg, Connection, FirstArg, Info, paginate

MAX_KEYWORDS = 50
MAX_KEYWORD_LENGTH = 100
MAX_SEARCH_LENGTH = 100


def _visible(info: Info, row: AnyBriefing) -> bool:
    return can_see_briefing(info.context.principal, row)


register("Briefing", lambda info, pk: info.context.loaders.briefing_by_id.load(pk), _visible)
register("HistoricalCase", lambda info, pk: info.context.loaders.historical_case_by_id.load(pk))
register("GlossaryTerm", lambda info, pk: info.context.loaders.glossary_term_by_id.load(pk))


def _keywords(values: list[str] | None, *, field: str) -> list[str] | None:
    """Validated keywords (R11), duplicates dropped; None when the argument was not given."""
    if values is None:
        return None
    if len(values) > MAX_KEYWORDS:
        raise BadUserInput(f"At most {MAX_KEYWORDS} keywords.", field=field)
    if any(not value or len(value) > MAX_KEYWORD_LENGTH for value in values):
        raise BadUserInput(
            f"Keywords must be 1 to {MAX_KEYWORD_LENGTH} characters long.", field=field
        )
    return list(dict.fromkeys(values))


def _filters(value: BriefingFilter | None) -> BriefingFilters:
    if value is None:
        return BriefingFilters()
    if value.date_from and value.date_to and value.date_from > value.date_to:
        raise BadUserInput("`from` must not be after `to`.", field="filter.from")
    return BriefingFilters(
        keywords_any=_keywords(value.keywords_any, field="filter.keywordsAny"),
        keywords_all=_keywords(value.keywords_all, field="filter.keywordsAll"),
        date_from=value.date_from,
        date_to=value.date_to,
    )


def _search(value: str | None) -> str | None:
    if value is None:
        return None
    if len(value) > MAX_SEARCH_LENGTH:
        raise BadUserInput(f"At most {MAX_SEARCH_LENGTH} characters.", field="search")
    return value.strip() or None


@strawberry.type
class BriefingQueries:
    @strawberry.field(
        description="Daily briefings, newest first. Drafts appear only for admins and "
        "services with briefings:write.",
        graphql_type=BriefingConnection,
    )
    @cache_hint(Scope.ROLE)
    async def briefings(
        self,
        info: Info,
        first: FirstArg = None,
        after: AfterArg = None,
        filter: Annotated[
            BriefingFilter | None,
            strawberry.argument(description="Criteria every returned briefing meets."),
        ] = None,
    ) -> Connection[BriefingRow]:
        ctx = info.context
        filters = _filters(filter)
        include_drafts = can_see_draft_briefings(ctx.principal)
        return await paginate(
            first,
            lambda size: list_briefings(
                ctx.db, filters=filters, first=size, after=after, include_drafts=include_drafts
            ),
            lambda: count_briefings(ctx.db, filters=filters, include_drafts=include_drafts),
        )

    @strawberry.field(
        description="The briefing of one day; null when there is none (or it is a draft "
        "the caller may not see).",
        graphql_type=BriefingType | None,
    )
    @cache_hint(Scope.ROLE)
    async def briefing(
        self,
        info: Info,
        date: Annotated[dt.date, strawberry.argument(description="The day.")],
    ) -> AnyBriefing | None:
        ctx = info.context
        row = await ctx.loaders.briefing_by_date.load(date)
        if row is None or not can_see_briefing(ctx.principal, row):
            return None
        return row

    @strawberry.field(
        description="Historical market events, most recent first.",
        graphql_type=HistoricalCaseConnection,
    )
    async def historical_cases(
        self,
        info: Info,
        first: FirstArg = None,
        after: AfterArg = None,
        keywords_any: Annotated[
            list[str] | None,
            strawberry.argument(
                description="Only cases with at least one of these keywords (exact, "
                "case-sensitive match). An empty list matches nothing. At most 50."
            ),
        ] = None,
    ) -> Connection[HistoricalCaseRow]:
        db = info.context.db
        keywords = _keywords(keywords_any, field="keywordsAny")
        return await paginate(
            first,
            lambda size: list_historical_cases(db, keywords_any=keywords, first=size, after=after),
            lambda: count_historical_cases(db, keywords_any=keywords),
        )

    @strawberry.field(
        description="Glossary of market terms, alphabetically (ignoring case).",
        graphql_type=GlossaryTermConnection,
    )
    async def glossary(
        self,
        info: Info,
        first: FirstArg = None,
        after: AfterArg = None,
        search: Annotated[
            str | None,
            strawberry.argument(
                description="Only terms containing this text, ignoring case (so also "
                "prefixes); taken literally, `%` and `_` are not wildcards. At most 100 "
                "characters."
            ),
        ] = None,
    ) -> Connection[GlossaryTermRow]:
        db = info.context.db
        text = _search(search)
        return await paginate(
            first,
            lambda size: list_glossary_terms(db, search=text, first=size, after=after),
            lambda: count_glossary_terms(db, search=text),
        )
