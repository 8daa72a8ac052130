"""Visibility scopes of the response cache (issue 12, R15): who may share a cached answer.

A document's scope is the narrowest of the fields it selects and its max age the shortest;
the face keys public answers by nothing, role answers by the role and API-key scopes, and
per-user answers by the caller. The permission matrix (tests/test_permission_matrix.py) runs
every principal against every field with the cache on; these tests stage the sharing itself.
"""

from __future__ import annotations

import dataclasses
import inspect
from typing import Any

import httpx
import pytest
from graphql import GraphQLInterfaceType, GraphQLObjectType
from graphql import build_schema as build_sdl
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.applications import Starlette
from strawberry.types.field import StrawberryField

from graphql_api.core.auth.principal import ANONYMOUS, Principal
from graphql_api.core.cache_hints import FIELD_EXTENSION, CacheHint, Scope
from graphql_api.core.config import Settings
from graphql_api.core.db.enums import AnnouncementStatus, Role
from graphql_api.engine.cache_plan import CachePlanner
from graphql_api.engine.operations import Operations
from graphql_api.engine.response_cache import HIT, MISS
from schema import build_schema
from schema.cache import CLOCK_MAX_AGE
from tests.conftest import StatementCounter, act_as
from tests.factories import make_announcements
from tests.factories_mutations_bp import make_service
from tests.factories_portfolios import make_principal

ASK = {"x-cache-status": "1"}
PER_USER = CacheHint(Scope.USER)
PER_ROLE = CacheHint(Scope.ROLE)
ME = "query Me { me { id displayName } }"
ANNOUNCEMENTS = "query Calls { announcements(first: 50) { edges { node { title status } } } }"


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return dataclasses.replace(settings, response_cache=True)


async def ask(
    app: Starlette, client: httpx.AsyncClient, principal: Principal, query: str
) -> tuple[str, dict[str, Any]]:
    act_as(app, principal)
    response = await client.post("/graphql", json={"query": query}, headers=ASK)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    assert "errors" not in body, body
    return body["extensions"]["cacheStatus"], body["data"]


def titles(data: dict[str, Any]) -> list[str]:
    return sorted(edge["node"]["title"] for edge in data["announcements"]["edges"])


async def test_a_per_user_read_by_one_user_never_answers_another(
    engine: AsyncEngine, app: Starlette, client: httpx.AsyncClient, sql: StatementCounter
) -> None:
    one, two = await make_principal(engine), await make_principal(engine)

    assert (await ask(app, client, one, ME))[0] == MISS
    status, first = await ask(app, client, one, ME)
    assert status == HIT  # cached, for this user

    sql.reset()
    status, second = await ask(app, client, two, ME)
    assert status == MISS
    assert sql.count > 0
    assert second["me"]["id"] != first["me"]["id"]
    status, again = await ask(app, client, one, ME)
    assert (status, again) == (HIT, first)
    # Anonymous callers get their own (empty) answer, never a user's.
    assert await ask(app, client, ANONYMOUS, ME) == (MISS, {"me": None})


async def test_a_demoted_admin_is_not_served_what_it_read_as_admin(
    engine: AsyncEngine, app: Starlette, client: httpx.AsyncClient
) -> None:
    admin = await make_principal(engine, Role.ADMIN)
    query = "query Logs { auditLogs(first: 5) { totalCount } }"
    await ask(app, client, admin, query)
    assert (await ask(app, client, admin, query))[0] == HIT
    # The same user, a member now (the role comes from the database on each request).
    demoted = dataclasses.replace(admin, role=Role.MEMBER)
    act_as(app, demoted)
    response = await client.post("/graphql", json={"query": query}, headers=ASK)
    body = response.json()
    assert [error["extensions"]["code"] for error in body["errors"]] == ["FORBIDDEN"]
    assert body["extensions"]["cacheStatus"] != HIT


