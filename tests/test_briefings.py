"""Briefings, historical cases and the glossary: the read API (R3, R7, R11, R14; issue 3)."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.applications import Starlette

from graphql_api.core.auth.principal import Principal
from graphql_api.core.db.enums import BriefingStatus, Role
from graphql_api.core.ids import encode_id
from tests.conftest import StatementCounter, act_as
from tests.factories_briefings import (
    BASE_DATE,
    link_glossary_terms,
    make_briefings,
    make_cases,
    make_glossary_terms,
    make_many_cases,
)
from tests.graphql_client import error_codes, gql

# --- Statement counts: one per query shape, at two sizes (R14) ---------------------------

BRIEFINGS_FULL = """
{ briefings(first: 100) { edges { node {
    date topKeywords { keyword score } relatedCases(first: 3) { title } glossaryTerms { term }
} } } }
"""


@pytest.mark.parametrize("n", [10, 200])
async def test_briefings_statement_count_does_not_grow(
    engine: AsyncEngine, client: httpx.AsyncClient, sql: StatementCounter, n: int
) -> None:
    briefing_ids = await make_briefings(engine, n)
    await make_many_cases(engine, 40)
    term_ids = await make_glossary_terms(engine, ["KOSPI", "Base rate", "ETF", "Bond yield"])
    await link_glossary_terms(
        engine, [(b, term_ids[k]) for i, b in enumerate(briefing_ids) for k in range(i % 3 + 1)]
    )
    sql.reset()
    body = await gql(client, BRIEFINGS_FULL)
    assert "errors" not in body, body
    nodes = [e["node"] for e in body["data"]["briefings"]["edges"]]
    assert len(nodes) == min(n, 100)
    assert all(len(node["relatedCases"]) == 3 for node in nodes)
    assert all(len(node["topKeywords"]) == 3 for node in nodes)
    assert all(node["glossaryTerms"] for node in nodes)
    count = sql.count
    print(f"briefings(first:100) with topKeywords/relatedCases/glossaryTerms, {n} rows: "
          f"{count} statements")  # fmt: skip
    # The page, one batched related-cases query, one batched glossary query (R14).
    assert count == 3


@pytest.mark.parametrize("n", [10, 200])
async def test_historical_cases_statement_count_does_not_grow(
    engine: AsyncEngine, client: httpx.AsyncClient, sql: StatementCounter, n: int
) -> None:
    await make_many_cases(engine, n)
    sql.reset()
    body = await gql(
        client,
        '{ historicalCases(first: 100, keywordsAny: ["rates", "won"]) '
        "{ edges { node { id title summary occurredOn keywords sourceUrl } } totalCount } }",
    )
    assert "errors" not in body, body
    conn = body["data"]["historicalCases"]
    # Cases i % 8 in {0, 1, 5, 6} carry rates or won (each case has pool[i] and pool[i+3]).
    expected = sum(1 for i in range(n) if i % 8 in {0, 1, 5, 6})
    assert conn["totalCount"] == expected
    assert len(conn["edges"]) == min(expected, 100)
    count = sql.count
    print(f"historicalCases(first:100, keywordsAny) with totalCount, {n} rows: {count} statements")
    assert count == 2


@pytest.mark.parametrize("n", [10, 200])
async def test_glossary_statement_count_does_not_grow(
    engine: AsyncEngine, client: httpx.AsyncClient, sql: StatementCounter, n: int
) -> None:
    await make_glossary_terms(engine, [f"Term {i:03d}" for i in range(n)])
    sql.reset()
    body = await gql(
        client,
        '{ glossary(first: 100, search: "term") '
        "{ edges { node { id term definition } } totalCount } }",
    )
    assert "errors" not in body, body
    assert body["data"]["glossary"]["totalCount"] == n
    assert len(body["data"]["glossary"]["edges"]) == min(n, 100)
    count = sql.count
    print(f"glossary(first:100, search) with totalCount, {n} rows: {count} statements")
    assert count == 2


@pytest.mark.parametrize("n", [10, 100])
async def test_nodes_of_briefings_statement_count_does_not_grow(
    engine: AsyncEngine, client: httpx.AsyncClient, sql: StatementCounter, n: int
) -> None:
    ids = await make_briefings(engine, n)
    await make_many_cases(engine, 10)
    sql.reset()
    body = await gql(
        client,
        "query($ids: [ID!]!) { nodes(ids: $ids) { ... on Briefing { date "
        "relatedCases { title } glossaryTerms { term } } } }",
        {"ids": [encode_id("Briefing", i) for i in ids]},
    )
    assert "errors" not in body, body
    assert len(body["data"]["nodes"]) == n
    count = sql.count
    print(f"nodes(ids) of {n} briefings with relatedCases/glossaryTerms: {count} statements")
    # Briefings by id, related cases, glossary terms: one batch each.
    assert count == 3


async def test_briefing_by_date(
    engine: AsyncEngine, client: httpx.AsyncClient, sql: StatementCounter
) -> None:
    await make_briefings(engine, 3)
    sql.reset()
    body = await gql(
        client,
        "query($a: Date!, $b: Date!, $c: Date!) { a: briefing(date: $a) { date title } "
        "b: briefing(date: $b) { date } c: briefing(date: $c) { date } }",
        {
            "a": BASE_DATE.isoformat(),
            "b": (BASE_DATE + timedelta(days=2)).isoformat(),
            "c": "1999-01-01",
        },
    )
    assert body["data"] == {
        "a": {"date": "2025-01-01", "title": "Briefing 2025-01-01"},
        "b": {"date": "2025-01-03"},
        "c": None,
    }
    assert "errors" not in body
    # Three dates, one BriefingByDateLoader batch.
    assert sql.count == 1


# --- Fields ------------------------------------------------------------------------------


async def test_briefing_fields(engine: AsyncEngine, client: httpx.AsyncClient) -> None:
    [briefing_id] = await make_briefings(
        engine, 1, keywords=lambda i: {"won": 0.5, "bonds": 0.5, "rates": 0.9, "oil": 1}
    )
    body = await gql(
        client,
        "query($d: Date!) { briefing(date: $d) { id date title summary narrative "
        "topKeywords { keyword score } marketSnapshot status publishedAt } }",
        {"d": BASE_DATE.isoformat()},
    )
    assert "errors" not in body, body
    briefing = body["data"]["briefing"]
    assert briefing["id"] == encode_id("Briefing", briefing_id)
    # Score descending, ties alphabetically.
    assert briefing["topKeywords"] == [
        {"keyword": "oil", "score": 1.0},
        {"keyword": "rates", "score": 0.9},
        {"keyword": "bonds", "score": 0.5},
        {"keyword": "won", "score": 0.5},
    ]
    assert briefing["marketSnapshot"] == {"kospi": 2500, "usdkrw": "1380.5"}
    assert briefing["status"] == "PUBLISHED"
    assert briefing["publishedAt"].startswith("2025-01-01T07:00:00")


async def test_node_refetches_case_and_term(engine: AsyncEngine, client: httpx.AsyncClient) -> None:
    [case_id] = await make_cases(engine, [("Taper tantrum", date(2013, 5, 22), ["fed"])])
    [term_id] = await make_glossary_terms(engine, ["Yield curve"])
    body = await gql(
        client,
        "query($c: ID!, $t: ID!) { c: node(id: $c) { id ... on HistoricalCase { title "
        "occurredOn keywords sourceUrl } } t: node(id: $t) { ... on GlossaryTerm { term "
        "definition } } }",
        {"c": encode_id("HistoricalCase", case_id), "t": encode_id("GlossaryTerm", term_id)},
    )
    assert body["data"] == {
        "c": {
            "id": encode_id("HistoricalCase", case_id),
            "title": "Taper tantrum",
            "occurredOn": "2013-05-22",
            "keywords": ["fed"],
            "sourceUrl": "https://example.org/cases/0",
        },
        "t": {"term": "Yield curve", "definition": "Definition of Yield curve."},
    }


async def test_related_cases_ranking(
    engine: AsyncEngine, client: httpx.AsyncClient, sql: StatementCounter
) -> None:
    await make_briefings(engine, 1, keywords=lambda i: {"a": 0.9, "b": 0.5, "c": 0.1})
    await make_briefings(
        engine, 1, start=BASE_DATE - timedelta(days=1), keywords=lambda i: {"zzz": 1.0}
    )
    ids = await make_cases(
        engine,
        [
            ("three, oldest", date(2001, 1, 1), ["a", "b", "c", "x"]),
            ("two, newest", date(2020, 1, 1), ["b", "a"]),
            ("two, same day, lower id", date(2015, 1, 1), ["a", "c"]),
            ("two, same day, higher id", date(2015, 1, 1), ["c", "b"]),
            ("one, newest of all", date(2024, 1, 1), ["c"]),
            ("unrelated", date(2024, 6, 1), ["d", "e"]),
            ("duplicate keyword counts once", date(2010, 1, 1), ["a", "a"]),
        ],
    )
    assert len(ids) == 7
    sql.reset()
    body = await gql(
        client,
        "{ briefings { edges { node { date top: relatedCases(first: 2) { title } "
        "all: relatedCases(first: 100) { title } default: relatedCases { title } "
        "none: relatedCases(first: 0) { title } } } } }",
    )
    assert "errors" not in body, body
    first, second = (e["node"] for e in body["data"]["briefings"]["edges"])
    expected = [
        "three, oldest",
        "two, newest",
        "two, same day, higher id",
        "two, same day, lower id",
        "one, newest of all",
        "duplicate keyword counts once",
    ]
    assert [c["title"] for c in first["all"]] == expected
    assert [c["title"] for c in first["top"]] == expected[:2]
    assert [c["title"] for c in first["default"]] == expected[:5]
    assert first["none"] == []
    assert second == {"date": "2024-12-31", "top": [], "all": [], "default": [], "none": []}
    # Different `first` values on one page still share one related-cases statement.
    assert sql.count == 2


async def test_glossary_terms_of_a_briefing(engine: AsyncEngine, client: httpx.AsyncClient) -> None:
    [b1, b2] = await make_briefings(engine, 2)
    [kospi, base, etf, _unused] = await make_glossary_terms(
        engine, ["KOSPI", "base rate", "ETF", "Unused"]
    )
    await link_glossary_terms(engine, [(b1, kospi), (b1, base), (b1, etf)])
    body = await gql(client, "{ briefings { edges { node { date glossaryTerms { term } } } } }")
    nodes = [e["node"] for e in body["data"]["briefings"]["edges"]]
    assert nodes == [
        {"date": "2025-01-02", "glossaryTerms": []},
        # Alphabetical ignoring case.
        {
            "date": "2025-01-01",
            "glossaryTerms": [{"term": "base rate"}, {"term": "ETF"}, {"term": "KOSPI"}],
        },
    ]
    assert b2 != b1


# --- Filters -----------------------------------------------------------------------------


async def _briefing_dates(client: httpx.AsyncClient, filter_: dict[str, Any]) -> list[str]:
    body = await gql(
        client,
        "query($f: BriefingFilter) { briefings(first: 100, filter: $f) "
        "{ edges { node { date } } totalCount } }",
        {"f": filter_},
    )
    assert "errors" not in body, body
    dates = [e["node"]["date"] for e in body["data"]["briefings"]["edges"]]
    assert body["data"]["briefings"]["totalCount"] == len(dates)
    return dates


async def test_briefing_filters(engine: AsyncEngine, client: httpx.AsyncClient) -> None:
    keywords = [
        {"rates": 0.9, "won": 0.2},  # 2025-01-01
        {"won": 0.9},  # 2025-01-02
        {"oil": 0.9, "rates": 0.1},  # 2025-01-03
        {"rates": 0.5, "won": 0.5, "oil": 0.5},  # 2025-01-04
        {"Rates": 0.9},  # 2025-01-05: keys are case-sensitive
    ]
    await make_briefings(engine, len(keywords), keywords=lambda i: keywords[i])
    d = [(BASE_DATE + timedelta(days=i)).isoformat() for i in range(5)]

    assert await _briefing_dates(client, {"keywordsAny": ["rates"]}) == [d[3], d[2], d[0]]
    assert await _briefing_dates(client, {"keywordsAny": ["won", "oil"]}) == [
        d[3], d[2], d[1], d[0]
    ]  # fmt: skip
    assert await _briefing_dates(client, {"keywordsAll": ["rates", "won"]}) == [d[3], d[0]]
    assert await _briefing_dates(client, {"keywordsAll": ["rates", "won", "oil"]}) == [d[3]]
    assert await _briefing_dates(client, {"keywordsAny": ["nothing"]}) == []
    assert await _briefing_dates(client, {"keywordsAny": []}) == []
    assert await _briefing_dates(client, {"keywordsAll": []}) == d[::-1]
    assert await _briefing_dates(client, {"from": d[1], "to": d[3]}) == [d[3], d[2], d[1]]
    assert await _briefing_dates(client, {"from": d[3]}) == [d[4], d[3]]
    assert await _briefing_dates(client, {"to": d[0]}) == [d[0]]
    assert await _briefing_dates(
        client, {"keywordsAny": ["oil", "won"], "keywordsAll": ["rates"], "to": d[2]}
    ) == [d[2], d[0]]


async def test_historical_cases_keyword_filter(
    engine: AsyncEngine, client: httpx.AsyncClient
) -> None:
    await make_cases(
        engine,
        [
            ("a", date(2001, 1, 1), ["fed", "won"]),
            ("b", date(2002, 1, 1), ["oil"]),
            ("c", date(2003, 1, 1), ["won"]),
            ("d", date(2004, 1, 1), []),
        ],
    )

    async def titles(keywords: list[str] | None) -> list[str]:
        body = await gql(
            client,
            "query($k: [String!]) { historicalCases(keywordsAny: $k) "
            "{ edges { node { title } } } }",
            {"k": keywords},
        )
        assert "errors" not in body, body
        return [e["node"]["title"] for e in body["data"]["historicalCases"]["edges"]]

    assert await titles(None) == ["d", "c", "b", "a"]
    assert await titles(["won"]) == ["c", "a"]
    assert await titles(["oil", "fed"]) == ["b", "a"]
    assert await titles(["WON"]) == []
    assert await titles([]) == []


async def test_glossary_search_is_literal_and_case_insensitive(
    engine: AsyncEngine, client: httpx.AsyncClient
) -> None:
    await make_glossary_terms(
        engine,
        ["100% owned", "200 owned", "a_b", "axb", "P/E ratio", "Price", "ETF", "Bond yield",
         "Yield curve", "bond"],
    )  # fmt: skip

    async def terms(search: str | None) -> list[str]:
        body = await gql(
            client,
            "query($s: String) { glossary(first: 100, search: $s) { edges { node { term } } } }",
            {"s": search},
        )
        assert "errors" not in body, body
        return [e["node"]["term"] for e in body["data"]["glossary"]["edges"]]

    assert await terms(None) == [
        "100% owned", "200 owned", "a_b", "axb", "bond", "Bond yield", "ETF", "P/E ratio",
        "Price", "Yield curve",
    ]  # fmt: skip
    assert await terms("%") == ["100% owned"]
    assert await terms("0%") == ["100% owned"]
    assert await terms("_") == ["a_b"]
    assert await terms("/") == ["P/E ratio"]
    assert await terms("p/e") == ["P/E ratio"]
    assert await terms("BOND") == ["bond", "Bond yield"]
    assert await terms("yield") == ["Bond yield", "Yield curve"]
    assert await terms("  etf ") == ["ETF"]
    assert await terms("") == await terms(None)
    assert await terms("\\") == []


# --- Visibility (R7) ---------------------------------------------------------------------


async def test_drafts_are_hidden_from_anonymous(
    engine: AsyncEngine, client: httpx.AsyncClient
) -> None:
    await make_briefings(engine, 2)
    [draft_id] = await make_briefings(
        engine, 1, start=BASE_DATE + timedelta(days=10), status=BriefingStatus.DRAFT
    )
    draft_day = (BASE_DATE + timedelta(days=10)).isoformat()
    body = await gql(
        client,
        "query($d: Date!, $id: ID!) { briefings { edges { node { date status } } totalCount } "
        "briefing(date: $d) { date } node(id: $id) { id } }",
        {"d": draft_day, "id": encode_id("Briefing", draft_id)},
    )
    assert body["data"]["briefings"]["totalCount"] == 2
    assert {e["node"]["status"] for e in body["data"]["briefings"]["edges"]} == {"PUBLISHED"}
    assert body["data"]["briefing"] is None
    assert body["data"]["node"] is None
    assert error_codes(body) == ["NOT_FOUND"]
    assert draft_day not in str(body)


@pytest.mark.parametrize(
    ("principal", "sees_drafts"),
    [
        (Principal(user_id=1, role=Role.MEMBER), False),
        (Principal(user_id=1, role=Role.EDITOR), False),
        (Principal(api_key_id=1, scopes=frozenset({"prices:write"})), False),
        (Principal(user_id=1, role=Role.ADMIN), True),
        (Principal(api_key_id=1, scopes=frozenset({"briefings:write"})), True),
    ],
)
async def test_who_sees_draft_briefings(
    engine: AsyncEngine,
    app: Starlette,
    client: httpx.AsyncClient,
    principal: Principal,
    sees_drafts: bool,
) -> None:
    await make_briefings(engine, 1)
    [draft_id] = await make_briefings(
        engine, 1, start=BASE_DATE + timedelta(days=1), status=BriefingStatus.DRAFT
    )
    act_as(app, principal)
    body = await gql(
        client,
        "query($id: ID!) { briefings { totalCount edges { node { status } } } "
        'briefing(date: "2025-01-02") { status } node(id: $id) { ... on Briefing { status } } }',
        {"id": encode_id("Briefing", draft_id)},
    )
    data = body["data"]
    if sees_drafts:
        assert "errors" not in body, body
        assert data["briefings"]["totalCount"] == 2
        assert data["briefings"]["edges"][0]["node"]["status"] == "DRAFT"
        assert data["briefing"] == {"status": "DRAFT"}
        assert data["node"] == {"status": "DRAFT"}
    else:
        assert data["briefings"]["totalCount"] == 1
        assert data["briefing"] is None
        assert data["node"] is None
        assert error_codes(body) == ["NOT_FOUND"]


# --- Pagination --------------------------------------------------------------------------


async def test_walk_briefings_while_rows_are_inserted(
    engine: AsyncEngine, client: httpx.AsyncClient
) -> None:
    # 23 briefings on 2025-01-01 .. 2025-01-23; pages of 5, newest first.
    await make_briefings(engine, 23)
    seen: list[str] = []
    after = None
    pages = 0
    while True:
        body = await gql(
            client,
            "query($after: String) { briefings(first: 5, after: $after) { edges { node { date } } "
            "pageInfo { hasNextPage hasPreviousPage endCursor } } }",
            {"after": after},
        )
        conn = body["data"]["briefings"]
        assert conn["pageInfo"]["hasPreviousPage"] is (after is not None)
        seen += [e["node"]["date"] for e in conn["edges"]]
        pages += 1
        if pages == 2:
            # Between pages: one newer than anything (already passed: never shown) and one
            # older than everything (still ahead: shown once, in order).
            await make_briefings(engine, 1, start=BASE_DATE + timedelta(days=100))
            await make_briefings(engine, 1, start=BASE_DATE - timedelta(days=100))
        if not conn["pageInfo"]["hasNextPage"]:
            break
        after = conn["pageInfo"]["endCursor"]
    expected = [(BASE_DATE + timedelta(days=i)).isoformat() for i in range(22, -1, -1)]
    assert seen == [*expected, (BASE_DATE - timedelta(days=100)).isoformat()]
    assert pages == 5


async def test_walk_historical_cases_while_rows_are_inserted(
    engine: AsyncEngine, client: httpx.AsyncClient
) -> None:
    # Pairs of cases share a day, so the id tiebreaker is exercised.
    specs = [(f"case {i}", date(2000, 1, 1) + timedelta(days=i // 2), ["won"]) for i in range(17)]
    ids = await make_cases(engine, specs)
    seen: list[str] = []
    after = None
    while True:
        body = await gql(
            client,
            "query($after: String) { historicalCases(first: 4, after: $after, "
            'keywordsAny: ["won"]) { edges { node { id } } pageInfo { hasNextPage endCursor } '
            "totalCount } }",
            {"after": after},
        )
        conn = body["data"]["historicalCases"]
        seen += [e["node"]["id"] for e in conn["edges"]]
        if len(seen) == 4:
            [late] = await make_cases(engine, [("late", date(1990, 1, 1), ["won"])])
            await make_cases(engine, [("too new", date(2030, 1, 1), ["won"])])
        if not conn["pageInfo"]["hasNextPage"]:
            break
        after = conn["pageInfo"]["endCursor"]
    # occurred_on desc, id desc: the insertion order reversed, then the late old case.
    expected = [encode_id("HistoricalCase", i) for i in reversed(ids)]
    assert seen == [*expected, encode_id("HistoricalCase", late)]


async def test_walk_glossary_while_rows_are_inserted(
    engine: AsyncEngine, client: httpx.AsyncClient
) -> None:
    terms = [f"{c}{'x' * (i % 3)}" for i, c in enumerate("bcdefghijklmnop")]
    await make_glossary_terms(engine, [t.upper() if i % 2 else t for i, t in enumerate(terms)])
    seen: list[str] = []
    after = None
    while True:
        body = await gql(
            client,
            "query($after: String) { glossary(first: 4, after: $after) { edges { node { term } } "
            "pageInfo { hasNextPage endCursor } } }",
            {"after": after},
        )
        conn = body["data"]["glossary"]
        seen += [e["node"]["term"] for e in conn["edges"]]
        if len(seen) == 4:
            await make_glossary_terms(engine, ["aardvark", "Zeta"])
        if not conn["pageInfo"]["hasNextPage"]:
            break
        after = conn["pageInfo"]["endCursor"]
    assert [t.lower() for t in seen] == [*sorted(t.lower() for t in terms), "zeta"]
    assert len(set(seen)) == len(seen)


# --- Bad input (R11) ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("{ briefings(first: 101) { edges { node { id } } } }", "first"),
        (
            "{ briefings { edges { node { relatedCases(first: 101) { id } } } } }",
            "first",
        ),
        (
            "{ briefings { edges { node { relatedCases(first: -1) { id } } } } }",
            "first",
        ),
        (
            "{ briefings(filter: {keywordsAny: ["
            + ", ".join(f'"k{i}"' for i in range(51))
            + "]}) { edges { node { id } } } }",
            "filter.keywordsAny",
        ),
        (
            '{ briefings(filter: {keywordsAll: ["%s"]}) { edges { node { id } } } }' % ("k" * 101),
            "filter.keywordsAll",
        ),
        (
            '{ briefings(filter: {keywordsAll: [""]}) { edges { node { id } } } }',
            "filter.keywordsAll",
        ),
        (
            '{ briefings(filter: {from: "2025-02-01", to: "2025-01-01"}) '
            "{ edges { node { id } } } }",
            "filter.from",
        ),
        ('{ historicalCases(keywordsAny: [""]) { edges { node { id } } } }', "keywordsAny"),
        ('{ glossary(search: "%s") { edges { node { id } } } }' % ("x" * 101), "search"),
        ('{ glossary(after: "garbage!!") { edges { node { id } } } }', "after"),
    ],
)
async def test_bad_input_is_a_coded_error(
    engine: AsyncEngine, client: httpx.AsyncClient, query: str, field: str
) -> None:
    await make_briefings(engine, 1)
    body = await gql(client, query)
    assert error_codes(body) == ["BAD_USER_INPUT"], body
    assert body["errors"][0]["extensions"]["field"] == field


async def test_cursor_of_another_list_is_rejected(
    engine: AsyncEngine, client: httpx.AsyncClient
) -> None:
    await make_briefings(engine, 2)
    await make_glossary_terms(engine, ["a", "b"])
    body = await gql(client, "{ glossary(first: 1) { pageInfo { endCursor } } }")
    cursor = body["data"]["glossary"]["pageInfo"]["endCursor"]
    for field in ("briefings", "historicalCases"):
        other = await gql(
            client,
            f"query($c: String) {{ {field}(after: $c) {{ edges {{ node {{ id }} }} }} }}",
            {"c": cursor},
        )
        assert error_codes(other) == ["BAD_USER_INPUT"]
        assert other["errors"][0]["extensions"]["field"] == "after"
