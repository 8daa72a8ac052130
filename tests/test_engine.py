"""The compiled engine against graphql-core's executor on a schema made for edge cases (issue 9).

Every case runs the same document through `Engine.execute` and graphql-core's `execute` and
demands the same data and the same errors (message, path, locations) in the same order:
null propagation from synchronous and awaited resolvers, non-null list items, abstract
types, fragments, aliases, `@skip`/`@include` with variables, variable coercion errors,
and mutations run serially. The application-wide comparison over real documents and roles
is tests/test_engine_differential.py; this file pins the semantics on small inputs.
"""

from __future__ import annotations

import asyncio
from inspect import isawaitable
from typing import Any

import pytest
from graphql import (
    ExecutionResult,
    GraphQLSchema,
    build_schema,
    execute,
    parse,
    validate,
)

from graphql_api.engine import Engine

SDL = """
interface Named { name: String }
type Dog implements Named { name: String barks: Boolean! }
type Cat implements Named { name: String lives: Int }
union Pet = Dog | Cat
type Item { id: ID! label: String! note: String tags: [String!] size: Int }
type Query {
  hello: String
  items(n: Int = 3): [Item!]!
  maybeItems: [Item]
  slowItems: [Item!]
  item(fail: Boolean = false): Item
  strictItem: Item!
  pets: [Pet!]!
  named: [Named]
  boom: String
  slowBoom: String
  bigInt: Int
  color: Color
  echo(text: String!, times: Int!): [String!]!
}
enum Color { RED GREEN }
type Mutation { bump(by: Int!): Int! fail: Int }
"""


class Obj:
    def __init__(self, **kwargs: Any) -> None:
        self.__dict__.update(kwargs)


def _items(n: int) -> list[Obj]:
    return [
        Obj(id=str(i), label=f"item {i}", note=None if i % 2 else "even",
            tags=["a", "b"], size=i)
        for i in range(n)
    ]  # fmt: skip


async def _later(value: Any) -> Any:
    await asyncio.sleep(0)
    if isinstance(value, Exception):
        raise value
    return value


def build() -> GraphQLSchema:
    schema = build_schema(SDL)
    query = schema.query_type
    assert query is not None
    fields = query.fields
    counter = {"value": 0}

    fields["hello"].resolve = lambda _s, _i: "world"
    fields["items"].resolve = lambda _s, _i, n: _items(n)
    fields["maybeItems"].resolve = lambda _s, _i: [_items(1)[0], None, _later(_items(3)[2])]
    fields["slowItems"].resolve = lambda _s, _i: _later(
        [_items(2)[0], Obj(id="9", label=None, note="x", tags=None, size=1)]
    )
    fields["item"].resolve = lambda _s, _i, fail: _later(
        Obj(id="1", label=None if fail else "ok", note="n", tags=["x", None], size=2)
    )
    fields["strictItem"].resolve = lambda _s, _i: _later(None)
    fields["pets"].resolve = lambda _s, _i: [
        {"__typename": "Dog", "name": "rex", "barks": True},
        {"__typename": "Cat", "name": "tom", "lives": 9},
    ]
    fields["named"].resolve = lambda _s, _i: [
        {"__typename": "Cat", "name": "kit", "lives": 3},
        None,
        {"__typename": "Dog", "name": "fido", "barks": None},
    ]
    fields["boom"].resolve = lambda _s, _i: (_ for _ in ()).throw(ValueError("boom"))
    fields["slowBoom"].resolve = lambda _s, _i: _later(ValueError("slow boom"))
    fields["bigInt"].resolve = lambda _s, _i: 2**40
    fields["color"].resolve = lambda _s, _i: "BLUE"
    fields["echo"].resolve = lambda _s, _i, text, times: [text] * times

    def bump(_s: Any, _i: Any, by: int) -> Any:
        async def run() -> int:
            await asyncio.sleep(0)
            counter["value"] += by
            return counter["value"]

        return run()

    assert schema.mutation_type is not None
    schema.mutation_type.fields["bump"].resolve = bump
    schema.mutation_type.fields["fail"].resolve = lambda _s, _i: _later(RuntimeError("no"))
    return schema


def _shape(result: ExecutionResult) -> tuple[Any, list[tuple[str, Any, Any]]]:
    errors = [
        (e.message, e.path, [(loc.line, loc.column) for loc in e.locations or ()])
        for e in result.errors or ()
    ]
    return result.data, errors


async def _both(source: str, variables: dict[str, Any] | None = None) -> tuple[Any, Any]:
    document = parse(source)
    reference_schema, engine_schema = build(), build()
    assert not validate(reference_schema, document)
    expected = execute(reference_schema, document, variable_values=variables)
    if isawaitable(expected):
        expected = await expected
    got = Engine(engine_schema).execute(document, variable_values=variables)
    if isawaitable(got):
        got = await got
    return _shape(expected), _shape(got)  # type: ignore[arg-type]  # a result or the exception raised


