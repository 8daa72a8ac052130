"""GraphQL types of the briefings domain: briefings, historical cases, glossary terms."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

import strawberry
from strawberry.scalars import JSON

from graphql_api.core.db.enums import BriefingStatus
from graphql_api.core.db.queries.briefings import (
    BRIEFING_CLASSES,
    GLOSSARY_TERM_CLASSES,
    HISTORICAL_CASE_CLASSES,
    AnyBriefing,
    GlossaryTermRow,
    HistoricalCaseRow,
)
from graphql_api.core.errors import BadUserInput
from schema.types import Connection, Info, Node, described_enum, node_type

RELATED_CASES_DEFAULT = 5
RELATED_CASES_MAX = 100

described_enum(
    BriefingStatus,
    name="BriefingStatus",
    description="Whether a briefing is public yet.",
    values={
        "DRAFT": "Written by the pipeline but not public; visible to admins and services "
        "with briefings:write only.",
        "PUBLISHED": "Public: visible to everyone.",
    },
)


@strawberry.input(description="Narrows a briefing list; every given criterion must hold.")
class BriefingFilter:
    keywords_any: list[str] | None = strawberry.field(
        default=None,
        description="At least one of these is among the briefing's top keywords (exact, "
        "case-sensitive match). An empty list matches nothing. At most 50 keywords.",
    )
    keywords_all: list[str] | None = strawberry.field(
        default=None,
        description="Every one of these is among the briefing's top keywords (exact, "
        "case-sensitive match). An empty list matches everything. At most 50 keywords.",
    )
    date_from: dt.date | None = strawberry.field(
        default=None, name="from", description="Earliest briefing date, inclusive."
    )
    date_to: dt.date | None = strawberry.field(
        default=None, name="to", description="Latest briefing date, inclusive."
    )


@strawberry.type(description="A keyword of a briefing with its importance score.")
class KeywordScore:
    keyword: str = strawberry.field(description="The keyword.")
    score: float = strawberry.field(description="Importance score; higher is more important.")


@node_type(
    "HistoricalCase",
    HISTORICAL_CASE_CLASSES,
    description="A past market event, related to briefings by shared keywords.",
)
class HistoricalCaseType(Node):
    title: str = strawberry.field(description="Short name of the event.")
    summary: str = strawberry.field(description="What happened and why it mattered.")
    occurred_on: dt.date = strawberry.field(description="Day the event happened (or began).")
    keywords: list[str] = strawberry.field(description="Keywords describing the event.")
    source_url: str | None = strawberry.field(description="Link to a source about the event.")


@node_type(
    "GlossaryTerm",
    GLOSSARY_TERM_CLASSES,
    description="A market term and its plain definition.",
)
class GlossaryTermType(Node):
    term: str = strawberry.field(description="The term, as usually written.")
    definition: str = strawberry.field(description="What the term means.")


@node_type(
    "Briefing",
    BRIEFING_CLASSES,
    description="The daily market briefing (one per day), written by the data pipeline.",
)
class BriefingType(Node):
    date: dt.date = strawberry.field(description="The day the briefing covers.")
    title: str = strawberry.field(description="Headline of the day.")
    summary: str = strawberry.field(description="A few sentences on the day's market.")
    narrative: str = strawberry.field(description="The full briefing text.")
    market_snapshot: JSON | None = strawberry.field(
        description="Market figures of the day (indices, rates, currencies) as the pipeline "
        "wrote them."
    )
    status: BriefingStatus = strawberry.field(
        description="DRAFT or PUBLISHED; drafts are visible to admins and services only."
    )
    published_at: dt.datetime | None = strawberry.field(
        description="When it was published; null for drafts."
    )

    @strawberry.field(
        description="The day's keywords with their scores, highest score first "
        "(ties alphabetically)."
    )
    @staticmethod
    def top_keywords(root: strawberry.Parent[AnyBriefing]) -> list[KeywordScore]:
        scores = [
            KeywordScore(keyword=keyword, score=float(score))
            for keyword, score in root.top_keywords.items()
        ]
        scores.sort(key=lambda item: (-item.score, item.keyword))
        return scores

    @strawberry.field(
        description="Historical cases sharing keywords with this briefing's top keywords: "
        "most shared keywords first, then the most recent.",
        graphql_type=list[HistoricalCaseType],
    )
    @staticmethod
    async def related_cases(
        root: strawberry.Parent[AnyBriefing],
        info: Info,
        first: Annotated[
            int | None,
            strawberry.argument(
                description=f"How many cases: default {RELATED_CASES_DEFAULT}, "
                f"at most {RELATED_CASES_MAX}."
            ),
        ] = None,
    ) -> list[HistoricalCaseRow]:
        limit = RELATED_CASES_DEFAULT if first is None else first
        if not 0 <= limit <= RELATED_CASES_MAX:
            raise BadUserInput(f"`first` must be between 0 and {RELATED_CASES_MAX}.", field="first")
        if limit == 0:
            return []
        return await info.context.loaders.related_cases_by_briefing_id.load((root.id, limit))

    @strawberry.field(
        description="Glossary terms the briefing mentions, alphabetically.",
        graphql_type=list[GlossaryTermType],
    )
    @staticmethod
    async def glossary_terms(
        root: strawberry.Parent[AnyBriefing], info: Info
    ) -> list[GlossaryTermRow]:
        return await info.context.loaders.glossary_terms_by_briefing_id.load(root.id)


BriefingConnection = Connection[BriefingType]
HistoricalCaseConnection = Connection[HistoricalCaseType]
GlossaryTermConnection = Connection[GlossaryTermType]
