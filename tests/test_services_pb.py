"""The portfolio and briefing services called directly, without GraphQL (issue 10).

Against the real database: a refused workflow writes nothing and announces nothing; an
accepted one writes its audit row with the actor's request id and IP, and publishes its
events only after the commit.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from graphql_api.core.actor import Actor
from graphql_api.core.auth.principal import Principal
from graphql_api.core.config import Settings
from graphql_api.core.db.engine import Database
from graphql_api.core.db.enums import BriefingStatus, Role, TradeSide
from graphql_api.core.errors import DomainError, Rejected, UserErrorCode
from graphql_api.core.events import BRIEFING_PUBLISHED, PORTFOLIO_UPDATED, PRICES_UPDATED
from graphql_api.services import briefings, portfolios
from graphql_api.services.inputs import decode_global_id
from tests.factories_briefings import make_glossary_terms
from tests.factories_portfolios import (
    make_holdings,
    make_portfolios,
    make_principal,
    make_securities,
)

NOW = dt.datetime(2026, 3, 2, 9, 30, tzinfo=dt.UTC)
FEE_BPS = 10


@pytest.fixture
async def db(settings: Settings) -> AsyncIterator[Database]:
    database = Database(settings)
    try:
        yield database
    finally:
        await database.dispose()


@pytest.fixture
def published(db: Database) -> list[tuple[str, dict[str, Any]]]:
    """Events as `Database.write` hands them to the publisher, after each commit."""
    sent: list[tuple[str, dict[str, Any]]] = []

    async def publish(topic: str, payload: dict[str, Any]) -> None:
        sent.append((topic, payload))

    db.publisher = publish
    return sent


def actor_for(principal: Principal) -> Actor:
    return Actor(principal, request_id="req-services-pb", ip="203.0.113.7", now=NOW)


async def rows(engine: AsyncEngine, sql: str, **params: Any) -> list[Any]:
    async with engine.connect() as conn:
        return list((await conn.execute(text(sql), params)).all())


async def portfolio_state(engine: AsyncEngine, portfolio_id: int) -> tuple[Any, ...]:
    """Everything a trade may change: cash, holdings, trades."""
    cash = await rows(engine, "SELECT cash_balance FROM portfolios WHERE id = :p", p=portfolio_id)
    holdings = await rows(
        engine,
        "SELECT security_id, quantity, average_cost FROM holdings WHERE portfolio_id = :p "
        "ORDER BY security_id",
        p=portfolio_id,
    )
    trades = await rows(
        engine, "SELECT id FROM transactions WHERE portfolio_id = :p", p=portfolio_id
    )
    return cash[0][0], holdings, trades


async def audit_rows(engine: AsyncEngine) -> list[Any]:
    return await rows(
        engine,
        "SELECT action, actor_user_id, target_type, target_id, request_id, ip, details "
        "FROM audit_logs ORDER BY id",
    )


# --- Trades ---------------------------------------------------------------------------


async def test_a_refused_trade_writes_nothing(
    db: Database, engine: AsyncEngine, published: list[Any]
) -> None:
    owner = await make_principal(engine, Role.MEMBER)
    assert owner.user_id is not None
    (security_id,) = await make_securities(engine, 1, prices=[Decimal(100)])
    (pid,) = await make_portfolios(engine, owner.user_id, 1, cash=Decimal("50.0000"))
    await make_holdings(engine, [(pid, security_id, Decimal(2), Decimal(90))])
    before = await portfolio_state(engine, pid)

    with pytest.raises(Rejected) as refused:
        await portfolios.place_trade(
            db=db,
            actor=actor_for(owner),
            portfolio_id=pid,
            symbol="S0000",
            side=TradeSide.BUY,
            quantity=Decimal(1),
            idempotency_key="first",
            fee_bps=FEE_BPS,
        )

    assert [(e.code, e.field) for e in refused.value.errors] == [
        (UserErrorCode.INSUFFICIENT_CASH, "input.quantity")
    ]
    assert await portfolio_state(engine, pid) == before
    assert await audit_rows(engine) == []
    assert published == []


async def test_an_accepted_trade_is_audited_with_the_actors_request_and_ip(
    db: Database, engine: AsyncEngine, published: list[Any]
) -> None:
    owner = await make_principal(engine, Role.MEMBER)
    assert owner.user_id is not None
    (security_id,) = await make_securities(engine, 1, prices=[Decimal(100)])
    (pid,) = await make_portfolios(engine, owner.user_id, 1, cash=Decimal("1000.0000"))

    trade = await portfolios.place_trade(
        db=db,
        actor=actor_for(owner),
        portfolio_id=pid,
        symbol=" S0000 ",
        side=TradeSide.BUY,
        quantity=Decimal(3),
        idempotency_key="buy-3",
        fee_bps=FEE_BPS,
    )

    assert not trade.replayed
    assert trade.transaction.security_id == security_id
    assert trade.portfolio.cash_balance == Decimal("1000") - Decimal("300.3000")
    cash, holdings, trades = await portfolio_state(engine, pid)
    assert cash == Decimal("699.7000")
    assert holdings == [(security_id, Decimal(3), Decimal(100))]
    assert [t.id for t in trades] == [trade.transaction.id]
    assert await audit_rows(engine) == [
        (
            "trade.placed",
            owner.user_id,
            "Portfolio",
            str(pid),
            "req-services-pb",
            "203.0.113.7",
            {
                "transaction_id": trade.transaction.id,
                "symbol": "S0000",
                "side": "BUY",
                "quantity": "3",
                "price": "100.000000",
                "fee": "0.3000",
            },
        )
    ]
    assert published == [(PORTFOLIO_UPDATED, {"portfolio_ids": [pid], "reason": "trade"})]

    # The same key again: the first execution, nothing written, nothing announced.
    again = await portfolios.place_trade(
        db=db,
        actor=actor_for(owner),
        portfolio_id=pid,
        symbol="S0000",
        side=TradeSide.BUY,
        quantity=Decimal("3.000"),
        idempotency_key="buy-3",
        fee_bps=FEE_BPS,
    )
    assert again.replayed
    assert again.transaction.id == trade.transaction.id
    assert len(await audit_rows(engine)) == 1
    assert len(published) == 1


async def test_someone_elses_portfolio_is_not_found_and_stays_untouched(
    db: Database, engine: AsyncEngine
) -> None:
    owner = await make_principal(engine, Role.MEMBER)
    admin = await make_principal(engine, Role.ADMIN)
    assert owner.user_id is not None
    await make_securities(engine, 1, prices=[Decimal(1)])
    (pid,) = await make_portfolios(engine, owner.user_id, 1)
    before = await portfolio_state(engine, pid)

    with pytest.raises(Rejected) as refused:
        await portfolios.place_trade(
            db=db,
            actor=actor_for(admin),
            portfolio_id=pid,
            symbol="S0000",
            side=TradeSide.BUY,
            quantity=Decimal(1),
            fee_bps=FEE_BPS,
        )

    assert refused.value.errors == (
        DomainError(UserErrorCode.NOT_FOUND, "No portfolio with this ID.", "input.portfolioId"),
    )
    assert await portfolio_state(engine, pid) == before


async def test_an_unreadable_portfolio_id_is_reported_first_with_the_other_errors(
    db: Database, engine: AsyncEngine
) -> None:
    owner = await make_principal(engine, Role.MEMBER)

    with pytest.raises(Rejected) as refused:
        await portfolios.place_trade(
            db=db,
            actor=actor_for(owner),
            portfolio_id=decode_global_id("not-an-id", "input.portfolioId", type_name="Portfolio"),
            symbol=" ",
            side=TradeSide.SELL,
            quantity=Decimal(0),
            idempotency_key="x" * 65,
            fee_bps=FEE_BPS,
        )

    assert [(e.code, e.field) for e in refused.value.errors] == [
        (UserErrorCode.INVALID_FORMAT, "input.portfolioId"),
        (UserErrorCode.REQUIRED, "input.symbol"),
        (UserErrorCode.OUT_OF_RANGE, "input.quantity"),
        (UserErrorCode.TOO_LONG, "input.idempotencyKey"),
    ]


# --- Portfolios and prices --------------------------------------------------------------


async def test_create_portfolio_audits_with_the_ip_and_refuses_a_taken_name(
    db: Database, engine: AsyncEngine
) -> None:
    owner = await make_principal(engine, Role.MEMBER)
    actor = actor_for(owner)

    portfolio = await portfolios.create_portfolio(
        db=db, actor=actor, name=" Growth ", base_currency="USD", initial_cash=Decimal("10.5")
    )
    with pytest.raises(Rejected) as refused:
        await portfolios.create_portfolio(
            db=db, actor=actor, name="Growth", base_currency="EUR", initial_cash=Decimal(1)
        )

    assert portfolio.name == "Growth"
    assert [(e.code, e.field) for e in refused.value.errors] == [
        (UserErrorCode.DUPLICATE, "input.name")
    ]
    assert await audit_rows(engine) == [
        (
            "portfolio.created",
            owner.user_id,
            "Portfolio",
            str(portfolio.id),
            "req-services-pb",
            "203.0.113.7",
            {"base_currency": "USD", "initial_cash": "10.5"},
        )
    ]


async def test_prices_with_an_unknown_symbol_change_nothing(
    db: Database, engine: AsyncEngine, published: list[Any]
) -> None:
    owner = await make_principal(engine, Role.MEMBER)
    assert owner.user_id is not None
    sids = await make_securities(engine, 2, prices=[Decimal(5), Decimal(6)])
    (pid,) = await make_portfolios(engine, owner.user_id, 1)
    await make_holdings(engine, [(pid, sids[1], Decimal(1), Decimal(6))])

    with pytest.raises(Rejected) as refused:
        await portfolios.update_prices(
            db=db, prices=[("S0000", Decimal(7)), ("NOPE", Decimal(1)), ("S0001", Decimal(8))]
        )
    assert [(e.code, e.field) for e in refused.value.errors] == [
        (UserErrorCode.UNKNOWN_SYMBOL, "prices.1.symbol")
    ]
    prices = await rows(engine, "SELECT last_price FROM securities ORDER BY id")
    assert [p for (p,) in prices] == [Decimal(5), Decimal(6)]
    assert published == []

    updated = await portfolios.update_prices(
        db=db, prices=[("S0001", Decimal(8)), ("S0000", Decimal(7))]
    )
    assert [s.id for s in updated] == [sids[1], sids[0]]
    assert published == [
        (PRICES_UPDATED, {"security_ids": sorted(sids)}),
        (PORTFOLIO_UPDATED, {"portfolio_ids": [pid], "reason": "prices"}),
    ]


# --- Briefings --------------------------------------------------------------------------


async def test_upsert_briefing_writes_once_and_audits_with_the_ip(
    db: Database, engine: AsyncEngine, published: list[Any]
) -> None:
    writer = await make_principal(engine, Role.ADMIN)
    (term_id,) = await make_glossary_terms(engine, ["Yield curve"])
    content: dict[str, Any] = {
        "date": dt.date(2026, 3, 2),
        "title": "Markets",
        "summary": "The yield curve flattened.",
        "narrative": "Long rates fell.",
        "top_keywords": [("rates", 3.0)],
        "status": BriefingStatus.PUBLISHED,
    }

    first = await briefings.upsert_briefing(db=db, actor=actor_for(writer), **content)
    again = await briefings.upsert_briefing(db=db, actor=actor_for(writer), **content)

    assert (first.created, first.changed, first.published) == (True, True, True)
    assert (again.created, again.changed, again.published) == (False, False, False)
    assert again.briefing.id == first.briefing.id
    links = await rows(engine, "SELECT glossary_term_id FROM briefing_glossary_terms")
    assert [t for (t,) in links] == [term_id]
    audits = await audit_rows(engine)
    assert [(a.action, a.target_id, a.request_id, a.ip) for a in audits] == [
        ("briefing.created", str(first.briefing.id), "req-services-pb", "203.0.113.7")
    ]
    assert published == [(BRIEFING_PUBLISHED, {"id": first.briefing.id, "date": "2026-03-02"})]


async def test_an_invalid_briefing_is_refused_with_every_error_in_field_order(
    db: Database, engine: AsyncEngine
) -> None:
    writer = await make_principal(engine, Role.ADMIN)

    with pytest.raises(Rejected) as refused:
        await briefings.upsert_briefing(
            db=db,
            actor=actor_for(writer),
            date=dt.date(2026, 3, 2),
            title="",
            summary="ok",
            narrative="ok",
            top_keywords=[("a", 1.0), ("a", 2000.0)],
            market_snapshot=[1, 2],
        )

    assert [(e.code, e.field) for e in refused.value.errors] == [
        (UserErrorCode.REQUIRED, "input.title"),
        (UserErrorCode.OUT_OF_RANGE, "input.topKeywords.1.score"),
        (UserErrorCode.DUPLICATE, "input.topKeywords.1.keyword"),
        (UserErrorCode.INVALID_VALUE, "input.marketSnapshot"),
    ]
    assert await rows(engine, "SELECT id FROM briefings") == []