CASES = {
    "plain": "{ hello items { id label note tags size } }",
    "aliases and typename": "{ a: items(n: 1) { __typename x: id } b: items(n: 2) { label } }",
    "sync error in nullable field": "{ hello boom items(n: 1) { id } }",
    "awaited error in nullable field": "{ slowBoom hello }",
    "null in non-null after await propagates to the list": "{ slowItems { id label } }",
    "null in non-null propagates to nullable parent": "{ item(fail: true) { id label } }",
    "non-null root after await nulls data": "{ hello strictItem { id } }",
    "nullable list items": "{ maybeItems { id note } }",
    "null inside non-null list item": "{ item { tags } }",
    "union with fragments": (
        "{ pets { __typename ... on Dog { name barks } ... on Cat { name lives } } }"
    ),
    "interface with named fragment": (
        "{ named { name ...C ... on Dog { barks } } } fragment C on Cat { lives }"
    ),
    "leaf coercion errors": "{ bigInt color hello }",
    "arguments from literals": '{ echo(text: "hi", times: 2) }',
    "merged selections": "{ items(n: 2) { id } items(n: 2) { label } }",
}


@pytest.mark.parametrize("source", CASES.values(), ids=CASES.keys())
async def test_engine_matches_graphql_core(source: str) -> None:
    expected, got = await _both(source)
    assert got == expected


@pytest.mark.parametrize(
    "variables",
    [
        {"skip": True, "text": "a", "times": 1},
        {"skip": False, "text": "b", "times": 3},
        {"skip": "yes", "text": "c", "times": 1},  # coercion error: no execution at all
        {"text": "d"},  # missing required variable
    ],
)
async def test_variables_and_directives_match(variables: dict[str, Any]) -> None:
    source = (
        "query Q($skip: Boolean!, $text: String!, $times: Int = 2) {"
        " hello @skip(if: $skip) items(n: 1) @include(if: $skip) { id }"
        " echo(text: $text, times: $times) }"
    )
    expected, got = await _both(source, variables)
    assert got == expected


async def test_mutations_run_serially_and_match() -> None:
    expected, got = await _both("mutation { a: bump(by: 1) b: fail c: bump(by: 10) }")
    assert got == expected
    assert got[0] == {"a": 1, "b": None, "c": 11}


async def test_the_comparison_can_fail() -> None:
    """A changed resolver must show up as a difference (the tests above are not vacuous)."""
    document = parse("{ hello }")
    schema = build()
    assert schema.query_type is not None
    schema.query_type.fields["hello"].resolve = lambda _s, _i: "changed"
    got = Engine(schema).execute(document)
    expected = execute(build(), document)
    assert _shape(got) != _shape(expected)  # type: ignore[arg-type]  # a result or the exception raised


async def test_introspection_falls_back_to_graphql_core() -> None:
    schema = build()
    engine = Engine(schema)
    result = engine.execute(parse("{ __schema { queryType { name } } hello }"))
    assert not isawaitable(result)
    assert result.data == {"__schema": {"queryType": {"name": "Query"}}, "hello": "world"}
    assert engine.fallbacks == 1


def test_strawberry_internals_the_engine_relies_on() -> None:
    """Fails loudly when a Strawberry upgrade changes what graphql_api/face/strawberry_engine.py
    depends on (the version range in pyproject.toml should then move with a fix)."""
    import inspect as pyinspect

    from strawberry.http.async_base_view import AsyncBaseHTTPView
    from strawberry.schema.schema import _OperationContextAwareGraphQLResolveInfo
    from strawberry.subscriptions.protocols.graphql_transport_ws.handlers import (
        BaseGraphQLTransportWSHandler,
    )
    from strawberry.subscriptions.protocols.graphql_ws.handlers import BaseGraphQLWSHandler

    assert _OperationContextAwareGraphQLResolveInfo._fields == (
        "field_name", "field_nodes", "return_type", "parent_type", "path", "schema",
        "fragments", "root_value", "operation", "variable_values", "context",
        "is_awaitable", "abort_signal", "async_helpers", "operation_extensions",
    )  # fmt: skip
    # Every transport reaches execution through one of the three overridden methods.
    assert "self.schema.stream(" in pyinspect.getsource(BaseGraphQLTransportWSHandler)
    assert "self.schema.subscribe(" in pyinspect.getsource(BaseGraphQLWSHandler)
    assert "self.schema.execute(" in pyinspect.getsource(AsyncBaseHTTPView)

    from graphql_api.face.strawberry_engine import EngineSchema

    for name in ("execute", "stream", "subscribe"):
        assert name in EngineSchema.__dict__, name
