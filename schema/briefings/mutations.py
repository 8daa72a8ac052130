"""`upsertBriefing`: the data pipeline writes the briefing of a day, idempotently (R3, R11).

The workflow, with its rules and errors, lives in `graphql_api.services.briefings`; the
resolver checks access, passes the input on as plain values and maps the outcome.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated

import strawberry
from strawberry.scalars import JSON

from graphql_api.core.db.enums import BriefingStatus
from graphql_api.core.errors import Rejected
from graphql_api.services import briefings
from loaders.written import refresh
from schema.briefings.permissions import require_briefing_writer
from schema.briefings.types import BriefingType
from schema.errors import UserError
from schema.payloads import Payload
from schema.types import Info


@strawberry.input(description="A keyword of the day with its importance score.")
class KeywordScoreInput:
    keyword: str = strawberry.field(
        description="The keyword, 1 to 64 characters (surrounding spaces are dropped); "
        "matched exactly and case-sensitively by keyword filters."
    )
    score: float = strawberry.field(description="Importance score, from 0 to 1000.")


@strawberry.input(description="The full content of one day's briefing, as the pipeline has it.")
class BriefingInput:
    date: dt.date = strawberry.field(
        description="The day; there is one briefing per day, so this is the upsert key."
    )
    title: str = strawberry.field(description="Headline, 1 to 200 characters.")
    summary: str = strawberry.field(description="Short summary, 1 to 5,000 characters.")
    narrative: str = strawberry.field(description="Full text, 1 to 50,000 characters.")
    top_keywords: list[KeywordScoreInput] = strawberry.field(
        description="The day's keywords with scores: at most 50, no keyword twice."
    )
    market_snapshot: JSON | None = strawberry.field(
        default=None,
        description="Market figures of the day as a JSON object of at most 64 KB "
        "(serialised); null for none.",
    )
    # The stored enum itself: `described_enum` made it the GraphQL BriefingStatus (types).
    status: BriefingStatus = strawberry.field(
        default=BriefingStatus.DRAFT,
        description="DRAFT (default) keeps it hidden; PUBLISHED makes it public, stamps "
        "publishedAt and notifies `briefingPublished` subscribers (once, on the change).",
    )


@strawberry.type(description="Result of `upsertBriefing`.")
class BriefingPayload(Payload):
    briefing: BriefingType | None = strawberry.field(
        description="The day's briefing as stored now; null when `errors` is not empty."
    )
    changed: bool = strawberry.field(
        default=False,
        description="True when this call created or changed the briefing; false when the "
        "stored briefing already had exactly this content (nothing was written).",
    )
    errors: list[UserError] = strawberry.field(
        description="Why nothing was written; empty on success."
    )


@strawberry.type
class BriefingMutations:
    @strawberry.mutation(
        description="Create or update the briefing of `input.date` (admins, and services "
        "with the briefings:write scope). Idempotent: sending the same content again writes "
        "nothing and returns the stored briefing with `changed: false`. Each actual change "
        "is audited and re-links the glossary terms the text mentions."
    )
    async def upsert_briefing(
        self,
        info: Info,
        input: Annotated[
            BriefingInput, strawberry.argument(description="The briefing's full content.")
        ],
    ) -> BriefingPayload:
        ctx = info.context
        require_briefing_writer(ctx.principal)
        try:
            upserted = await briefings.upsert_briefing(
                db=ctx.db,
                actor=ctx.actor,
                date=input.date,
                title=input.title,
                summary=input.summary,
                narrative=input.narrative,
                top_keywords=[(item.keyword, item.score) for item in input.top_keywords],
                market_snapshot=input.market_snapshot,
                status=input.status,
            )
        except Rejected as refusal:
            return BriefingPayload.failed(refusal)
        refresh(ctx.loaders, upserted.briefing)
        return BriefingPayload.ok(briefing=upserted.briefing, changed=upserted.changed)
