"""R20 demo data: every domain table filled, reproducible, and internally consistent."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import AsyncIterator
from decimal import ROUND_HALF_EVEN, Decimal
from typing import TYPE_CHECKING, Any

import pytest
from sqlalchemy import Table, Text, and_, case, func, literal, select
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from graphql_api.core.db.enums import AnnouncementStatus, TradeSide
from graphql_api.core.db.models import (
    Announcement,
    ApiKey,
    Application,
    AuditLog,
    Base,
    Briefing,
    BriefingGlossaryTerm,
    Business,
    GlossaryTerm,
    HistoricalCase,
    Holding,
    Portfolio,
    RefreshToken,
    Security,
    Transaction,
    User,
)
from graphql_api.devtools.seed import INITIAL_CASH, AlreadySeededError, is_seeded, seed_demo

if TYPE_CHECKING:
    from tests.conftest import TestPostgres

# A fixed anchor: rows seeded on different days differ by design (windows follow today).
TODAY = dt.date(2026, 3, 2)

EXPECTED_AT_SCALE_1 = {
    "users": 40,
    "businesses": 60,
    "announcements": 200,
    "applications": 300,
    "briefings": 90,
    "historical_cases": 200,
    "glossary_terms": 60,
    "securities": 50,
    "portfolios": 40,
}
DERIVED_TABLES = ("briefing_glossary_terms", "transactions", "holdings")
NOT_SEEDED = (RefreshToken, ApiKey, AuditLog)


def _table(model: Any) -> Table:
    table = model.__table__
    assert isinstance(table, Table)
    return table


async def _count(engine: AsyncEngine, model: Any) -> int:
    async with engine.connect() as conn:
        return int((await conn.execute(select(func.count()).select_from(model))).scalar_one())


async def _rows(engine: AsyncEngine, model: Any) -> list[tuple[Any, ...]]:
    table = _table(model)
    async with engine.connect() as conn:
        result = await conn.execute(select(table).order_by(*table.primary_key.columns))
        return [tuple(row) for row in result]


@pytest.fixture
async def second_engine(pg_server: TestPostgres, template_db: str) -> AsyncIterator[AsyncEngine]:
    name = f"seed_{uuid.uuid4().hex[:12]}"
    await pg_server.create_database(name, template=template_db)
    engine = create_async_engine(pg_server.url(name))
    try:
        yield engine
    finally:
        await engine.dispose()
        await pg_server.drop_database(name)


async def test_seed_fills_every_domain_table(engine: AsyncEngine) -> None:
    assert not await is_seeded(engine)
    counts = await seed_demo(engine, scale=1)
    assert await is_seeded(engine)

    for table, expected in EXPECTED_AT_SCALE_1.items():
        assert counts[table] == expected, table
    for table in DERIVED_TABLES:
        assert counts[table] > 0, table
    for table_name, count in counts.items():
        assert await _count(engine, Base.metadata.tables[table_name]) == count, table_name
    # Credentials and the audit trail only come from real use.
    for unseeded in NOT_SEEDED:
        assert await _count(engine, unseeded) == 0


async def test_announcement_windows_follow_today(engine: AsyncEngine) -> None:
    await seed_demo(engine)
    now = func.now()
    published = Announcement.status == AnnouncementStatus.PUBLISHED
    open_now = and_(
        published,
        Announcement.opens_at <= now,
        (Announcement.closes_at.is_(None)) | (Announcement.closes_at > now),
    )
    closing_this_week = and_(open_now, Announcement.closes_at < now + dt.timedelta(days=7))
    async with engine.connect() as conn:
        by_status = dict(
            (
                await conn.execute(
                    select(Announcement.status, func.count()).group_by(Announcement.status)
                )
            ).all()
        )
        n_open = (await conn.execute(select(func.count()).where(open_now))).scalar_one()
        n_closing = (await conn.execute(select(func.count()).where(closing_this_week))).scalar_one()
        n_posted_by_business = (
            await conn.execute(select(func.count(Announcement.business_id)))
        ).scalar_one()
    assert set(by_status) == set(AnnouncementStatus)
    assert n_open > 0
    assert n_closing > 0
    assert 40 <= n_posted_by_business <= 100  # about a third of 200


async def test_seed_refuses_a_database_with_users(engine: AsyncEngine) -> None:
    await seed_demo(engine, today=TODAY)
    with pytest.raises(AlreadySeededError):
        await seed_demo(engine, today=TODAY)
    assert await _count(engine, User) == EXPECTED_AT_SCALE_1["users"]


async def test_seed_is_deterministic(engine: AsyncEngine, second_engine: AsyncEngine) -> None:
    first = await seed_demo(engine, seed=7, today=TODAY)
    second = await seed_demo(second_engine, seed=7, today=TODAY)
    assert first == second
    for model in (User, Business, Announcement, Application, Briefing, Transaction, Holding):
        assert await _rows(engine, model) == await _rows(second_engine, model), model.__name__


async def test_counts_scale_linearly(engine: AsyncEngine) -> None:
    counts = await seed_demo(engine, scale=2, today=TODAY)
    for table, expected in EXPECTED_AT_SCALE_1.items():
        assert counts[table] == 2 * expected, table


async def test_briefing_content_is_consistent(engine: AsyncEngine) -> None:
    await seed_demo(engine, today=TODAY)
    async with engine.connect() as conn:
        briefings = (
            await conn.execute(
                select(
                    Briefing.id,
                    Briefing.date,
                    Briefing.title,
                    Briefing.summary,
                    Briefing.narrative,
                    Briefing.top_keywords,
                )
            )
        ).all()
        links = (
            await conn.execute(
                select(BriefingGlossaryTerm.briefing_id, GlossaryTerm.term).join(
                    GlossaryTerm, GlossaryTerm.id == BriefingGlossaryTerm.glossary_term_id
                )
            )
        ).all()
        # Related cases are found by keyword overlap through the GIN-indexed ?| operator.
        latest = max(briefings, key=lambda b: b.date)
        related = (
            await conn.execute(
                select(func.count()).where(
                    # A text[] operand: a bare list would be bound as jsonb, which ?| rejects.
                    HistoricalCase.keywords.has_any(literal(list(latest.top_keywords), ARRAY(Text)))
                )
            )
        ).scalar_one()

    assert max(b.date for b in briefings) == TODAY
    assert len({b.date for b in briefings}) == len(briefings)
    for briefing in briefings:
        assert isinstance(briefing.top_keywords, dict)
        assert 5 <= len(briefing.top_keywords) <= 8
        assert all(isinstance(score, int | float) for score in briefing.top_keywords.values())
    texts = {b.id: "\n".join((b.title, b.summary, b.narrative)).lower() for b in briefings}
    assert links
    for briefing_id, term in links:
        assert term.lower() in texts[briefing_id]
    assert related > 0


async def test_portfolios_equal_their_replayed_transactions(engine: AsyncEngine) -> None:
    await seed_demo(engine, today=TODAY)
    buy = Transaction.side == TradeSide.BUY
    notional = Transaction.quantity * Transaction.price
    # Cash effect and net quantity of every trade, summed by the database itself.
    cash_delta = (
        select(
            Transaction.portfolio_id,
            func.sum(
                case((buy, -notional - Transaction.fee), else_=notional - Transaction.fee)
            ).label("delta"),
        )
        .group_by(Transaction.portfolio_id)
        .subquery()
    )
    replayed_cash = select(
        Portfolio.id, Portfolio.base_currency, Portfolio.cash_balance - cash_delta.c.delta
    ).join(cash_delta, cash_delta.c.portfolio_id == Portfolio.id)
    net_quantity = select(
        Transaction.portfolio_id,
        Transaction.security_id,
        func.sum(case((buy, Transaction.quantity), else_=-Transaction.quantity)),
    ).group_by(Transaction.portfolio_id, Transaction.security_id)
    mismatched_currency = (
        select(func.count())
        .select_from(Transaction)
        .join(Portfolio, Portfolio.id == Transaction.portfolio_id)
        .join(Security, Security.id == Transaction.security_id)
        .where(Security.currency != Portfolio.base_currency)
    )
    async with engine.connect() as conn:
        initial = (await conn.execute(replayed_cash)).all()
        replayed = {(p, s): q for p, s, q in (await conn.execute(net_quantity)).all() if q != 0}
        holdings = {
            (h.portfolio_id, h.security_id): h
            for h in (
                await conn.execute(
                    select(Holding.portfolio_id, Holding.security_id, Holding.quantity,
                           Holding.average_cost)
                )
            ).all()
        }  # fmt: skip
        trades = (
            await conn.execute(
                select(
                    Transaction.portfolio_id,
                    Transaction.security_id,
                    Transaction.side,
                    Transaction.quantity,
                    Transaction.price,
                ).order_by(Transaction.portfolio_id, Transaction.executed_at, Transaction.id)
            )
        ).all()
        n_portfolios = (
            await conn.execute(select(func.count()).select_from(Portfolio))
        ).scalar_one()
        assert (await conn.execute(mismatched_currency)).scalar_one() == 0

    # cash_balance - (what the trades did to cash) is the starting amount, for every portfolio.
    assert len(initial) == n_portfolios
    for portfolio_id, currency, start in initial:
        assert start == INITIAL_CASH[currency], portfolio_id
    # Holdings are exactly the non-zero net positions.
    assert {key: h.quantity for key, h in holdings.items()} == replayed

    # Weighted average cost, replayed trade by trade in execution order.
    quantity: dict[tuple[int, int], Decimal] = {}
    average: dict[tuple[int, int], Decimal] = {}
    for portfolio_id, security_id, side, qty, price in trades:
        key = (portfolio_id, security_id)
        held = quantity.get(key, Decimal(0))
        if side is TradeSide.BUY:
            cost = held * average.get(key, Decimal(0)) + qty * price
            average[key] = (cost / (held + qty)).quantize(
                Decimal("0.000001"), rounding=ROUND_HALF_EVEN
            )
            quantity[key] = held + qty
        else:
            assert qty <= held, "a sell never exceeds the position"
            quantity[key] = held - qty
            if quantity[key] == 0:
                average[key] = Decimal(0)
    for key, holding in holdings.items():
        assert holding.average_cost == average[key], key
