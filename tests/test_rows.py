"""The lean read path (graphql_api.core.db.rows): rows read exactly like ORM instances, statements
are counted and observable, slow ones are logged without their parameters."""

from __future__ import annotations

import inspect
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Float, Interval, bindparam, func, insert, literal_column, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from graphql_api.core.config import Environment, Settings
from graphql_api.core.db.engine import Database, statement_counter
from graphql_api.core.db.models import (
    Announcement,
    ApiKey,
    Application,
    AuditLog,
    Base,
    Briefing,
    Business,
    GlossaryTerm,
    HistoricalCase,
    Portfolio,
    Security,
    Transaction,
    User,
)
from graphql_api.core.db.queries.accounts import UserRow, user_rows_by_ids
from graphql_api.core.db.queries.announcements import AnnouncementRow, announcements_by_ids
from graphql_api.core.db.queries.api_keys import ApiKeyRow, api_keys_by_ids
from graphql_api.core.db.queries.applications import ApplicationRow, applications_by_ids
from graphql_api.core.db.queries.audit import AuditLogRow, audit_logs_by_ids
from graphql_api.core.db.queries.briefings import (
    BriefingRow,
    GlossaryTermRow,
    HistoricalCaseRow,
    briefing_rows_by_ids,
    glossary_terms_by_ids,
    historical_cases_by_ids,
)
from graphql_api.core.db.queries.businesses import BusinessRow, business_rows_by_ids
from graphql_api.core.db.queries.portfolios import (
    PortfolioRow,
    SecurityRow,
    TransactionRow,
    portfolios_by_ids,
    securities_by_ids,
    transactions_by_ids,
)
from graphql_api.core.db.rows import Row, prepare
from graphql_api.devtools.seed import seed_demo

Fetch = Callable[..., Awaitable[Sequence[Row]]]

# (lean reader by ids, its row class, the ORM model it must read like)
CASES: list[tuple[Fetch, type[Row], type[Base]]] = [
    (announcements_by_ids, AnnouncementRow, Announcement),
    (business_rows_by_ids, BusinessRow, Business),
    (applications_by_ids, ApplicationRow, Application),
    (briefing_rows_by_ids, BriefingRow, Briefing),
    (historical_cases_by_ids, HistoricalCaseRow, HistoricalCase),
    (glossary_terms_by_ids, GlossaryTermRow, GlossaryTerm),
    (securities_by_ids, SecurityRow, Security),
    (portfolios_by_ids, PortfolioRow, Portfolio),
    (transactions_by_ids, TransactionRow, Transaction),
    (user_rows_by_ids, UserRow, User),
    (api_keys_by_ids, ApiKeyRow, ApiKey),
    (audit_logs_by_ids, AuditLogRow, AuditLog),
]


@pytest.fixture
async def db(db_url: str) -> AsyncIterator[Database]:
    database = Database(Settings(env=Environment.TEST, slow_query_ms=10_000), url=db_url)
    try:
        yield database
    finally:
        await database.dispose()


async def _add_keys_and_audit_entries(engine: AsyncEngine) -> None:
    """The seed writes neither API keys nor audit entries; a few of each, nulls included."""
    now = datetime.now(UTC)
    async with engine.begin() as conn:
        admin = (await conn.execute(select(User.id).limit(1))).scalar_one()
        keys = [
            {"name": "feed", "prefix": "aaaa1111", "key_hash": "a" * 64,
             "scopes": ["prices:write"], "created_by_id": admin,
             "expires_at": now + timedelta(days=30), "revoked_at": None, "last_used_at": None},
            {"name": "old", "prefix": "bbbb2222", "key_hash": "b" * 64, "scopes": [],
             "created_by_id": None, "expires_at": now, "revoked_at": now, "last_used_at": now},
        ]  # fmt: skip
        [first, _] = (await conn.execute(insert(ApiKey).returning(ApiKey.id), keys)).scalars()
        entries = [
            {"actor_user_id": admin, "actor_api_key_id": None, "action": "user.login",
             "target_type": None, "target_id": None, "success": True, "ip": "127.0.0.1",
             "request_id": "r1", "details": {"n": 1, "x": [1.5, None]}},
            {"actor_user_id": None, "actor_api_key_id": first, "action": "prices.updated",
             "target_type": "Security", "target_id": "7", "success": False, "ip": None,
             "request_id": None, "details": {}},
        ]  # fmt: skip
        await conn.execute(insert(AuditLog), entries)


