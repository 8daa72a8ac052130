"""Input PostgreSQL cannot hold, and documents validation cannot finish (issue 14, R11, R13).

Each case was an INTERNAL_SERVER_ERROR (or a bare "Validation aborted.") before: the NUL
reached PostgreSQL, which refused it. Now one rule refuses it at the edge with
BAD_USER_INPUT naming where it is, and no statement is sent.
"""

from __future__ import annotations

import base64
import warnings
from typing import Any

import httpx
import orjson
import pytest
from starlette.applications import Starlette
from starlette.exceptions import StarletteDeprecationWarning

from graphql_api.core.auth.principal import Principal
from graphql_api.core.config import Settings
from graphql_api.core.db.enums import Role
from graphql_api.engine.operations import RequestError
from graphql_api.face.app import create_app
from tests.conftest import StatementCounter, act_as

with warnings.catch_warnings():
    warnings.simplefilter("ignore", StarletteDeprecationWarning)
    from starlette.testclient import TestClient

NUL = "a\x00b"
SURROGATE = "a\ud800b"

# (document, variables, the `field` the error names)
LITERALS: list[tuple[str, str]] = [
    ('{ glossary(search: "a\\u0000b") { totalCount } }', "search"),
    ('{ announcements(filter: {search: "a\\u0000"}) { totalCount } }', "filter.search"),
    ('{ announcements(filter: {category: ["x", "\\u0000"]}) { totalCount } }', "filter.category"),
    ('{ businesses(filter: {name: "\\u0000"}) { totalCount } }', "filter.name"),
    ('{ businesses(filter: {namePrefix: "a\\u0000"}) { totalCount } }', "filter.namePrefix"),
    ('{ businesses(filter: {region: ["\\u0000"]}) { totalCount } }', "filter.region"),
    ('{ briefings(filter: {keywordsAny: ["\\u0000"]}) { totalCount } }', "filter.keywordsAny"),
    ('{ historicalCases(keywordsAny: ["a\\u0000"]) { totalCount } }', "keywordsAny"),
    ('{ securities(symbols: ["AAPL", "\\u0000"]) { totalCount } }', "symbols"),
    ('{ auditLogs(filter: {action: ["\\u0000"]}) { totalCount } }', "filter.action"),
    ('query ($s: String = "\\u0000") { glossary(search: $s) { totalCount } }', "$s"),
]

VARIABLES: list[tuple[str, dict[str, Any], str]] = [
    (
        "query ($s: String) { glossary(search: $s) { totalCount } }",
        {"s": NUL},
        "s",
    ),
    (
        "query ($f: AnnouncementFilter) { announcements(filter: $f) { totalCount } }",
        {"f": {"search": NUL}},
        "f.search",
    ),
    (
        "query ($f: BusinessFilter) { businesses(filter: $f) { totalCount } }",
        {"f": {"name": NUL}},
        "f.name",
    ),
    (
        "query ($s: [String!]) { securities(symbols: $s) { totalCount } }",
        {"s": ["AAPL", NUL]},
        "s.1",
    ),
    (
        "query ($f: AuditLogFilter) { auditLogs(filter: $f) { totalCount } }",
        {"f": {"action": [NUL]}},
        "f.action.0",
    ),
]


def _refused(body: dict[str, Any], field: str) -> None:
    assert body.get("data") is None, body
    [error] = body["errors"]
    assert error["extensions"]["code"] == "BAD_USER_INPUT", error
    assert error["extensions"]["field"] == field
    assert "NUL" in error["message"]


@pytest.mark.parametrize(("query", "field"), LITERALS)
async def test_unstorable_literals_are_bad_user_input_before_any_sql(
    app: Starlette, client: httpx.AsyncClient, sql: StatementCounter, query: str, field: str
) -> None:
    act_as(app, Principal(user_id=1, role=Role.ADMIN))  # auditLogs is admin-only
    response = await client.post("/graphql", json={"query": query})
    assert response.status_code == 200
    _refused(response.json(), field)
    assert sql.count == 0


@pytest.mark.parametrize(("query", "variables", "field"), VARIABLES)
async def test_unstorable_variables_are_bad_user_input_before_any_sql(
    app: Starlette,
    client: httpx.AsyncClient,
    sql: StatementCounter,
    query: str,
    variables: dict[str, Any],
    field: str,
) -> None:
    act_as(app, Principal(user_id=1, role=Role.ADMIN))
    response = await client.post("/graphql", json={"query": query, "variables": variables})
    assert response.status_code == 200
    _refused(response.json(), field)
    assert sql.count == 0


async def test_lone_surrogates_are_refused_on_every_transport(
    app: Starlette, client: httpx.AsyncClient, sql: StatementCounter
) -> None:
    import json

    query = "query ($f: BusinessFilter) { businesses(filter: $f) { totalCount } }"
    # The JSON body's decoder already refuses them: a coded 400.
    body = json.dumps({"query": query, "variables": {"f": {"name": SURROGATE}}})
    response = await client.post(
        "/graphql", content=body, headers={"content-type": "application/json"}
    )
    assert response.status_code == 400
    assert response.json()["errors"][0]["extensions"]["code"] == "BAD_REQUEST"
    # Transports whose decoders accept them (multipart, GraphiQL) share the one path.
    with pytest.raises(RequestError) as refused:
        app.state.operations.prepare(query, None, {"f": {"name": SURROGATE}})
    [error] = refused.value.errors
    assert error.extensions == {"code": "BAD_USER_INPUT", "field": "f.name"}
    assert sql.count == 0


