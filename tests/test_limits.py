"""Query cost (issue 11, R10): every operation is priced before it runs; over the maximum it is
refused with QUERY_TOO_COMPLEX and its price, and nothing runs (no SQL)."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from graphql import FragmentDefinitionNode, OperationDefinitionNode, parse
from starlette.applications import Starlette

from graphql_api.core.config import Settings
from graphql_api.core.pagination import DEFAULT_PAGE_SIZE
from graphql_api.engine.cost import CostModel
from schema import build_schema
from tests.conftest import StatementCounter

MODEL = CostModel(
    build_schema()._schema,
    default_page_size=DEFAULT_PAGE_SIZE,
    default_list_size=DEFAULT_PAGE_SIZE,
)

ANNOUNCEMENTS_PAGE = """query Page($first: Int) {
  announcements(first: $first) {
    edges { node { id title business { id name } } }
    pageInfo { hasNextPage endCursor }
  }
}"""


def cost(query: str, variables: dict[str, Any] | None = None) -> int:
    document = parse(query)
    operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    fragments = {
        d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)
    }
    return MODEL.plan(operations[0], fragments).cost(variables)


def test_the_formula_counts_the_objects_a_query_may_return() -> None:
    # The connection (1) + pageInfo (1) + per edge: the edge, its node, the node's business.
    assert cost(ANNOUNCEMENTS_PAGE, {"first": 20}) == 1 + 1 + 20 * 3
    assert cost(ANNOUNCEMENTS_PAGE, {"first": 100}) == 1 + 1 + 100 * 3
    # `first` absent or null: the server's default page.
    assert cost(ANNOUNCEMENTS_PAGE) == 1 + 1 + DEFAULT_PAGE_SIZE * 3
    assert cost(ANNOUNCEMENTS_PAGE, {"first": None}) == 1 + 1 + DEFAULT_PAGE_SIZE * 3
    # Nested lists multiply: 20 businesses x (edge, node, connection, 3 x (edge, node)).
    nested = """{ businesses(first: 20) { edges { node {
        id announcements(first: 3) { edges { node { id } } }
    } } } }"""
    assert cost(nested) == 1 + 20 * (1 + 1 + 1 + 3 * 2)
    # Scalars, enums and __typename are free; aliases are fields like any other.
    terms = "glossary(first: 5) { edges { node { term definition } } }"
    assert cost("{ __typename " + terms + " }") == 1 + 5 * 2
    assert cost("{ a: " + terms + " b: " + terms + " }") == 2 * (1 + 5 * 2)


def test_variables_defaults_lists_and_fragments() -> None:
    with_default = "query($n: Int = 50) { glossary(first: $n) { edges { node { term } } } }"
    assert cost(with_default) == 1 + 50 * 2
    assert cost(with_default, {"n": 7}) == 1 + 7 * 2
    # `nodes(ids:)` returns one object per ID.
    assert cost('{ nodes(ids: ["a", "b", "c"]) { id } }') == 3
    assert cost("query($ids: [ID!]!) { nodes(ids: $ids) { id } }", {"ids": ["a"] * 9}) == 9
    # On an abstract type the most expensive possible type counts, not the sum.
    node = """{ node(id: "x") {
        ... on Business { announcements(first: 10) { edges { node { id } } } }
        ... on Portfolio { name }
    } }"""
    assert cost(node) == 1 + 1 + 10 * 2
    # Introspection is priced by the schema's size, not by the query's shape.
    assert cost("{ __schema { types { name fields { name } } } }") == MODEL.introspection_cost


@pytest.fixture
async def limited(settings: Settings) -> AsyncIterator[tuple[Starlette, httpx.AsyncClient]]:
    from graphql_api.face.app import create_app

    at_most = cost(ANNOUNCEMENTS_PAGE, {"first": 20})
    application = create_app(dataclasses.replace(settings, max_query_cost=at_most))
    async with application.router.lifespan_context(application):
        transport = httpx.ASGITransport(app=application)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
            yield application, http


async def test_the_last_allowed_price_runs_and_the_next_is_refused_before_any_sql(
    limited: tuple[Starlette, httpx.AsyncClient],
) -> None:
    app, http = limited
    counter = StatementCounter()
    app.state.db.add_statement_listener(counter.statements.append)

    allowed = await http.post(
        "/graphql", json={"query": ANNOUNCEMENTS_PAGE, "variables": {"first": 20}}
    )
    assert allowed.status_code == 200
    assert "errors" not in allowed.json()
    assert counter.count > 0  # it ran

    counter.reset()
    refused = await http.post(
        "/graphql", json={"query": ANNOUNCEMENTS_PAGE, "variables": {"first": 21}}
    )
    body = refused.json()
    assert "data" not in body  # a request error: nothing ran (GraphQL over HTTP)
    [error] = body["errors"]
    assert error["extensions"]["code"] == "QUERY_TOO_COMPLEX"
    assert error["extensions"]["cost"] == {
        "requestedQueryCost": 1 + 1 + 21 * 3,
        "maximumAvailable": 1 + 1 + 20 * 3,
    }
    assert counter.count == 0  # refused before anything ran
    app.state.db.remove_statement_listener(counter.statements.append)


def _aliases(n: int) -> str:
    page = "glossary(first: 1) { edges { node { term } } }"
    return "{ " + " ".join(f"a{i}: {page}" for i in range(n)) + " }"


def _directives(n: int) -> str:
    return "{ glossary(first: 1) { " + "totalCount @include(if: true) " * n + "} }"


@pytest.mark.parametrize(
    ("build", "limit"),
    [(_aliases, 15), (_directives, 50)],
    ids=["aliases", "directives"],
)
async def test_alias_and_directive_limits_at_their_boundary(
    limited: tuple[Starlette, httpx.AsyncClient], build: Any, limit: int
) -> None:
    app, http = limited
    counter = StatementCounter()
    app.state.db.add_statement_listener(counter.statements.append)

    allowed = (await http.post("/graphql", json={"query": build(limit)})).json()
    assert "errors" not in allowed, allowed
    assert counter.count > 0

    counter.reset()
    refused = (await http.post("/graphql", json={"query": build(limit + 1)})).json()
    assert "data" not in refused  # a request error: nothing ran (GraphQL over HTTP)
    [error] = refused["errors"]
    assert error["extensions"]["code"] == "QUERY_TOO_COMPLEX"
    assert f"at most {limit}" in error["message"]
    assert counter.count == 0
    app.state.db.remove_statement_listener(counter.statements.append)


async def test_introspection_can_be_switched_off_and_production_hides_suggestions(
    settings: Settings,
) -> None:
    from graphql_api.core.config import Environment
    from graphql_api.face.app import create_app

    closed = dataclasses.replace(settings, introspection=False, env=Environment.PRODUCTION)
    application = create_app(closed)
    async with application.router.lifespan_context(application):
        transport = httpx.ASGITransport(app=application)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
            schema = (
                await http.post("/graphql", json={"query": "{ __schema { types { name } } }"})
            ).json()
            assert schema["errors"][0]["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"
            assert "introspection" in schema["errors"][0]["message"]
            # __typename is not introspection of the schema: still answered.
            typename = (await http.post("/graphql", json={"query": "{ __typename }"})).json()
            assert typename == {"data": {"__typename": "Query"}}
            typo = (
                await http.post("/graphql", json={"query": "{ glosary { totalCount } }"})
            ).json()
            [error] = typo["errors"]
            assert error["message"] == "Cannot query field 'glosary' on type 'Query'."


async def test_development_keeps_suggestions(client: httpx.AsyncClient) -> None:
    typo = (await client.post("/graphql", json={"query": "{ glosary { totalCount } }"})).json()
    assert "Did you mean 'glossary'?" in typo["errors"][0]["message"]


_CYCLE = ["announcements(first: 1)", "edges", "node", "business"]
_LEAF = {"announcements(first: 1)": "totalCount", "edges": "cursor", "node": "id", "business": "id"}


def _nested(levels: int) -> str:
    """A query whose deepest field is `levels` fields down (the root field is the first)."""
    names = [_CYCLE[i % len(_CYCLE)] for i in range(levels - 1)]
    query = _LEAF[names[-1]]
    for name in reversed(names):
        query = f"{name} {{ {query} }}"
    return "{ " + query + " }"


async def test_depth_limit_at_its_boundary(
    client: httpx.AsyncClient, sql: StatementCounter
) -> None:
    from schema import MAX_DEPTH

    # Depth counts the fields below the root field (graphql-depth-limit's convention).
    allowed = (await client.post("/graphql", json={"query": _nested(MAX_DEPTH + 1)})).json()
    assert "errors" not in allowed, allowed
    assert sql.count > 0
    sql.reset()
    refused = (await client.post("/graphql", json={"query": _nested(MAX_DEPTH + 2)})).json()
    [error] = refused["errors"]
    assert error["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"
    assert f"maximum operation depth of {MAX_DEPTH}" in error["message"]
    assert sql.count == 0


def _with_tokens(count: int) -> str:
    """A document of exactly `count` lexical tokens (a long default list pads it)."""
    from graphql.language import Lexer, Source, TokenKind

    def tokens(text: str) -> int:
        lexer, total = Lexer(Source(text)), 0
        while lexer.advance().kind is not TokenKind.EOF:
            total += 1
        return total

    def document(items: int) -> str:
        values = ", ".join(['"A"'] * items)
        return f"query Q($v: [String] = [{values}]) {{ __typename }}"

    padding = count - tokens(document(0))
    text = document(padding)
    assert tokens(text) == count
    return text


async def test_token_limit_at_its_boundary(
    client: httpx.AsyncClient, sql: StatementCounter
) -> None:
    from graphql_api.engine.documents import MAX_TOKENS

    # At the limit the document parses (then fails validation: `$v` is unused) ...
    at_limit = (await client.post("/graphql", json={"query": _with_tokens(MAX_TOKENS)})).json()
    assert all("tokens" not in error["message"] for error in at_limit["errors"])
    assert at_limit["errors"][0]["extensions"]["code"] != "GRAPHQL_PARSE_FAILED"
    # ... one token more is refused by the parser itself.
    over = (await client.post("/graphql", json={"query": _with_tokens(MAX_TOKENS + 1)})).json()
    [error] = over["errors"]
    assert error["extensions"]["code"] == "GRAPHQL_PARSE_FAILED"
    assert f"more than {MAX_TOKENS} tokens" in error["message"]
    assert sql.count == 0
