"""``seed_demo``: generate every table's rows, then insert them in one transaction."""

from __future__ import annotations

import datetime as dt
import random
from typing import Any, Final

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from graphql_api.core.db.enums import Role
from graphql_api.core.db.models import (
    Announcement,
    Application,
    Briefing,
    BriefingGlossaryTerm,
    Business,
    GlossaryTerm,
    HistoricalCase,
    Holding,
    Portfolio,
    Security,
    Transaction,
    User,
)
from graphql_api.devtools.seed.accounts import make_users
from graphql_api.devtools.seed.announcements import make_announcements
from graphql_api.devtools.seed.applications import make_applications
from graphql_api.devtools.seed.briefings import briefing_terms, make_briefings
from graphql_api.devtools.seed.businesses import make_businesses
from graphql_api.devtools.seed.common import Ctx
from graphql_api.devtools.seed.glossary import make_glossary
from graphql_api.devtools.seed.history import make_historical_cases
from graphql_api.devtools.seed.portfolios import make_portfolios, make_securities
from graphql_api.devtools.seed.writer import Writer, table_of

# Serialises concurrent seeders (several replicas starting on an empty database).
_SEED_LOCK_KEY: Final = 0x6771_6C61_7069_5344


class AlreadySeededError(RuntimeError):
    """The database already holds data; seeding would collide with it."""


async def _has_users(conn: AsyncConnection) -> bool:
    return (await conn.execute(select(User.id).limit(1))).first() is not None


async def is_seeded(engine: AsyncEngine) -> bool:
    """True when the database already holds users (seeded, or in real use: leave it alone)."""
    async with engine.connect() as conn:
        return await _has_users(conn)


async def seed_demo(
    engine: AsyncEngine,
    *,
    scale: int = 1,
    seed: int = 42,
    progress: bool = False,
    today: dt.date | None = None,
) -> dict[str, int]:
    """Fill an empty, migrated database with demo data; return the row count per table.

    At ``scale=1``: 40 users, 60 businesses, 200 announcements, ~300 applications,
    90 daily briefings, 200 historical cases, 60 glossary terms, 50 securities and
    40 portfolios with their transactions and holdings; counts grow linearly with ``scale``.
    Everything is written in one transaction. Raises ``AlreadySeededError`` when the
    database already has users (``is_seeded``), so it never mixes with real data.
    """
    if scale < 1:
        raise ValueError("scale must be at least 1")
    day = today or dt.datetime.now(dt.UTC).date()
    # Midnight UTC of ``today``: nothing seeded is later than this, except future windows.
    anchor = dt.datetime.combine(day, dt.time(0, 0), dt.UTC)
    # Not for security: a seeded PRNG is exactly what makes the demo data reproducible.
    ctx = Ctx(rng=random.Random(seed), scale=scale, today=day, anchor=anchor)  # noqa: S311

    async with engine.begin() as conn:
        await conn.execute(select(func.pg_advisory_xact_lock(_SEED_LOCK_KEY)))
        if await _has_users(conn):
            raise AlreadySeededError("the database already has users; not seeding demo data")
        writer = Writer(conn, progress=progress)
        counts = ctx.counts

        user_rows, users = make_users(ctx)
        user_ids = await writer.insert_returning_ids(table_of(User), user_rows)
        counts["users"] = len(user_ids)
        staff = [i for i, u in enumerate(users) if u.role in (Role.ADMIN, Role.EDITOR)]
        members = [i for i, u in enumerate(users) if u.role is Role.MEMBER and u.active]

        business_rows, businesses = make_businesses(ctx, members)
        for row in business_rows:
            row["owner_id"] = None if row["owner_id"] is None else user_ids[row["owner_id"]]
        business_ids = await writer.insert_returning_ids(table_of(Business), business_rows)
        counts["businesses"] = len(business_ids)

        announcement_rows, announcements = make_announcements(ctx, businesses, staff)
        for row in announcement_rows:
            position = row["business_id"]
            row["business_id"] = None if position is None else business_ids[position]
            row["created_by_id"] = user_ids[row["created_by_id"]]
        announcement_ids = await writer.insert_returning_ids(
            table_of(Announcement), announcement_rows
        )
        counts["announcements"] = len(announcement_ids)

        application_rows = make_applications(ctx, announcements, businesses, staff)
        for row in application_rows:
            row["business_id"] = business_ids[row["business_id"]]
            row["announcement_id"] = announcement_ids[row["announcement_id"]]
            if row["decided_by_id"] is not None:
                row["decided_by_id"] = user_ids[row["decided_by_id"]]
        await writer.insert(table_of(Application), application_rows)
        counts["applications"] = len(application_rows)

        glossary_rows = make_glossary(ctx)
        term_ids = await writer.insert_returning_ids(table_of(GlossaryTerm), glossary_rows)
        counts["glossary_terms"] = len(term_ids)

        briefing_rows = make_briefings(ctx)
        briefing_ids = await writer.insert_returning_ids(table_of(Briefing), briefing_rows)
        counts["briefings"] = len(briefing_ids)

        links = [
            {"briefing_id": briefing_ids[b], "glossary_term_id": term_ids[t]}
            for b, t in briefing_terms(briefing_rows, [r["term"] for r in glossary_rows])
        ]
        await writer.insert(table_of(BriefingGlossaryTerm), links)
        counts["briefing_glossary_terms"] = len(links)

        case_rows = make_historical_cases(ctx)
        await writer.insert(table_of(HistoricalCase), case_rows)
        counts["historical_cases"] = len(case_rows)

        security_rows, securities = make_securities(ctx)
        security_ids = await writer.insert_returning_ids(table_of(Security), security_rows)
        counts["securities"] = len(security_ids)

        plans = make_portfolios(ctx, members, securities)
        for plan in plans:
            plan.row["owner_id"] = user_ids[plan.row["owner_id"]]
        portfolio_ids = await writer.insert_returning_ids(
            table_of(Portfolio), [plan.row for plan in plans]
        )
        counts["portfolios"] = len(portfolio_ids)

        transaction_rows: list[dict[str, Any]] = []
        holding_rows: list[dict[str, Any]] = []
        for portfolio_id, plan in zip(portfolio_ids, plans, strict=True):
            for trade in plan.trades:
                trade["portfolio_id"] = portfolio_id
                trade["security_id"] = security_ids[trade["security_id"]]
                transaction_rows.append(trade)
            # Sold-out positions leave no holding row; their history stays in transactions.
            holding_rows.extend(
                {
                    "portfolio_id": portfolio_id,
                    "security_id": security_ids[s],
                    "quantity": position.quantity,
                    "average_cost": position.average_cost,
                    "updated_at": position.updated_at,
                }
                for s, position in sorted(plan.positions.items())
                if position.quantity > 0
            )
        await writer.insert(table_of(Transaction), transaction_rows)
        counts["transactions"] = len(transaction_rows)
        await writer.insert(table_of(Holding), holding_rows)
        counts["holdings"] = len(holding_rows)

    return dict(counts)
