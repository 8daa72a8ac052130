"""`upsertBriefing`: the data pipeline writes the briefing of a day, idempotently (R3, R11)."""

from __future__ import annotations

import datetime as dt
import math
from typing import Annotated, Any

import orjson
import strawberry
from strawberry.scalars import JSON

from graphql_api.core.db import models
from graphql_api.core.db.enums import BriefingStatus as BriefingStatusEnum
from graphql_api.core.db.writes.briefings import BriefingContent, upsert_briefing
from graphql_api.core.validation import Checks
from loaders import Loaders
from schema.briefings.errors import duplicate_keyword
from schema.briefings.permissions import require_briefing_writer
from schema.briefings.types import BriefingStatus, BriefingType
from schema.errors import UserError, UserErrorCode
from schema.types import Info

TITLE_MAX = 200
SUMMARY_MAX = 5_000
NARRATIVE_MAX = 50_000
KEYWORDS_MAX = 50
KEYWORD_MAX = 64
SCORE_MAX = 1_000.0
SNAPSHOT_MAX_BYTES = 64 * 1024


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
    status: BriefingStatus = strawberry.field(  # type: ignore[valid-type]
        default=BriefingStatusEnum.DRAFT,
        description="DRAFT (default) keeps it hidden; PUBLISHED makes it public, stamps "
        "publishedAt and notifies `briefingPublished` subscribers (once, on the change).",
    )


@strawberry.type(description="Result of `upsertBriefing`.")
class BriefingPayload:
    briefing: BriefingType | None = strawberry.field(
        description="The day's briefing as stored now; null when `errors` is not empty."
    )
    changed: bool = strawberry.field(
        description="True when this call created or changed the briefing; false when the "
        "stored briefing already had exactly this content (nothing was written)."
    )
    errors: list[UserError] = strawberry.field(
        description="Why nothing was written; empty on success."
    )


def _plain_text(check: Checks, value: str, path: str, *, max_length: int) -> str | None:
    # Checks.text strips, bounds the length and refuses NUL characters.
    return check.text(value, path, max_length=max_length)


def _keywords(check: Checks, items: list[KeywordScoreInput]) -> dict[str, float]:
    path = "input.topKeywords"
    if len(items) > KEYWORDS_MAX:
        check.fail(UserErrorCode.OUT_OF_RANGE, f"At most {KEYWORDS_MAX} keywords.", path)
        return {}
    scores: dict[str, float] = {}
    for index, item in enumerate(items):
        keyword = _plain_text(
            check, item.keyword, f"{path}.{index}.keyword", max_length=KEYWORD_MAX
        )
        score_path = f"{path}.{index}.score"
        if not math.isfinite(item.score):
            check.fail(UserErrorCode.INVALID_VALUE, "Must be a finite number.", score_path)
        elif not 0 <= item.score <= SCORE_MAX:
            check.fail(UserErrorCode.OUT_OF_RANGE, "Must be between 0 and 1000.", score_path)
        if keyword is None:
            continue
        if keyword in scores:
            check.errors.append(duplicate_keyword(f"{path}.{index}.keyword"))
            continue
        scores[keyword] = float(item.score)
    return scores


def _snapshot(check: Checks, value: Any) -> dict[str, Any] | None:
    path = "input.marketSnapshot"
    if value is None:
        return None
    if not isinstance(value, dict):
        check.fail(UserErrorCode.INVALID_VALUE, "Must be a JSON object.", path)
        return None
    try:
        encoded = orjson.dumps(value)
    except (orjson.JSONEncodeError, TypeError):
        check.fail(UserErrorCode.INVALID_VALUE, "Not representable as JSON.", path)
        return None
    if len(encoded) > SNAPSHOT_MAX_BYTES:
        check.fail(UserErrorCode.TOO_LONG, "At most 64 KB once serialised.", path)
    elif b"\\u0000" in encoded:
        # PostgreSQL's jsonb cannot store NUL characters.
        check.fail(UserErrorCode.INVALID_VALUE, "Must not contain NUL characters.", path)
    return value


def _content(data: BriefingInput) -> tuple[BriefingContent | None, list[UserError]]:
    check = Checks()
    title = _plain_text(check, data.title, "input.title", max_length=TITLE_MAX)
    summary = _plain_text(check, data.summary, "input.summary", max_length=SUMMARY_MAX)
    narrative = _plain_text(check, data.narrative, "input.narrative", max_length=NARRATIVE_MAX)
    keywords = _keywords(check, data.top_keywords)
    snapshot = _snapshot(check, data.market_snapshot)
    if not check.ok or title is None or summary is None or narrative is None:
        return None, check.errors
    content = BriefingContent(
        date=data.date,
        title=title,
        summary=summary,
        narrative=narrative,
        top_keywords=keywords,
        market_snapshot=snapshot,
        status=BriefingStatusEnum(data.status),
    )
    return content, []


def _refresh(loaders: Loaders, row: models.Briefing) -> None:
    """Make the payload (and the rest of this request) see the briefing as just written."""
    loaders.briefing_by_id.clear(row.id).prime(row.id, row)
    loaders.briefing_by_date.clear(row.date).prime(row.date, row)
    loaders.glossary_terms_by_briefing_id.clear(row.id)
    loaders.related_cases_by_briefing_id.clear_all()


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
        content, errors = _content(input)
        if content is None:
            return BriefingPayload(briefing=None, changed=False, errors=errors)
        async with ctx.db.write() as session:
            result = await upsert_briefing(
                session, content=content, actor=ctx.principal, request_id=ctx.request_id
            )
        _refresh(ctx.loaders, result.briefing)
        return BriefingPayload(
            briefing=result.briefing,  # type: ignore[arg-type]
            changed=result.changed,
            errors=[],
        )
