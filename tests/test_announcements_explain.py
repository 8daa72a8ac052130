"""The announcement list pages are read in index order, never sorted whole (issue 9, R16).

The statement is the one `list_announcements` runs (same builder, same parameters),
EXPLAINed on asyncpg with a generic plan: the server prepares it once per connection, so
the draft filter is a parameter and a partial index could not be chosen.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import asyncpg
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from graphql_api.core.db.enums import AnnouncementStatus
from graphql_api.core.db.queries.announcements import (
    SORTS,
    AnnouncementFilters,
    AnnouncementSort,
    _list_query,
    _params,
    _shape,
)
from graphql_api.core.db.rows import asyncpg_dsn
from graphql_api.core.pagination import seek
from tests.factories import make_announcements

COLUMNS = frozenset({"id", "title", "status", "closes_at", "business_id"})


def _nodes(plan: dict[str, Any]) -> Iterator[dict[str, Any]]:
    yield plan
    for child in plan.get("Plans", []):
        yield from _nodes(child)


@pytest.mark.parametrize(
    ("sort", "index"),
    [
        (AnnouncementSort.PUBLISHED_AT_DESC, "ix_announcements_published_at_desc_id"),
        (AnnouncementSort.CLOSES_AT_ASC, "ix_announcements_closes_at_id"),
    ],
)
@pytest.mark.parametrize("include_drafts", [False, True])
async def test_a_page_is_read_in_index_order(
    engine: AsyncEngine, db_url: str, sort: AnnouncementSort, index: str, include_drafts: bool
) -> None:
    await make_announcements(engine, 3000)
    await make_announcements(engine, 300, status=AnnouncementStatus.DRAFT)
    connection = await asyncpg.connect(asyncpg_dsn(db_url))
    try:
        await connection.execute("ANALYZE announcements")
        await connection.execute("SET plan_cache_mode = force_generic_plan")
        filters = AnnouncementFilters()
        where, params = seek(SORTS[sort], first=20, after=None)
        query = _list_query(_shape(filters), sort, where, include_drafts, COLUMNS)
        args = query.args({**params, **_params(filters, now=None)})  # type: ignore[arg-type]
        raw = await connection.fetchval("EXPLAIN (FORMAT JSON) " + query.sql, *args)
    finally:
        await connection.close()
    plan = (json.loads(raw) if isinstance(raw, str) else raw)[0]["Plan"]
    kinds = [node["Node Type"] for node in _nodes(plan)]
    assert "Sort" not in kinds, kinds
    assert "Incremental Sort" not in kinds, kinds
    assert index in {node.get("Index Name") for node in _nodes(plan)}, kinds
