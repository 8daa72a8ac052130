"""Briefing writes: the pipeline's idempotent upsert keyed by date (R3, R9, R12, R15).

`upsert_briefing` runs inside `Database.write()`. It locks the day's row (or inserts it,
race-safe against a concurrent first upsert of the same day), compares a hash of the
normalised content with the stored `content_hash`, and writes only when something changed:
the UPDATE, the glossary links, one audit row and, on publication, one event all happen in
the same transaction, or none of them does.

Cache note (R15): `briefing(date)` and the briefing lists are not cached in Redis yet; when
such a cache lands, its invalidation belongs next to the `changed` branch below (after
commit, like events), so an unchanged re-upsert keeps the cache warm.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import orjson
from sqlalchemy import delete, func, insert, literal, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from graphql_api.core import audit, events
from graphql_api.core.auth.principal import Principal
from graphql_api.core.db.enums import BriefingStatus
from graphql_api.core.db.models import Briefing, BriefingGlossaryTerm, GlossaryTerm


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


@dataclass(frozen=True, slots=True)
class UpsertResult:
    briefing: Briefing
    created: bool
    # False when the stored briefing already had exactly this content (nothing written).
    changed: bool
    # True when this call moved the briefing to PUBLISHED (BRIEFING_PUBLISHED was emitted).
    published: bool


def mentions(text: str, term: str) -> bool:
    """Whether `text` mentions `term`: case-insensitively, as a whole word or phrase.

    The same rule as the demo seed's links, so seeded and upserted briefings agree.
    """
    return re.search(rf"(?<!\w){re.escape(term)}(?!\w)", text, re.IGNORECASE) is not None


async def briefing_for_update(session: AsyncSession, *, day: dt.date) -> Briefing | None:
    """The day's briefing, row-locked until the transaction ends."""
    stmt = select(Briefing).where(Briefing.date == day).with_for_update()
    return (await session.scalars(stmt)).one_or_none()


def _columns(content: BriefingContent, content_hash: str) -> dict[str, Any]:
    return {
        "title": content.title,
        "summary": content.summary,
        "narrative": content.narrative,
        "top_keywords": dict(content.top_keywords),
        "market_snapshot": content.market_snapshot,
        "status": content.status,
        "content_hash": content_hash,
    }


async def insert_briefing(
    session: AsyncSession, *, content: BriefingContent, content_hash: str
) -> Briefing | None:
    """Insert the day's briefing; None when a concurrent upsert inserted it first."""
    published_at = func.now() if content.status is BriefingStatus.PUBLISHED else None
    stmt = (
        pg_insert(Briefing)
        .values(date=content.date, published_at=published_at, **_columns(content, content_hash))
        .on_conflict_do_nothing(index_elements=[Briefing.date])
        .returning(Briefing)
    )
    return (await session.scalars(stmt)).one_or_none()


async def update_briefing(
    session: AsyncSession,
    *,
    briefing_id: int,
    content: BriefingContent,
    content_hash: str,
    publish: bool,
    unpublish: bool,
) -> Briefing:
    """Overwrite the content. `publish` stamps published_at (only on the move to PUBLISHED,
    so republishing unchanged status keeps the first stamp); `unpublish` clears it."""
    values = _columns(content, content_hash)
    if publish:
        values["published_at"] = func.now()
    elif unpublish:
        values["published_at"] = None
    stmt = (
        update(Briefing)
        .where(Briefing.id == briefing_id)
        .values(**values)
        .returning(Briefing)
        .execution_options(synchronize_session=False, populate_existing=True)
    )
    return (await session.scalars(stmt)).one()


async def replace_glossary_links(
    session: AsyncSession, *, briefing_id: int, text: str
) -> list[int]:
    """Recompute which glossary terms the briefing mentions; returns their ids.

    A substring test in SQL narrows the glossary to candidates, the word-boundary rule
    (`mentions`) decides; then the links are replaced.
    """
    candidates = await session.execute(
        select(GlossaryTerm.id, GlossaryTerm.term).where(
            func.strpos(func.lower(literal(text)), func.lower(GlossaryTerm.term)) > 0
        )
    )
    term_ids = sorted(term_id for term_id, term in candidates.all() if mentions(text, term))
    await session.execute(
        delete(BriefingGlossaryTerm).where(BriefingGlossaryTerm.briefing_id == briefing_id)
    )
    if term_ids:
        await session.execute(
            insert(BriefingGlossaryTerm),
            [{"briefing_id": briefing_id, "glossary_term_id": t} for t in term_ids],
        )
    return term_ids