async def test_a_member_never_gets_an_editors_draft_list(
    engine: AsyncEngine, app: Starlette, client: httpx.AsyncClient
) -> None:
    await make_announcements(engine, 2)
    await make_announcements(engine, 1, status=AnnouncementStatus.DRAFT, title="Draft")
    editor = await make_principal(engine, Role.EDITOR)
    member = await make_principal(engine)

    status, seen = await ask(app, client, editor, ANNOUNCEMENTS)
    assert (status, titles(seen)) == (MISS, ["Call 0", "Call 1", "Draft"])
    assert (await ask(app, client, editor, ANNOUNCEMENTS))[0] == HIT

    for caller in (member, ANONYMOUS):
        status, seen = await ask(app, client, caller, ANNOUNCEMENTS)
        assert (status, titles(seen)) == (MISS, ["Call 0", "Call 1"])
    # A service's drafts depend on its key's scopes, not only on its (absent) role.
    without = await make_service(engine)
    assert "Draft" not in titles((await ask(app, client, without, ANNOUNCEMENTS))[1])
    writer = await make_service(engine, "announcements:write")
    assert "Draft" in titles((await ask(app, client, writer, ANNOUNCEMENTS))[1])
    # One answer per role: another editor is served the first editor's entry.
    other_editor = await make_principal(engine, Role.EDITOR)
    status, seen = await ask(app, client, other_editor, ANNOUNCEMENTS)
    assert (status, titles(seen)) == (HIT, ["Call 0", "Call 1", "Draft"])


async def test_a_member_shares_public_answers_and_keeps_per_user_fields_apart(
    engine: AsyncEngine, app: Starlette, client: httpx.AsyncClient
) -> None:
    member, other = await make_principal(engine), await make_principal(engine)
    query = "query Titles { securities(first: 5) { totalCount } }"
    assert (await ask(app, client, member, query))[0] == MISS
    assert (await ask(app, client, other, query))[0] == HIT
    assert (await ask(app, client, ANONYMOUS, query))[0] == HIT


# --- Hints: declared on the fields, combined once per document ----------------------------


def hint_of(query: str, operation: str | None = None) -> CacheHint | None:
    operations = Operations(build_schema()._schema)
    return operations.cache_hint(operations.prepare(query, operation))


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("{ securities { edges { node { symbol } } } }", CacheHint(Scope.PUBLIC)),
        ("{ __typename __schema { types { name } } }", CacheHint(Scope.PUBLIC)),
        ("{ dashboard { businessesBySize { size } } }", CacheHint(Scope.PUBLIC)),
        (
            "{ dashboard { openCallsClosingSoonCount } securities { totalCount } }",
            CacheHint(Scope.PUBLIC, CLOCK_MAX_AGE),
        ),
        (ANNOUNCEMENTS, CacheHint(Scope.ROLE, CLOCK_MAX_AGE)),
        ("{ briefings { edges { node { title } } } }", CacheHint(Scope.ROLE)),
        (
            "{ securities { totalCount } ...F } fragment F on Query { me { id } }",
            CacheHint(Scope.USER),
        ),
        ('{ node(id: "x") { id } }', CacheHint(Scope.USER)),
        ("{ businesses { edges { node { name } } } }", CacheHint(Scope.PUBLIC)),
        ("{ businesses { edges { node { registrationNumber } } } }", CacheHint(Scope.USER)),
        (
            "{ businesses { edges { node { announcements { totalCount } } } } }",
            CacheHint(Scope.ROLE),
        ),
        (
            "{ businesses { edges { node { ... on Business { applications { totalCount } } } } } }",
            CacheHint(Scope.USER),
        ),
    ],
)
def test_a_documents_hint_is_the_narrowest_of_its_fields(query: str, expected: CacheHint) -> None:
    assert hint_of(query) == expected


def test_mutations_have_no_hint() -> None:
    assert hint_of('mutation { logout(refreshToken: "x") { errors { code } } }') is None


