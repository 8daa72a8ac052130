"""Briefing workflows: the pipeline's idempotent upsert of a day's briefing (R3, R9, R12,
R15).

`upsert_briefing` locks the day's row (or inserts it, race-safe against a concurrent first
upsert of the same day), compares a hash of the normalised content with the stored
`content_hash`, and writes only when something changed: the UPDATE, the glossary links, one
audit row and, on publication, one event all happen in the same transaction, or none of
them does.

Cache note (R15): `briefing(date)` and the briefing lists are not cached in Redis yet; when
such a cache lands, its invalidation belongs next to the `changed` branch below (after
commit, like events), so an unchanged re-upsert keeps the cache warm.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

import orjson
from sqlalchemy.ext.asyncio import AsyncSession

from graphql_api.core import audit, events
from graphql_api.core.actor import Actor
from graphql_api.core.db.engine import Database
from graphql_api.core.db.enums import BriefingStatus
from graphql_api.core.db.models import Briefing
from graphql_api.core.db.writes import briefings as writes
from graphql_api.core.errors import UserErrorCode
from graphql_api.core.validation import Checks

TITLE_MAX: Final = 200
SUMMARY_MAX: Final = 5_000
NARRATIVE_MAX: Final = 50_000
KEYWORDS_MAX: Final = 50
KEYWORD_MAX: Final = 64
SCORE_MAX: Final = 1_000.0
SNAPSHOT_MAX_BYTES: Final = 64 * 1024

# Payload names of the content fields, in the order audit rows list them.
_FIELDS: Final = ("title", "summary", "narrative", "topKeywords", "marketSnapshot", "status")


@dataclass(frozen=True, slots=True)
class BriefingContent:
    """A validated, normalised briefing as the pipeline sent it."""

    date: dt.date
    title: str
    summary: str
    narrative: str
    top_keywords: Mapping[str, float]
    market_snapshot: dict[str, Any] | None
    status: BriefingStatus

    def content_hash(self) -> str:
        """SHA-256 of a canonical serialisation: equal content, equal hash, whatever the
        order of keywords or of the snapshot's keys."""
        document = {
            "date": self.date.isoformat(),
            "title": self.title,
            "summary": self.summary,
            "narrative": self.narrative,
            "top_keywords": sorted(self.top_keywords.items()),
            "market_snapshot": self.market_snapshot,
            "status": self.status.value,
        }
        return hashlib.sha256(orjson.dumps(document, option=orjson.OPT_SORT_KEYS)).hexdigest()

    def text(self) -> str:
        return "\n".join((self.title, self.summary, self.narrative))

    def fields(self) -> dict[str, Any]:
        """The content by payload field name (see `_FIELDS`), as stored."""
        return {
            "title": self.title,
            "summary": self.summary,
            "narrative": self.narrative,
            "topKeywords": dict(self.top_keywords),
            "marketSnapshot": self.market_snapshot,
            "status": self.status,
        }

    def columns(self) -> dict[str, Any]:
        """The content columns, with the hash that identifies them."""
        return {
            "title": self.title,
            "summary": self.summary,
            "narrative": self.narrative,
            "top_keywords": dict(self.top_keywords),
            "market_snapshot": self.market_snapshot,
            "status": self.status,
            "content_hash": self.content_hash(),
        }


@dataclass(frozen=True, slots=True)
class Upserted:
    briefing: Briefing
    created: bool
    # False when the stored briefing already had exactly this content (nothing written).
    changed: bool
    # True when this call moved the briefing to PUBLISHED (BRIEFING_PUBLISHED was emitted).
    published: bool


def mention_pattern(term: str) -> re.Pattern[str]:
    """The rule for "a text mentions a glossary term": case-insensitively, as a whole word
    or phrase. The demo seed links its briefings by it too, so both agree."""
    return re.compile(rf"(?<!\w){re.escape(term)}(?!\w)", re.IGNORECASE)


def mentions(text: str, term: str) -> bool:
    return mention_pattern(term).search(text) is not None


# --- Validation -----------------------------------------------------------------------


def briefing_content(
    *,
    date: dt.date,
    title: str,
    summary: str,
    narrative: str,
    top_keywords: Sequence[tuple[str, float]],
    market_snapshot: object = None,
    status: BriefingStatus = BriefingStatus.DRAFT,
) -> BriefingContent:
    """The validated, normalised content, or `Rejected` with every error in field order."""
    check = Checks()
    clean_title = check.text(title, "input.title", max_length=TITLE_MAX)
    clean_summary = check.text(summary, "input.summary", max_length=SUMMARY_MAX)
    clean_narrative = check.text(narrative, "input.narrative", max_length=NARRATIVE_MAX)
    keywords = _keywords(check, top_keywords)
    snapshot = _snapshot(check, market_snapshot)
    check.reject_if_failed()
    # Required values: None only with an error, and there is none.
    assert clean_title is not None
    assert clean_summary is not None
    assert clean_narrative is not None
    return BriefingContent(
        date=date,
        title=clean_title,
        summary=clean_summary,
        narrative=clean_narrative,
        top_keywords=keywords,
        market_snapshot=snapshot,
        status=status,
    )