def _changed_fields(row: Briefing, content: BriefingContent) -> list[str]:
    current = {
        "title": row.title,
        "summary": row.summary,
        "narrative": row.narrative,
        "topKeywords": row.top_keywords,
        "marketSnapshot": row.market_snapshot,
        "status": row.status,
    }
    wanted = {
        "title": content.title,
        "summary": content.summary,
        "narrative": content.narrative,
        "topKeywords": dict(content.top_keywords),
        "marketSnapshot": content.market_snapshot,
        "status": content.status,
    }
    return [name for name, value in wanted.items() if current[name] != value]


async def upsert_briefing(
    session: AsyncSession,
    *,
    content: BriefingContent,
    actor: Principal,
    request_id: str | None = None,
) -> UpsertResult:
    """Create or update the day's briefing; a no-op when the content is unchanged."""
    content_hash = content.content_hash()
    row = await briefing_for_update(session, day=content.date)
    if row is None:
        inserted = await insert_briefing(session, content=content, content_hash=content_hash)
        if inserted is None:
            # Another upsert of the same day committed in between: update its row instead.
            row = await briefing_for_update(session, day=content.date)
            assert row is not None  # briefings are never deleted by the API
        else:
            return await _record(
                session,
                inserted,
                content=content,
                actor=actor,
                request_id=request_id,
                created=True,
                changed_fields=[
                    "title",
                    "summary",
                    "narrative",
                    "topKeywords",
                    "marketSnapshot",
                    "status",
                ],
                published=content.status is BriefingStatus.PUBLISHED,
            )

    if row.content_hash == content_hash:
        return UpsertResult(briefing=row, created=False, changed=False, published=False)
    changed_fields = _changed_fields(row, content)
    if not changed_fields:
        # Same content under a missing or outdated hash (rows written before hashing):
        # remember the hash, but nothing changed, so no audit row and no event.
        stmt = (
            update(Briefing)
            .where(Briefing.id == row.id)
            .values(content_hash=content_hash)
            .returning(Briefing)
            .execution_options(synchronize_session=False, populate_existing=True)
        )
        row = (await session.scalars(stmt)).one()
        return UpsertResult(briefing=row, created=False, changed=False, published=False)
    was_published = row.status is BriefingStatus.PUBLISHED
    publish = content.status is BriefingStatus.PUBLISHED and not was_published
    unpublish = was_published and content.status is BriefingStatus.DRAFT
    updated = await update_briefing(
        session,
        briefing_id=row.id,
        content=content,
        content_hash=content_hash,
        publish=publish,
        unpublish=unpublish,
    )
    return await _record(
        session,
        updated,
        content=content,
        actor=actor,
        request_id=request_id,
        created=False,
        changed_fields=changed_fields,
        published=publish,
    )


async def _record(
    session: AsyncSession,
    row: Briefing,
    *,
    content: BriefingContent,
    actor: Principal,
    request_id: str | None,
    created: bool,
    changed_fields: list[str],
    published: bool,
) -> UpsertResult:
    """The side effects of an actual change: glossary links, audit row, event."""
    await replace_glossary_links(session, briefing_id=row.id, text=content.text())
    await audit.record(
        session,
        action="briefing.created" if created else "briefing.updated",
        actor=actor,
        target_type="Briefing",
        target_id=row.id,
        details={
            "date": row.date.isoformat(),
            "status": row.status.value,
            "changed": changed_fields,
            "content_hash": row.content_hash,
        },
        request_id=request_id,
    )
    if published:
        events.emit(
            session, events.BRIEFING_PUBLISHED, {"id": row.id, "date": row.date.isoformat()}
        )
    return UpsertResult(briefing=row, created=created, changed=True, published=published)