def test_the_hint_is_computed_once_per_document() -> None:
    operations = Operations(build_schema()._schema)
    calls = 0
    plan = operations.cache_planner.plan

    def counted(*args: Any) -> CacheHint:
        nonlocal calls
        calls += 1
        return plan(*args)

    operations.cache_planner.plan = counted  # type: ignore[method-assign]  # counting calls
    for _ in range(3):
        operations.cache_hint(operations.prepare(ME, None))
    assert calls == 1


def test_a_field_without_a_hint_counts_as_per_user() -> None:
    bare = build_sdl("type Query { a: Int, b: Thing } type Thing { c: Int }")
    hint = CachePlanner(bare).plan(
        *Operations(bare).prepare("{ b { c } }", None).document._operation(None)
    )
    assert hint == CacheHint(Scope.USER)


def test_a_field_on_an_interface_counts_every_implementation() -> None:
    sdl = """
        type Query { n: N }
        interface N { id: ID }
        type Open implements N { id: ID }
        type Closed implements N { id: ID }
    """
    schema = build_sdl(sdl)
    for name in ("Query", "N", "Open"):
        for field in schema.get_type(name).fields.values():  # type: ignore[union-attr]  # object types
            field.extensions = {FIELD_EXTENSION: CacheHint()}
    closed = schema.get_type("Closed").fields["id"]  # type: ignore[union-attr]  # an object type
    closed.extensions = {FIELD_EXTENSION: CacheHint(Scope.ROLE, 5)}
    prepared = Operations(schema).prepare("{ n { id } }", None).document
    assert CachePlanner(schema).plan(*prepared._operation(None)) == CacheHint(Scope.ROLE, 5)


def _resolver_source(field: StrawberryField) -> str:
    resolver = field.base_resolver
    if resolver is None:
        return ""
    func: Any = resolver.wrapped_func
    func = func.__func__ if isinstance(func, staticmethod) else func
    return inspect.getsource(func)


def test_resolvers_reading_the_caller_or_the_clock_declare_it() -> None:
    """A resolver that reads the principal is per-role at least; one that reads the clock
    has a max age. Catches a new field that forgets its mark (mutations are never cached)."""
    schema = build_schema()._schema
    checked = 0
    for type_name in sorted(schema.type_map):
        gql_type = schema.type_map[type_name]
        if type_name.startswith("__") or type_name in ("Mutation", "Subscription"):
            continue
        if not isinstance(gql_type, GraphQLObjectType | GraphQLInterfaceType):
            continue  # input types: nothing is resolved
        for name, gql_field in gql_type.fields.items():
            field = (gql_field.extensions or {}).get("strawberry-definition")
            if not isinstance(field, StrawberryField):
                continue
            source = _resolver_source(field)
            hint = gql_field.extensions[FIELD_EXTENSION]
            if "principal" in source:
                checked += 1
                assert hint.scope >= Scope.ROLE, f"{type_name}.{name} reads the caller"
            if ".now" in source:
                checked += 1
                assert hint.max_age is not None, f"{type_name}.{name} reads the clock"
    assert checked >= 8


async def test_counters_per_scope_are_in_the_readiness_check(
    engine: AsyncEngine, app: Starlette, client: httpx.AsyncClient
) -> None:
    member = await make_principal(engine)
    for _ in range(3):
        await ask(app, client, member, ME)
    await ask(app, client, member, "query Count { securities { totalCount } }")
    mutation = 'mutation { logout(refreshToken: "x") { loggedOut } }'
    logout = await client.post("/graphql", json={"query": mutation}, headers=ASK)
    # It reached the cache (BYPASS) and is counted in no scope.
    assert logout.json()["extensions"]["cacheStatus"] == "BYPASS"
    scopes = (await client.get("/health/ready")).json()["responseCache"]["scopes"]
    assert scopes["user"] == {"hits": 2, "misses": 1, "bypasses": 0}
    assert scopes["public"] == {"hits": 0, "misses": 1, "bypasses": 0}
    assert scopes["role"] == {"hits": 0, "misses": 0, "bypasses": 0}