def _keywords(check: Checks, items: Sequence[tuple[str, float]]) -> dict[str, float]:
    path = "input.topKeywords"
    if len(items) > KEYWORDS_MAX:
        check.fail(UserErrorCode.OUT_OF_RANGE, f"At most {KEYWORDS_MAX} keywords.", path)
        return {}
    scores: dict[str, float] = {}
    for index, (raw_keyword, score) in enumerate(items):
        # Checks.text strips, bounds the length and refuses NUL characters.
        keyword = check.text(raw_keyword, f"{path}.{index}.keyword", max_length=KEYWORD_MAX)
        score_path = f"{path}.{index}.score"
        if not math.isfinite(score):
            check.fail(UserErrorCode.INVALID_VALUE, "Must be a finite number.", score_path)
        elif not 0 <= score <= SCORE_MAX:
            check.fail(UserErrorCode.OUT_OF_RANGE, "Must be between 0 and 1000.", score_path)
        if keyword is None:
            continue
        if keyword in scores:
            check.fail(
                UserErrorCode.DUPLICATE,
                "This keyword is listed twice.",
                f"{path}.{index}.keyword",
            )
            continue
        scores[keyword] = float(score)
    return scores


def _snapshot(check: Checks, value: object) -> dict[str, Any] | None:
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


# --- The upsert -----------------------------------------------------------------------


async def upsert_briefing(
    *,
    db: Database,
    actor: Actor,
    date: dt.date,
    title: str,
    summary: str,
    narrative: str,
    top_keywords: Sequence[tuple[str, float]],
    market_snapshot: object = None,
    status: BriefingStatus = BriefingStatus.DRAFT,
) -> Upserted:
    """Create or update the briefing of `date`; a no-op when the content is unchanged.

    `top_keywords` is (keyword, score) pairs; `market_snapshot` a JSON object or None.
    """
    content = briefing_content(
        date=date,
        title=title,
        summary=summary,
        narrative=narrative,
        top_keywords=top_keywords,
        market_snapshot=market_snapshot,
        status=status,
    )
    async with db.write() as session:
        return await _upsert(session, actor, content)


async def _upsert(session: AsyncSession, actor: Actor, content: BriefingContent) -> Upserted:
    columns = content.columns()
    row = await writes.briefing_for_update(session, day=content.date)
    if row is None:
        published = content.status is BriefingStatus.PUBLISHED
        inserted = await writes.insert_briefing(
            session, day=content.date, values=columns, published=published
        )
        if inserted is not None:
            return await _changed(
                session, actor, inserted, content, list(_FIELDS), created=True, published=published
            )
        # Another upsert of the same day committed in between: update its row instead.
        row = await writes.briefing_for_update(session, day=content.date)
        assert row is not None  # briefings are never deleted by the API

    if row.content_hash == columns["content_hash"]:
        return Upserted(briefing=row, created=False, changed=False, published=False)
    stored = {
        "title": row.title,
        "summary": row.summary,
        "narrative": row.narrative,
        "topKeywords": row.top_keywords,
        "marketSnapshot": row.market_snapshot,
        "status": row.status,
    }
    changed_fields = [name for name, value in content.fields().items() if stored[name] != value]
    if not changed_fields:
        # Same content under a missing or outdated hash (rows written before hashing):
        # remember the hash, but nothing changed, so no audit row and no event.
        row = await writes.update_briefing(
            session, briefing_id=row.id, values={"content_hash": columns["content_hash"]}
        )
        return Upserted(briefing=row, created=False, changed=False, published=False)
    was_published = row.status is BriefingStatus.PUBLISHED
    publish = content.status is BriefingStatus.PUBLISHED and not was_published
    updated = await writes.update_briefing(
        session,
        briefing_id=row.id,
        values=columns,
        # Stamped only on the move to PUBLISHED, so a republished briefing keeps its first.
        publish=publish,
        unpublish=was_published and content.status is BriefingStatus.DRAFT,
    )
    return await _changed(
        session, actor, updated, content, changed_fields, created=False, published=publish
    )


async def _changed(
    session: AsyncSession,
    actor: Actor,
    row: Briefing,
    content: BriefingContent,
    changed_fields: list[str],
    *,
    created: bool,
    published: bool,
) -> Upserted:
    """The side effects of an actual change: glossary links, audit row, event."""
    text = content.text()
    # SQL narrows the glossary to substring candidates; the word rule (`mentions`) decides.
    candidates = await writes.glossary_terms_in(session, text=text)
    term_ids = sorted(term_id for term_id, term in candidates if mentions(text, term))
    await writes.replace_glossary_links(session, briefing_id=row.id, term_ids=term_ids)
    await audit.record_request(
        session,
        actor,
        action="briefing.created" if created else "briefing.updated",
        target_type="Briefing",
        target_id=row.id,
        details={
            "date": row.date.isoformat(),
            "status": row.status.value,
            "changed": changed_fields,
            "content_hash": row.content_hash,
        },
    )
    if published:
        events.emit(
            session, events.BRIEFING_PUBLISHED, {"id": row.id, "date": row.date.isoformat()}
        )
    return Upserted(briefing=row, created=created, changed=True, published=published)
