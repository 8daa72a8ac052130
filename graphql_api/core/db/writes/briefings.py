"""Briefing writes: the day's row (locked, inserted race-safely, updated) and its glossary
links (R3, R12).

Pure data access; when to write, and what counts as a change, is
`graphql_api.services.briefings`. `values` are column -> value maps of the content columns
(title, summary, narrative, top_keywords, market_snapshot, status, content_hash).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import delete, func, insert, literal, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from graphql_api.core.db.models import Briefing, BriefingGlossaryTerm, GlossaryTerm


async def briefing_for_update(session: AsyncSession, *, day: dt.date) -> Briefing | None:
    """The day's briefing, row-locked until the transaction ends."""
    stmt = select(Briefing).where(Briefing.date == day).with_for_update()
    return (await session.scalars(stmt)).one_or_none()


async def insert_briefing(
    session: AsyncSession, *, day: dt.date, values: Mapping[str, Any], published: bool
) -> Briefing | None:
    """Insert the day's briefing (`published` stamps published_at); None when a concurrent
    insert of the same day won (ON CONFLICT DO NOTHING: no error, no aborted transaction)."""
    stmt = (
        pg_insert(Briefing)
        .values(date=day, published_at=func.now() if published else None, **values)
        .on_conflict_do_nothing(index_elements=[Briefing.date])
        .returning(Briefing)
    )
    return (await session.scalars(stmt)).one_or_none()


async def update_briefing(
    session: AsyncSession,
    *,
    briefing_id: int,
    values: Mapping[str, Any],
    publish: bool = False,
    unpublish: bool = False,
) -> Briefing:
    """Overwrite columns and return the fresh row; `publish` stamps published_at,
    `unpublish` clears it."""
    changes = dict(values)
    if publish:
        changes["published_at"] = func.now()
    elif unpublish:
        changes["published_at"] = None
    stmt = (
        update(Briefing)
        .where(Briefing.id == briefing_id)
        .values(**changes)
        .returning(Briefing)
        .execution_options(synchronize_session=False, populate_existing=True)
    )
    return (await session.scalars(stmt)).one()


async def glossary_terms_in(session: AsyncSession, *, text: str) -> list[tuple[int, str]]:
    """(id, term) of the glossary terms occurring in `text` as a substring, ignoring case: the
    candidates, a superset of the terms it mentions as words."""
    rows = await session.execute(
        select(GlossaryTerm.id, GlossaryTerm.term).where(
            func.strpos(func.lower(literal(text)), func.lower(GlossaryTerm.term)) > 0
        )
    )
    return [(term_id, term) for term_id, term in rows.all()]


async def replace_glossary_links(
    session: AsyncSession, *, briefing_id: int, term_ids: Sequence[int]
) -> None:
    await session.execute(
        delete(BriefingGlossaryTerm).where(BriefingGlossaryTerm.briefing_id == briefing_id)
    )
    if term_ids:
        await session.execute(
            insert(BriefingGlossaryTerm),
            [{"briefing_id": briefing_id, "glossary_term_id": t} for t in term_ids],
        )