async def test_unstorable_variables_over_get(
    client: httpx.AsyncClient, sql: StatementCounter
) -> None:
    response = await client.get(
        "/graphql",
        params={
            "query": "query ($s: String) { glossary(search: $s) { totalCount } }",
            "variables": orjson.dumps({"s": NUL}).decode(),
        },
    )
    _refused(response.json(), "s")
    assert sql.count == 0


async def test_json_scalars_are_checked_keys_included(
    app: Starlette, client: httpx.AsyncClient, sql: StatementCounter
) -> None:
    act_as(app, Principal(user_id=1, role=Role.ADMIN))
    query = """mutation ($input: BriefingInput!) {
      upsertBriefing(input: $input) { briefing { id } errors { code } } }"""
    briefing = {
        "date": "2026-01-02",
        "title": "t",
        "summary": "s",
        "narrative": "n",
        "topKeywords": [],
        "marketSnapshot": {"nested": [{"a\x00": 1}]},
    }
    response = await client.post(
        "/graphql", json={"query": query, "variables": {"input": briefing}}
    )
    _refused(response.json(), "input.marketSnapshot.nested.0.<key>")
    assert sql.count == 0


async def test_a_subscription_with_an_unstorable_filter_is_refused(settings: Settings) -> None:
    from tests.test_subscriptions import ANNOUNCEMENTS, close, codes, connect, receive, subscribe

    with TestClient(create_app(settings)) as ws_client:
        ws = connect(ws_client)
        try:
            subscribe(ws, "1", ANNOUNCEMENTS, {"filter": {"search": NUL}})
            message = receive(ws)
            assert message["type"] == "error", message
            assert codes(message["payload"]) == ["BAD_USER_INPUT"]
            literal = 'subscription { announcementPublished(filter: {search: "\\u0000"}) { id } }'
            subscribe(ws, "2", literal)
            message = receive(ws)
            assert message["type"] == "error", message
            assert codes(message["payload"]) == ["BAD_USER_INPUT"]
        finally:
            close(ws)


def _cursor(*parts: Any) -> str:
    import json

    return base64.urlsafe_b64encode(json.dumps(list(parts)).encode()).decode().rstrip("=")


@pytest.mark.parametrize(
    "cursor",
    [
        _cursor("na", NUL, 1),  # a forged sort value PostgreSQL cannot compare
        _cursor("na", "a", 2**63 + 5),  # an id beyond bigint
        _cursor("ed", 2**40, 1),  # an employee count beyond integer
        _cursor("cd", "9999-12-31T23:59:59-14:00", 1),  # a timestamp beyond year 9999 in UTC
    ],
    ids=["NUL", "bigint", "integer", "overflowing timestamp"],
)
async def test_forged_cursors_are_bad_user_input(
    client: httpx.AsyncClient, sql: StatementCounter, cursor: str
) -> None:
    kind = orjson.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))[0]
    query = {
        "na": "query ($after: String) { businesses(after: $after, orderBy: NAME_ASC) { "
        "edges { node { id } } } }",
        "ed": "query ($after: String) { businesses(after: $after, orderBy: "
        "EMPLOYEE_COUNT_DESC) { edges { node { id } } } }",
        "cd": "query ($after: String) { announcements(after: $after, orderBy: CLOSES_AT_DESC) "
        "{ edges { node { id } } } }",
    }[kind]
    variables = {"after": cursor}
    body = (await client.post("/graphql", json={"query": query, "variables": variables})).json()
    assert body["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT", body


# --- documents graphql-core cannot validate ----------------------------------------------


@pytest.mark.parametrize(
    "query",
    [
        "{ dashboard { " + " ".join(["__typename"] * 800) + " } }",
        "{ " + " ".join(["me { id }"] * 900) + " }",
        "fragment F on Query { " + " ".join(["me { id }"] * 200) + " } { ...F ...F2 }"
        " fragment F2 on Query { ...F " + " ".join(["... on Query { ...F }"] * 5) + " }",
    ],
    ids=["800 leaves", "900 objects", "fragments"],
)
async def test_huge_selection_sets_get_a_code_not_validation_aborted(
    client: httpx.AsyncClient, sql: StatementCounter, query: str
) -> None:
    body = (await client.post("/graphql", json={"query": query})).json()
    [error] = body["errors"]
    assert error["extensions"]["code"] == "QUERY_TOO_COMPLEX", error
    assert error["message"] != "Validation aborted."
    assert sql.count == 0


def _empty() -> str:
    # Joined at run time: tests/differential_corpus.py collects (and folds) string constants,
    # and Strawberry's depth rule, which it runs, fails on an empty selection set.
    return "".join(["{", " }"])


@pytest.mark.parametrize(
    "shape",
    ["%", "{ me % }", "query A %", "{ me { ... on User % } }"],
    ids=["operation", "field", "named operation", "inline fragment"],
)
async def test_empty_selection_sets_are_parse_errors_not_500(
    client: httpx.AsyncClient, shape: str
) -> None:
    # graphql-core 3.3 parses `{}`, and Strawberry's depth rule raised on it: a 500.
    query = shape.replace("%", _empty())
    response = await client.post("/graphql", json={"query": query})
    assert response.status_code == 200
    [error] = response.json()["errors"]
    assert error["extensions"]["code"] == "GRAPHQL_PARSE_FAILED"


async def test_a_selection_set_within_the_limit_still_runs(client: httpx.AsyncClient) -> None:
    query = "{ " + " ".join(["__typename"] * 250) + " }"
    body = (await client.post("/graphql", json={"query": query})).json()
    assert body == {"data": {"__typename": "Query"}}