@pytest.mark.parametrize(
    ("fetch", "row_class", "model"), CASES, ids=[model.__name__ for _, _, model in CASES]
)
async def test_rows_read_exactly_like_orm_instances(
    engine: AsyncEngine, db: Database, fetch: Fetch, row_class: type[Row], model: type[Base]
) -> None:
    await seed_demo(engine, scale=1)
    await _add_keys_and_audit_entries(engine)
    async with AsyncSession(engine) as session:
        instances = {obj.id: obj for obj in (await session.scalars(select(model))).all()}
    rows = await fetch(db, ids=list(instances))
    assert len(rows) == len(instances) > 0
    columns = inspect.get_annotations(row_class)
    for row in rows:
        assert isinstance(row, row_class)
        instance = instances[row.id]  # type: ignore[attr-defined]  # columns of a generated Row class
        for name in columns:
            got, want = getattr(row, name), getattr(instance, name)
            # Same value AND same type: resolvers compare enum members with `is`, and
            # Decimal/datetime/list types must not drift between the two paths.
            assert type(got) is type(want), (model.__name__, name, got, want)
            assert got == want, (model.__name__, name)


async def test_prepare_refuses_statements_it_cannot_serve_faithfully() -> None:
    with pytest.raises(ValueError, match="expanding IN"):
        prepare(select(Business.id).where(Business.id.in_([1, 2])), Row)
    with pytest.raises(TypeError, match="no lean reader"):
        prepare(select(literal_column("interval '1 day'", Interval).label("span")), Row)
    with pytest.raises(ValueError, match="needs columns"):
        prepare(select(Business.id), BusinessRow)


async def test_parameters_are_checked_by_name(db: Database) -> None:
    query = prepare(select(Business.id).where(Business.id == bindparam("id")), Row)
    with pytest.raises(TypeError, match="missing parameter"):
        await db.fetch(query, other=1)
    with pytest.raises(TypeError, match="expected parameters"):
        await db.fetch(query, id=1, extra=2)
    assert await db.fetch(query, id=1) == []


async def test_statements_are_counted_and_observable(db: Database) -> None:
    seen: list[str] = []
    db.add_statement_listener(seen.append)
    counter = [0]
    token = statement_counter.set(counter)
    try:
        await business_rows_by_ids(db, ids=[1, 2, 3])
        await business_rows_by_ids(db, ids=[4])
    finally:
        statement_counter.reset(token)
        db.remove_statement_listener(seen.append)
    assert counter == [2]
    assert len(seen) == 2
    assert "= ANY" in seen[0]
    assert seen[0] == seen[1]
    await business_rows_by_ids(db, ids=[5])
    assert len(seen) == 2


async def test_slow_statements_are_logged_without_parameters(
    db_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    database = Database(Settings(env=Environment.TEST, slow_query_ms=5), url=db_url)
    query = prepare(
        select(func.count().label("n")).select_from(
            func.pg_sleep(bindparam("seconds", type_=Float))
        ),
        Row,
    )
    try:
        with caplog.at_level(logging.WARNING, logger="graphql_api.sql"):
            await database.fetch(query, seconds=0.02)
    finally:
        await database.dispose()
    [record] = [r for r in caplog.records if r.getMessage() == "slow query"]
    extra: dict[str, Any] = record.__dict__
    assert "pg_sleep" in extra["statement"]
    assert extra["duration_ms"] >= 5
    assert "0.02" not in extra["statement"]
