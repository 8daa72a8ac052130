"""Query.dashboard: aggregates computed in SQL, checked against hand-computed values (R5, R14).

Each test builds a small dataset, computes what every aggregate must be with plain Python over
that same dataset (the reference), and compares it with what the API answers.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter, defaultdict
from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.applications import Starlette

from graphql_api.core.auth.principal import Principal
from graphql_api.core.db.enums import AnnouncementStatus, BriefingStatus, BusinessSize, Role
from graphql_api.core.db.queries import dashboard as queries
from graphql_api.core.ids import encode_id
from tests.conftest import StatementCounter, act_as
from tests.factories_dashboard import (
    announcement,
    briefing,
    business,
    insert_announcements,
    insert_briefings,
    insert_businesses,
)
from tests.graphql_client import error_codes, gql

UTC = dt.UTC
PUBLISHED = AnnouncementStatus.PUBLISHED
CLOSED = AnnouncementStatus.CLOSED
DRAFT = AnnouncementStatus.DRAFT

# --- Reference implementations: plain Python over the test's own rows --------------------


def effective_status(row: dict[str, Any], now: dt.datetime) -> AnnouncementStatus:
    closes_at = row["closes_at"]
    if row["status"] is PUBLISHED and closes_at is not None and closes_at <= now:
        return CLOSED
    return AnnouncementStatus(row["status"])


def expected_by_status(
    rows: list[dict[str, Any]], now: dt.datetime, *, drafts: bool
) -> list[dict[str, Any]]:
    counts = Counter(effective_status(r, now) for r in rows if drafts or r["status"] is not DRAFT)
    shown = [s for s in AnnouncementStatus if drafts or s is not DRAFT]
    return [{"status": s.value, "count": counts[s]} for s in shown]


def expected_by_category(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    counts = Counter(r["category"] for r in rows if r["status"] is not DRAFT)
    ordered = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
    return [{"category": c, "count": n} for c, n in ordered]


def expected_closing_soon(
    rows: list[dict[str, Any]], ids: list[int], now: dt.datetime, days: int
) -> list[str]:
    horizon = now + dt.timedelta(days=days)
    hits = [
        (r["closes_at"], pk)
        for r, pk in zip(rows, ids, strict=True)
        if r["status"] is PUBLISHED
        and (r["opens_at"] is None or r["opens_at"] <= now)
        and r["closes_at"] is not None
        and now < r["closes_at"] <= horizon
    ]
    return [encode_id("Announcement", pk) for _, pk in sorted(hits)][:50]


def expected_top_keywords(
    rows: list[dict[str, Any]], today: dt.date, days: int, first: int
) -> list[dict[str, Any]]:
    totals: dict[str, float] = defaultdict(float)
    seen: Counter[str] = Counter()
    for r in rows:
        if r["status"] is not BriefingStatus.PUBLISHED:
            continue
        if not today - dt.timedelta(days=days) < r["date"] <= today:
            continue
        for keyword, score in r["top_keywords"].items():
            if isinstance(score, int | float):
                totals[keyword] += score
                seen[keyword] += 1
    ordered = sorted(totals, key=lambda k: (-totals[k], k))[:first]
    return [{"keyword": k, "score": totals[k], "briefings": seen[k]} for k in ordered]


# --- Announcements ---------------------------------------------------------------------


def announcement_dataset(now: dt.datetime) -> list[dict[str, Any]]:
    day, hour = dt.timedelta(days=1), dt.timedelta(hours=1)
    opened = now - 10 * day
    return [
        announcement(category="funding", opens_at=opened, closes_at=now + 3 * day),
        announcement(category="funding", opens_at=opened, closes_at=now + 7 * day - hour),
        announcement(category="funding", opens_at=None, closes_at=now + 3 * day),  # same time
        announcement(category="export", opens_at=opened, closes_at=now + 12 * hour),
        announcement(category="export", opens_at=opened, closes_at=now + 10 * day),
        announcement(category="export", opens_at=opened, closes_at=now + 7 * day + hour),
        # Expired but still PUBLISHED in the table: counts as CLOSED, is not open.
        announcement(category="export", opens_at=opened, closes_at=now - hour),
        # Explicitly closed although its window has not ended.
        announcement(status=CLOSED, category="rnd", opens_at=opened, closes_at=now + 2 * day),
        # Not open yet.
        announcement(category="rnd", opens_at=now + day, closes_at=now + 5 * day),
        # Open with no closing date: never "closing soon".
        announcement(category="rnd", opens_at=opened, closes_at=None),
        # Drafts: in no public aggregate, whatever their dates.
        announcement(status=DRAFT, category="funding", opens_at=opened, closes_at=now + day),
        announcement(status=DRAFT, category="drafts-only", opens_at=None, closes_at=None),
    ]


ANNOUNCEMENT_QUERY = """
{
  dashboard {
    announcementsByStatus { status count }
    announcementsByCategory { category count }
    openCallsClosingSoon { id status }
    openCallsClosingSoonCount
    day: openCallsClosingSoon(days: 1) { id }
    dayCount: openCallsClosingSoonCount(days: 1)
    quarter: openCallsClosingSoon(days: 90) { id }
    quarterCount: openCallsClosingSoonCount(days: 90)
  }
}
"""


async def test_announcement_aggregates_for_anonymous(
    engine: AsyncEngine, client: httpx.AsyncClient
) -> None:
    now = dt.datetime.now(UTC)
    rows = announcement_dataset(now)
    ids = await insert_announcements(engine, rows)

    body = await gql(client, ANNOUNCEMENT_QUERY)
    assert "errors" not in body, body
    data = body["data"]["dashboard"]

    assert data["announcementsByStatus"] == expected_by_status(rows, now, drafts=False)
    # Spelled out once, so the reference itself is checked: 9 stored as PUBLISHED of which
    # 1 has expired, plus 1 stored as CLOSED; no DRAFT entry for anonymous callers.
    assert data["announcementsByStatus"] == [
        {"status": "PUBLISHED", "count": 8},
        {"status": "CLOSED", "count": 2},
    ]
    assert data["announcementsByCategory"] == expected_by_category(rows)
    assert data["announcementsByCategory"] == [
        {"category": "export", "count": 4},
        {"category": "funding", "count": 3},
        {"category": "rnd", "count": 3},
    ]

    week = expected_closing_soon(rows, ids, now, 7)
    assert [c["id"] for c in data["openCallsClosingSoon"]] == week
    # 12 hours, then two at +3 days (ordered by id), then 7 days minus an hour.
    assert week == [encode_id("Announcement", ids[i]) for i in (3, 0, 2, 1)]
    assert {c["status"] for c in data["openCallsClosingSoon"]} == {"PUBLISHED"}
    assert data["openCallsClosingSoonCount"] == len(week)
    assert [c["id"] for c in data["day"]] == expected_closing_soon(rows, ids, now, 1)
    assert data["dayCount"] == 1
    quarter = expected_closing_soon(rows, ids, now, 90)
    assert [c["id"] for c in data["quarter"]] == quarter
    assert data["quarterCount"] == len(quarter) == 6


async def test_editors_see_drafts_in_status_counts_only(
    app: Starlette, engine: AsyncEngine, client: httpx.AsyncClient
) -> None:
    now = dt.datetime.now(UTC)
    rows = announcement_dataset(now)
    await insert_announcements(engine, rows)
    act_as(app, Principal(user_id=1, role=Role.EDITOR))

    body = await gql(client, ANNOUNCEMENT_QUERY)
    assert "errors" not in body, body
    data = body["data"]["dashboard"]
    assert data["announcementsByStatus"] == expected_by_status(rows, now, drafts=True)
    assert {"status": "DRAFT", "count": 2} in data["announcementsByStatus"]
    assert data["announcementsByCategory"] == expected_by_category(rows)
    assert data["openCallsClosingSoonCount"] == 4


async def test_empty_database_lists_every_status_and_size_with_zero(
    client: httpx.AsyncClient,
) -> None:
    body = await gql(
        client,
        "{ dashboard { announcementsByStatus { status count } announcementsByCategory "
        "{ category count } businessesBySize { size count } openCallsClosingSoon { id } "
        "openCallsClosingSoonCount briefingsThisMonth topKeywords { keyword } } }",
    )
    assert body == {
        "data": {
            "dashboard": {
                "announcementsByStatus": [
                    {"status": "PUBLISHED", "count": 0},
                    {"status": "CLOSED", "count": 0},
                ],
                "announcementsByCategory": [],
                "businessesBySize": [{"size": s.value, "count": 0} for s in BusinessSize],
                "openCallsClosingSoon": [],
                "openCallsClosingSoonCount": 0,
                "briefingsThisMonth": 0,
                "topKeywords": [],
            }
        }
    }


async def test_closing_soon_list_is_capped_but_the_count_is_not(
    engine: AsyncEngine, client: httpx.AsyncClient
) -> None:
    now = dt.datetime.now(UTC)
    rows = [
        announcement(closes_at=now + dt.timedelta(hours=1 + i % 20), opens_at=None)
        for i in range(60)
    ]
    ids = await insert_announcements(engine, rows)
    body = await gql(
        client, "{ dashboard { openCallsClosingSoon { id } openCallsClosingSoonCount } }"
    )
    data = body["data"]["dashboard"]
    assert data["openCallsClosingSoonCount"] == 60
    assert [c["id"] for c in data["openCallsClosingSoon"]] == expected_closing_soon(
        rows, ids, now, 7
    )
    assert len(data["openCallsClosingSoon"]) == 50


@pytest.mark.parametrize(
    ("selection", "field"),
    [
        ("openCallsClosingSoon(days: 0) { id }", "days"),
        ("openCallsClosingSoon(days: 91) { id }", "days"),
        ("openCallsClosingSoon(days: -3) { id }", "days"),
        ("openCallsClosingSoonCount(days: 0)", "days"),
        ("openCallsClosingSoonCount(days: 91)", "days"),
        ("topKeywords(days: 0) { keyword }", "days"),
        ("topKeywords(days: 367) { keyword }", "days"),
        ("topKeywords(first: 0) { keyword }", "first"),
        ("topKeywords(first: 101) { keyword }", "first"),
    ],
)
async def test_out_of_range_arguments_are_bad_user_input(
    client: httpx.AsyncClient, sql: StatementCounter, selection: str, field: str
) -> None:
    sql.reset()
    body = await gql(client, f"{{ dashboard {{ {selection} }} }}")
    assert error_codes(body) == ["BAD_USER_INPUT"], body
    assert body["errors"][0]["extensions"]["field"] == field
    assert body["data"] is None
    assert sql.count == 0


async def test_boundary_days_and_explicit_null_are_accepted(client: httpx.AsyncClient) -> None:
    body = await gql(
        client,
        "{ dashboard { a: openCallsClosingSoonCount(days: 1) "
        "b: openCallsClosingSoonCount(days: 90) c: openCallsClosingSoonCount(days: null) "
        "d: topKeywords(days: 366, first: 100) { keyword } "
        "e: topKeywords(days: null, first: null) { keyword } } }",
    )
    assert "errors" not in body, body


# --- Businesses --------------------------------------------------------------------------


async def test_businesses_by_size(engine: AsyncEngine, client: httpx.AsyncClient) -> None:
    sizes = [BusinessSize.LARGE, BusinessSize.MICRO, BusinessSize.LARGE, BusinessSize.SMALL]
    sizes += [BusinessSize.MICRO, BusinessSize.LARGE]
    await insert_businesses(engine, [business(s) for s in sizes])
    body = await gql(client, "{ dashboard { businessesBySize { size count } } }")
    counts = Counter(sizes)
    expected = [{"size": s.value, "count": counts[s]} for s in BusinessSize]
    assert body["data"]["dashboard"]["businessesBySize"] == expected
    assert {"size": "MEDIUM", "count": 0} in expected


# --- Briefings ---------------------------------------------------------------------------


def _in_month(day: dt.date, now: dt.datetime) -> bool:
    now_utc = now.astimezone(UTC)
    return (day.year, day.month) == (now_utc.year, now_utc.month)


def _month_edges(today: dt.date) -> dict[str, dt.date]:
    first = today.replace(day=1)
    next_first = (first + dt.timedelta(days=31)).replace(day=1)
    return {
        "previous_last": first - dt.timedelta(days=1),
        "first": first,
        "last": next_first - dt.timedelta(days=1),
        "next_first": next_first,
    }


async def test_briefings_this_month_counts_published_within_the_utc_month(
    engine: AsyncEngine, client: httpx.AsyncClient
) -> None:
    now = dt.datetime.now(UTC)
    edges = _month_edges(now.date())
    rows = [briefing(day) for day in edges.values()]
    rows.append(briefing(edges["first"] + dt.timedelta(days=1), status=BriefingStatus.DRAFT))
    await insert_briefings(engine, rows)

    body = await gql(client, "{ dashboard { briefingsThisMonth } }")
    expected = sum(
        1 for r in rows if r["status"] is BriefingStatus.PUBLISHED and _in_month(r["date"], now)
    )
    assert body["data"]["dashboard"]["briefingsThisMonth"] == expected == 2


@pytest.mark.parametrize(
    "now",
    [
        dt.datetime(2026, 2, 1, 0, 0, tzinfo=UTC),
        dt.datetime(2026, 1, 31, 23, 59, 59, 999999, tzinfo=UTC),
        # 08:59 in Seoul is still January 31st in UTC.
        dt.datetime(2026, 2, 1, 8, 59, tzinfo=dt.timezone(dt.timedelta(hours=9))),
        dt.datetime(2026, 2, 28, 23, 59, 59, tzinfo=UTC),
        dt.datetime(2026, 3, 1, 0, 0, tzinfo=UTC),
        dt.datetime(2025, 12, 31, 12, 0, tzinfo=UTC),
        dt.datetime(2026, 1, 1, 0, 0, tzinfo=UTC),
    ],
)
async def test_briefings_in_month_boundaries(
    engine: AsyncEngine, app: Starlette, now: dt.datetime
) -> None:
    dates = [
        dt.date(2025, 12, 31),
        dt.date(2026, 1, 1),
        dt.date(2026, 1, 31),
        dt.date(2026, 2, 1),
        dt.date(2026, 2, 28),
        dt.date(2026, 3, 1),
    ]
    rows = [briefing(d) for d in dates]
    rows.append(briefing(dt.date(2026, 2, 2), status=BriefingStatus.DRAFT))
    await insert_briefings(engine, rows)
    expected = sum(
        1 for r in rows if r["status"] is BriefingStatus.PUBLISHED and _in_month(r["date"], now)
    )
    assert await queries.published_briefings_in_month(app.state.db, now=now) == expected
    assert expected in (1, 2)


KEYWORD_BRIEFINGS: dict[int, dict[str, Any]] = {
    0: {"ai": 0.5, "chips": 0.25, "rates": 1.0},
    5: {"ai": 0.75, "export": 0.5, "note": "not a number"},
    29: {"chips": 1.0, "rates": 0.25, "bonds": 0.5},
    30: {"ai": 10.0, "old": 5.0},
    -1: {"future": 9.0},
}


def keyword_dataset(today: dt.date) -> list[dict[str, Any]]:
    rows = [
        briefing(today - dt.timedelta(days=age), scores)
        for age, scores in KEYWORD_BRIEFINGS.items()
    ]
    rows.append(
        briefing(today - dt.timedelta(days=1), {"draft": 100.0}, status=BriefingStatus.DRAFT)
    )
    return rows


@pytest.mark.parametrize(("days", "first"), [(30, 10), (30, 4), (1, 10), (31, 2), (6, 10)])
async def test_top_keywords_window_and_order(
    engine: AsyncEngine, app: Starlette, days: int, first: int
) -> None:
    now = dt.datetime(2026, 3, 10, 0, 30, tzinfo=dt.timezone(dt.timedelta(hours=-5)))
    today = now.astimezone(UTC).date()
    rows = keyword_dataset(today)
    await insert_briefings(engine, rows)
    got = await queries.top_keywords(app.state.db, now=now, days=days, first=first)
    expected = expected_top_keywords(rows, today, days, first)
    assert [(k.keyword, k.score, k.briefings) for k in got] == [
        (e["keyword"], e["score"], e["briefings"]) for e in expected
    ]


async def test_top_keywords_through_the_api(engine: AsyncEngine, client: httpx.AsyncClient) -> None:
    today = dt.datetime.now(UTC).date()
    rows = keyword_dataset(today)
    await insert_briefings(engine, rows)
    body = await gql(
        client,
        "{ dashboard { topKeywords { keyword score } "
        "today: topKeywords(days: 1, first: 2) { keyword score } } }",
    )
    assert "errors" not in body, body
    data = body["data"]["dashboard"]

    def public(expected: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return [{"keyword": e["keyword"], "score": e["score"]} for e in expected]

    assert data["topKeywords"] == public(expected_top_keywords(rows, today, 30, 10))
    # Three keywords tie at 1.25 and are ordered by name; draft, future, too old and
    # non-numeric entries are left out.
    assert data["topKeywords"] == [
        {"keyword": "ai", "score": 1.25},
        {"keyword": "chips", "score": 1.25},
        {"keyword": "rates", "score": 1.25},
        {"keyword": "bonds", "score": 0.5},
        {"keyword": "export", "score": 0.5},
    ]
    assert data["today"] == public(expected_top_keywords(rows, today, 1, 2))


# --- Cost ----------------------------------------------------------------------------------

FULL_DASHBOARD = """
{
  dashboard {
    announcementsByStatus { status count }
    announcementsByCategory { category count }
    openCallsClosingSoon(days: 14) {
      id title status closesAt applicationCount business { name size }
    }
    openCallsClosingSoonCount(days: 14)
    businessesBySize { size count }
    briefingsThisMonth
    topKeywords(days: 90, first: 20) { keyword score }
  }
}
"""

# One statement per aggregate (7) plus one batch each for the listed calls' businesses and
# application counts.
FULL_DASHBOARD_STATEMENTS = 9


async def _full_dataset(engine: AsyncEngine, n: int) -> None:
    now = dt.datetime.now(UTC)
    business_ids = await insert_businesses(
        engine, [business(list(BusinessSize)[i % 4]) for i in range(n)]
    )
    statuses = [PUBLISHED, PUBLISHED, CLOSED, DRAFT]
    await insert_announcements(
        engine,
        [
            announcement(
                status=statuses[i % 4],
                category=["funding", "export", "rnd"][i % 3],
                opens_at=now - dt.timedelta(days=5),
                closes_at=now + dt.timedelta(hours=6 + 12 * (i % 40) - 24),
                business_id=business_ids[i],
            )
            for i in range(n)
        ],
    )
    today = now.date()
    await insert_briefings(
        engine,
        [
            briefing(today - dt.timedelta(days=i), {f"k{i % 7}": 1.0 + i % 3, "market": 0.5})
            for i in range(n)
        ],
    )


@pytest.mark.parametrize("n", [10, 200])
async def test_full_dashboard_statement_count_does_not_grow_with_rows(
    engine: AsyncEngine, client: httpx.AsyncClient, sql: StatementCounter, n: int
) -> None:
    await _full_dataset(engine, n)
    sql.reset()
    body = await gql(client, FULL_DASHBOARD)
    assert "errors" not in body, body
    data = body["data"]["dashboard"]
    assert data["openCallsClosingSoon"], "the dataset must list calls with businesses"
    assert all(c["business"]["name"] for c in data["openCallsClosingSoon"])
    assert data["topKeywords"]
    assert data["briefingsThisMonth"] >= 1
    print(f"full dashboard, {n} rows per table: {sql.count} statements")
    assert sql.count == FULL_DASHBOARD_STATEMENTS


async def test_only_selected_aggregates_run(
    client: httpx.AsyncClient, sql: StatementCounter
) -> None:
    sql.reset()
    body = await gql(client, "{ dashboard { __typename } }")
    assert body == {"data": {"dashboard": {"__typename": "Dashboard"}}}
    assert sql.count == 0
    body = await gql(client, "{ dashboard { briefingsThisMonth } }")
    assert "errors" not in body, body
    assert sql.count == 1
    assert "briefings" in sql.statements[0]
