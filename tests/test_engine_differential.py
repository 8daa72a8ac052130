"""Proof that the compiled engine is the same API (issue 9, item 5): a differential test.

One seeded database; every query document of the test suite (about 110) and about 1,300
generated from the committed SDL by hypothesis-graphql with a fixed seed (see
tests/differential_corpus.py); each run as anonymous, a MEMBER (who owns businesses and a
portfolio), an EDITOR, an ADMIN and a service holding an API key with every scope. Each
(document, principal) goes through the engine exactly as the app builds it and through
graphql-core's own `execute` as the app ran it before (Strawberry's execution context),
each with a fresh Context (fresh loaders) at the same fixed `now`. The responses must be
identical: `data` byte for byte as JSON (key order matters), and the errors after the app's
classification (`graphql_api.core.errors.classify`): message, locations, path and extensions, in
the same order.

Every mismatch is collected, given a kind (`kind_of`), reduced to a small document that
still shows it (a few of them), and written to one report (DIFFERENTIAL_REPORT, default
in the temp dir). Any mismatch fails the test, error order and which errors a propagated null
hides included (the engine starts and records awaits in graphql-core's loop-turn order, see
engine/waves.py), except one kind that database timing decides on both sides: items of one
list whose errors come in another order (LIST_ITEM_ORDER), reported but not failing. `-s`
shows the counts: documents, executions, error codes, mismatches.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import difflib
import os
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from inspect import isawaitable
from pathlib import Path
from typing import Any

import graphql
import orjson
import pytest
from graphql import DocumentNode, ExecutionResult, GraphQLError, execute
from redis.asyncio import Redis
from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import create_async_engine
from starlette.requests import Request
from starlette.responses import Response
from strawberry.execution.is_awaitable import optimized_is_awaitable
from strawberry.schema._graphql_core import execution_context_class_kwargs

from graphql_api.core.auth.api_keys import generate_key
from graphql_api.core.auth.authenticate import PrincipalCache, authenticate
from graphql_api.core.auth.principal import ANONYMOUS, Principal
from graphql_api.core.auth.revocations import RevokedSessions
from graphql_api.core.broker import Broker
from graphql_api.core.config import Environment, Settings
from graphql_api.core.db.engine import Database
from graphql_api.core.db.enums import AnnouncementStatus, BriefingStatus, Role
from graphql_api.core.db.models import (
    Announcement,
    ApiKey,
    Application,
    AuditLog,
    Briefing,
    Business,
    GlossaryTerm,
    HistoricalCase,
    Portfolio,
    Security,
    Transaction,
    User,
)
from graphql_api.core.errors import classify
from graphql_api.devtools.embedded import RedisServer
from graphql_api.devtools.seed import seed_demo
from graphql_api.engine import Engine
from graphql_api.face.strawberry_engine import EngineSchema
from loaders.lazy import create_lazy_loaders
from schema import MAX_DEPTH, build_schema, depth_rules
from schema.context import Context
from tests.conftest import TestPostgres
from tests.differential_corpus import (
    Case,
    Pool,
    draw_in_subprocess,
    generated_documents,
    suite_cases,
    suite_documents,
)

# The schema as the app serves it: an EngineSchema whose `Operations` hold the engine built
# the way the app builds it (Strawberry's resolver info, graphql-core for introspection).
RULES = depth_rules(MAX_DEPTH)
SERVED = build_schema(max_depth=MAX_DEPTH, schema_class=EngineSchema)
assert isinstance(SERVED, EngineSchema)
OPERATIONS = SERVED.attach(RULES)
GQL_SCHEMA = SERVED._schema
PRINCIPALS = ("anonymous", "member", "editor", "admin", "service")
ALL_SCOPES = frozenset({"briefings:write", "prices:write", "announcements:write"})

# Generated documents: draws per root field and mixing root fields; the fixed seed keeps CI
# reproducible. A document whose result could exceed MAX_SIZE values is not kept.
PER_FIELD = 100
MIXED = 130
MAX_SIZE = 400
SEED = 20_260_909
MIN_EXECUTIONS = 2000
TIMEOUT = 30.0  # seconds for one execution: a hang is a finding, not a stuck CI run
MINIMISE_BUDGET = 80  # comparisons spent reducing one mismatch
MINIMISED_AT_MOST = 6  # documents reduced (one per kind first)

# --- The two ways to execute -----------------------------------------------------------

Executor = Callable[[DocumentNode, Context, dict[str, Any] | None, str | None], Any]
_STRAWBERRY_KWARGS = execution_context_class_kwargs(SERVED.execution_context_class)


def reference_execute(
    document: DocumentNode,
    context: Context,
    variables: dict[str, Any] | None,
    operation_name: str | None,
) -> Any:
    """graphql-core's execution exactly as graphql_view.py ran it before the engine."""
    return execute(
        GQL_SCHEMA,
        document,
        context_value=context,
        variable_values=variables,
        operation_name=operation_name,
        **_STRAWBERRY_KWARGS,
        is_awaitable=optimized_is_awaitable,  # type: ignore[arg-type]  # graphql-core wants a TypeGuard
    )


def engine_executor(engine: Engine) -> Executor:
    def run(
        document: DocumentNode,
        context: Context,
        variables: dict[str, Any] | None,
        operation_name: str | None,
    ) -> Any:
        return engine.execute(
            document,
            context_value=context,
            variable_values=variables,
            operation_name=operation_name,
            root_value=None,
        )

    return run


# --- Comparing responses ---------------------------------------------------------------


def _unknown(value: object) -> str:
    # A value JSON cannot hold: keep its type visible, so `Decimal("1")` != `"1"`.
    return f"<{type(value).__name__} {value!r}>"


def response_of(result: ExecutionResult | BaseException) -> dict[str, Any]:
    """What a client would get: classified errors (as graphql_view._respond), then data."""
    if isinstance(result, BaseException):
        return {"raised": f"{type(result).__name__}: {result}"}
    body: dict[str, Any] = {}
    if result.errors:
        body["errors"] = [classify(error).formatted for error in result.errors]
    body["data"] = result.data
    return body


def encoded(body: dict[str, Any]) -> bytes:
    return orjson.dumps(body, default=_unknown)


def difference(
    expected: ExecutionResult | BaseException, got: ExecutionResult | BaseException
) -> str | None:
    """None when both are the same response; else a readable diff (expected -> got)."""
    want, have = encoded(response_of(expected)), encoded(response_of(got))
    if want == have:
        return None
    pretty = orjson.OPT_INDENT_2

    def lines(raw: bytes) -> list[str]:
        return orjson.dumps(orjson.loads(raw), option=pretty).decode().splitlines()

    diff = list(
        difflib.unified_diff(lines(want), lines(have), "reference", "engine", n=2, lineterm="")
    )
    if not diff:  # same JSON, other key order
        diff = ["(same values, different key order)", want.decode(), have.decode()]
    return "\n".join(diff)


def _at(data: Any, path: list[Any]) -> Any:
    """The value at `path` in the data: None inside a null, Ellipsis where nothing is."""
    for key in path:
        if data is None:
            return None
        if (isinstance(data, dict) and key in data) or (
            isinstance(data, list) and isinstance(key, int) and key < len(data)
        ):
            data = data[key]
        else:
            return ...
    return data


def _inside_nulled(error: dict[str, Any], others: list[dict[str, Any]], data: Any) -> bool:
    """Whether `error` lies inside an object that one of the other errors nulled."""
    path = error.get("path") or []
    for other in others:
        other_path = other.get("path") or []
        common: list[Any] = []
        for a, b in zip(path, other_path, strict=False):
            if a != b:
                break
            common.append(a)
        inside = len(common) < len(path) and len(common) < len(other_path)
        if inside and _at(data, common) is None:
            return True
    return False


# The one difference tolerated: the same errors, each list item's in the same order, but
# the items' errors interleaved differently (`nodes` entries of different types). Which
# item's error comes first is decided by which DataLoader's database reply arrives first,
# on both sides; graphql-core itself answers either way on reruns under load. Reported,
# never failing the test.
LIST_ITEM_ORDER = "list item order"


def _by_item(errors: list[dict[str, Any]]) -> tuple[Any, ...]:
    """Errors grouped by the list item they sit under (path up to its first index), each
    group in response order, and the sequence of those items with indexes wildcarded:
    equal for two responses that differ only in how one list's items interleave."""
    groups: dict[tuple[Any, ...], list[str]] = {}
    where: list[tuple[Any, ...]] = []
    for error in errors:
        path = list(error.get("path") or ())
        cut = next((at + 1 for at, key in enumerate(path) if isinstance(key, int)), 0)
        item = tuple(path[:cut])
        groups.setdefault(item, []).append(encoded(error))
        where.append(tuple("*" if isinstance(key, int) else key for key in item))
    return groups, where


def kind_of(expected: dict[str, Any], got: dict[str, Any]) -> str:
    """What kind of difference two different responses show, for the report."""
    if "raised" in expected or "raised" in got:
        return "raised"
    if encoded({"d": expected.get("data")}) != encoded({"d": got.get("data")}):
        return "data"
    wanted, have = expected.get("errors", []), got.get("errors", [])
    want_set = Counter(encoded(e) for e in wanted)
    have_set = Counter(encoded(e) for e in have)
    if want_set == have_set:
        # Each item's errors in the same order; only how items interleave differs.
        if _by_item(wanted) == _by_item(have):
            return LIST_ITEM_ORDER
        return "error order"
    extra = [e for e in have if encoded(e) in have_set - want_set]
    missing = [e for e in wanted if encoded(e) in want_set - have_set]
    data, every = expected.get("data"), [*wanted, *have]
    if all(_inside_nulled(e, [o for o in every if o is not e], data) for e in extra + missing):
        return "errors inside nulled data"
    return "errors"


# --- The seeded world -----------------------------------------------------------------


@dataclass
class World:
    settings: Settings
    db: Database
    redis: Redis
    now: dt.datetime
    principals: dict[str, Principal]
    pool: Pool
    request_scope: dict[str, Any] = field(default_factory=dict)

    def context(self, principal: Principal) -> Context:
        return Context(
            request=Request(self.request_scope),
            response=Response(media_type="application/json"),
            settings=self.settings,
            db=self.db,
            redis=self.redis,
            principal=principal,
            loaders=create_lazy_loaders(self.db),
            request_id="differential-test",
            now=self.now,
            # Queries only: nothing subscribes, nobody re-authenticates.
            broker=Broker(self.settings.redis_url or ""),
            authenticate=authenticate,
            principals=PrincipalCache(),
            revoked_sessions=RevokedSessions(900),
        )


async def run_case(
    world: World, executor: Executor, case: Case, document: DocumentNode, principal: Principal
) -> ExecutionResult | BaseException:
    context = world.context(principal)
    try:
        result = executor(document, context, case.variables, case.operation_name)
        if isawaitable(result):
            result = await asyncio.wait_for(result, TIMEOUT)
    except Exception as exc:  # the engine must not raise where graphql-core answers
        return exc
    if not isinstance(result, ExecutionResult):
        return TypeError(f"execute returned {type(result).__name__}, not an ExecutionResult")
    return result


RERUNS = 3  # each side runs again this often before a difference counts (see `judge`)


def _without_error_order(body: dict[str, Any]) -> bytes:
    errors = sorted(encoded(error) for error in body.get("errors", []))
    return encoded({**body, "errors": [orjson.loads(error) for error in errors]})


@dataclass
class Verdict:
    expected: ExecutionResult | BaseException
    got: ExecutionResult | BaseException
    diff: str | None  # None: the engine answered as graphql-core does
    # graphql-core's or the engine's answer changed between runs of the same request.
    varies: bool = False


async def judge(
    world: World, engine_run: Executor, case: Case, document: DocumentNode, principal: Principal
) -> Verdict:
    """Run both and compare. When they differ, both run again a few times.

    graphql-core lists the errors of concurrently resolved fields (say two `nodes` entries
    fetched by different loaders) in the order they complete, which is not always the same
    on the same data. So a difference counts unless the two sides share an answer over the
    reruns, or they differ only in the order of errors and that order is not stable on one
    side. A difference that is stable on both sides always counts.
    """
    expected = await run_case(world, reference_execute, case, document, principal)
    got = await run_case(world, engine_run, case, document, principal)
    diff = difference(expected, got)
    if diff is None:
        return Verdict(expected, got, None)
    references = {encoded(response_of(expected))}
    engines = {encoded(response_of(got))}
    for _ in range(RERUNS):
        again = await run_case(world, reference_execute, case, document, principal)
        references.add(encoded(response_of(again)))
        again = await run_case(world, engine_run, case, document, principal)
        engines.add(encoded(response_of(again)))
        if references & engines:
            return Verdict(expected, got, None, varies=True)
    varies = len(references) > 1 or len(engines) > 1
    unordered = {_without_error_order(orjson.loads(body)) for body in references | engines}
    if varies and len(unordered) == 1:
        return Verdict(expected, got, None, varies=True)
    return Verdict(expected, got, diff, varies=varies)


async def _seed_extras(engine: Any, now: dt.datetime, admin: int, member: int) -> None:
    """What the seed leaves out but queries read: API keys and audit entries."""
    key, old = generate_key(), generate_key()
    async with engine.begin() as conn:
        old_id = (
            await conn.execute(
                insert(ApiKey).returning(ApiKey.id),
                [
                    {
                        "name": "differential (rotated)",
                        "prefix": old.prefix,
                        "key_hash": old.key_hash,
                        "scopes": ["prices:write"],
                        "created_by_id": admin,
                        "expires_at": now + dt.timedelta(days=30),
                        "revoked_at": now - dt.timedelta(days=1),
                    }
                ],
            )
        ).scalar_one()
        key_id = (
            await conn.execute(
                insert(ApiKey).returning(ApiKey.id),
                [
                    {
                        "name": "differential service",
                        "prefix": key.prefix,
                        "key_hash": key.key_hash,
                        "scopes": sorted(ALL_SCOPES),
                        "created_by_id": admin,
                        "expires_at": now + dt.timedelta(days=30),
                        "rotated_from_id": old_id,
                        "last_used_at": now - dt.timedelta(hours=1),
                    }
                ],
            )
        ).scalar_one()
        entries: list[dict[str, Any]] = [
            {
                "actor_user_id": admin,
                "action": "api_key.create",
                "target_type": "ApiKey",
                "target_id": str(key_id),
                "success": True,
                "ip": "127.0.0.1",
                "request_id": "seeded-1",
                "details": {"scopes": sorted(ALL_SCOPES)},
            },
            {"actor_api_key_id": key_id, "action": "prices.update", "details": {"count": 3}},
            {"actor_user_id": member, "action": "auth.login", "success": False, "ip": "10.0.0.7"},
        ]
        blank: dict[str, Any] = {
            "actor_user_id": None,
            "actor_api_key_id": None,
            "target_type": None,
            "target_id": None,
            "success": True,
            "ip": None,
            "request_id": None,
            "details": {},
        }
        await conn.execute(insert(AuditLog), [{**blank, **entry} for entry in entries])


async def _pool(engine: Any, now: dt.datetime, users: dict[str, int]) -> Pool:
    member = users["member"]

    async def scalars(statement: Any) -> list[Any]:
        async with engine.connect() as conn:
            return list((await conn.execute(statement)).scalars())

    def firsts(*lists: list[int], n: int = 6) -> list[int]:
        seen: list[int] = []
        for values in lists:
            for value in values:
                if value not in seen:
                    seen.append(value)
        return seen[:n]

    own_businesses = await scalars(
        select(Business.id).where(Business.owner_id == member).order_by(Business.id)
    )
    own_portfolios = await scalars(
        select(Portfolio.id).where(Portfolio.owner_id == member).order_by(Portfolio.id)
    )

    def first_ids(model: Any, *where: Any, n: int = 4) -> Awaitable[list[Any]]:
        return scalars(select(model.id).where(*where).order_by(model.id).limit(n))

    announcements = firsts(
        await first_ids(Announcement, Announcement.status == AnnouncementStatus.DRAFT, n=2),
        await first_ids(Announcement, Announcement.business_id.in_(own_businesses), n=1),
        await first_ids(Announcement, Announcement.status == AnnouncementStatus.PUBLISHED, n=2),
        await first_ids(Announcement, Announcement.status == AnnouncementStatus.CLOSED, n=1),
    )
    briefings = firsts(
        await first_ids(Briefing, Briefing.status == BriefingStatus.DRAFT, n=1),
        await scalars(select(Briefing.id).order_by(Briefing.date.desc()).limit(3)),
    )
    ids = {
        "User": firsts([users["member"], users["editor"], users["admin"], users["other_member"]]),
        "Business": firsts(own_businesses[:2], await first_ids(Business)),
        "Portfolio": firsts(own_portfolios[:1], await first_ids(Portfolio)),
        "Announcement": announcements,
        "Application": firsts(
            await first_ids(Application, Application.business_id.in_(own_businesses), n=2),
            await first_ids(Application),
        ),
        "Transaction": firsts(
            await first_ids(Transaction, Transaction.portfolio_id.in_(own_portfolios), n=2),
            await first_ids(Transaction),
        ),
        "Briefing": briefings,
        "Security": await first_ids(Security),
        "GlossaryTerm": await first_ids(GlossaryTerm),
        "HistoricalCase": await first_ids(HistoricalCase),
        "ApiKey": await first_ids(ApiKey),
        "AuditLog": await first_ids(AuditLog),
    }
    draft_dates = await scalars(
        select(Briefing.date).where(Briefing.status == BriefingStatus.DRAFT).limit(1)
    )
    latest = await scalars(select(Briefing.date).order_by(Briefing.date.desc()).limit(2))
    case_keywords = await scalars(
        select(HistoricalCase.keywords).order_by(HistoricalCase.id).limit(4)
    )
    keywords = [keyword for listed in case_keywords for keyword in listed][:8]
    return Pool(
        ids=ids,
        dates=[*latest, *draft_dates, latest[0] + dt.timedelta(days=1)],
        symbols=await scalars(select(Security.symbol).order_by(Security.id).limit(4)),
        keywords=list(dict.fromkeys(keywords)),
        industries=await scalars(
            select(Business.industry).distinct().order_by(Business.industry).limit(3)
        ),
        regions=await scalars(
            select(Business.region).distinct().order_by(Business.region).limit(3)
        ),
        categories=await scalars(
            select(Announcement.category).distinct().order_by(Announcement.category).limit(3)
        ),
        business_names=await scalars(select(Business.name).order_by(Business.id).limit(2)),
        glossary_fragments=[
            term[:3].lower()
            for term in await scalars(select(GlossaryTerm.term).order_by(GlossaryTerm.id).limit(3))
        ],
        cursors={},
        now=now,
        actions=await scalars(select(AuditLog.action).distinct().order_by(AuditLog.action)),
    )


CURSOR_PAGES = """
{
  announcements(first: 2) { pageInfo { endCursor } }
  businesses(first: 2) { pageInfo { endCursor } }
  briefings(first: 2) { pageInfo { endCursor } }
  historicalCases(first: 2) { pageInfo { endCursor } }
  glossary(first: 2) { pageInfo { endCursor } }
  securities(first: 2) { pageInfo { endCursor } }
  auditLogs(first: 1) { pageInfo { endCursor } }
}
"""


async def _real_cursors(world: World) -> dict[str, str]:
    """End cursors of first pages, so generated `after:` arguments page for real."""
    case = Case("cursors", CURSOR_PAGES)
    result = await run_case(
        world, reference_execute, case, graphql.parse(CURSOR_PAGES), world.principals["admin"]
    )
    assert isinstance(result, ExecutionResult), result
    assert not result.errors, result.errors
    assert result.data is not None
    connection_of = {
        name: graphql.get_named_type(definition.type).name
        for name, definition in GQL_SCHEMA.query_type.fields.items()  # type: ignore[union-attr]  # the schema has a query type
    }
    return {
        connection_of[name]: page["pageInfo"]["endCursor"]
        for name, page in result.data.items()
        if page["pageInfo"]["endCursor"]
    }


@pytest.fixture(scope="module")
async def world(
    pg_server: TestPostgres, template_db: str, redis_server: RedisServer
) -> AsyncIterator[World]:
    name = f"differential_{uuid.uuid4().hex[:10]}"
    await pg_server.create_database(name, template=template_db)
    url = pg_server.url(name)
    # One instant for every context, and the seed anchored on its day, so the database's
    # now() and the context's `now` agree on which calls are open.
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    engine = create_async_engine(url)
    try:
        await seed_demo(engine, scale=1, today=now.date())
        async with engine.connect() as conn:
            rows = (
                await conn.execute(
                    select(User.id, User.role).where(User.is_active).order_by(User.id)
                )
            ).all()
            business_owners = await conn.execute(
                select(Business.owner_id).where(Business.owner_id.is_not(None))
            )
            portfolio_owners = await conn.execute(select(Portfolio.owner_id))
            owners = set(business_owners.scalars()) & set(portfolio_owners.scalars())
        members = [uid for uid, role in rows if role is Role.MEMBER]
        owning = [uid for uid in members if uid in owners]
        users = {
            "member": owning[0],
            "other_member": next(uid for uid in members if uid != owning[0]),
            "editor": next(uid for uid, role in rows if role is Role.EDITOR),
            "admin": next(uid for uid, role in rows if role is Role.ADMIN),
        }
        await _seed_extras(engine, now, users["admin"], users["member"])
        pool = await _pool(engine, now, users)
        async with engine.connect() as conn:
            service_key = (
                await conn.execute(select(ApiKey.id).where(ApiKey.revoked_at.is_(None)))
            ).scalar_one()
    finally:
        await engine.dispose()

    settings = Settings(
        env=Environment.TEST,
        database_url=url,
        redis_url=redis_server.url,
        jwt_secret="test-secret-" + "x" * 40,
        auto_migrate=False,
        seed_demo_data=False,
    )
    world = World(
        settings=settings,
        db=Database(settings),
        redis=Redis.from_url(redis_server.url),
        now=now,
        principals={
            "anonymous": ANONYMOUS,
            "member": Principal(user_id=users["member"], role=Role.MEMBER),
            "editor": Principal(user_id=users["editor"], role=Role.EDITOR),
            "admin": Principal(user_id=users["admin"], role=Role.ADMIN),
            "service": Principal(api_key_id=service_key, scopes=ALL_SCOPES),
        },
        pool=pool,
        request_scope={
            "type": "http",
            "method": "POST",
            "path": "/graphql",
            "headers": [(b"content-type", b"application/json")],
            "query_string": b"",
            "client": ("127.0.0.1", 50000),
            "server": ("testserver", 80),
            "scheme": "http",
        },
    )
    world.pool.cursors = await _real_cursors(world)
    try:
        yield world
    finally:
        await world.db.dispose()
        await world.redis.aclose()
        await pg_server.drop_database(name)


# --- Reducing a mismatch to a small document --------------------------------------------


def _without(document: DocumentNode, k: int) -> DocumentNode | None:
    """The document without its k-th removable selection (one that has siblings), or None
    when there are not that many."""
    seen = 0
    removed = False

    class Remove(graphql.Visitor):
        def _selection(self, node: Any, key: Any, parent: Any, *args: Any) -> Any:
            nonlocal seen, removed
            if removed or not isinstance(parent, tuple) or len(parent) < 2:
                return None
            seen += 1
            if seen - 1 == k:
                removed = True
                return graphql.REMOVE
            return None

        enter_field = _selection
        enter_inline_fragment = _selection

    edited = graphql.visit(document, Remove())
    return edited if removed else None


def _drop_unused_variables(
    document: DocumentNode, variables: dict[str, Any] | None
) -> tuple[DocumentNode, dict[str, Any] | None]:
    used: set[str] = set()

    class Uses(graphql.Visitor):
        def enter_variable_definition(self, *args: Any) -> Any:
            return graphql.SKIP

        def enter_variable(self, node: graphql.VariableNode, *args: Any) -> None:
            used.add(node.name.value)

    class Drop(graphql.Visitor):
        def enter_variable_definition(
            self, node: graphql.VariableDefinitionNode, *args: Any
        ) -> Any:
            return None if node.variable.name.value in used else graphql.REMOVE

    graphql.visit(document, Uses())
    edited = graphql.visit(document, Drop())
    if variables is None:
        return edited, None
    return edited, {k: v for k, v in variables.items() if k in used}


@dataclass
class Mismatch:
    case: Case
    principal: str
    diff: str
    expected: dict[str, Any]
    got: dict[str, Any]
    varies: bool = False  # one side answered differently when run again
    minimal: str | None = None
    minimal_variables: dict[str, Any] | None = None

    @property
    def kind(self) -> str:
        return kind_of(self.expected, self.got)

    def report(self) -> str:
        lines = [
            f"--- {self.case.label} as {self.principal}: {self.kind}",
            f"document:\n{self.case.text.strip()}",
            f"variables: {orjson.dumps(self.case.variables).decode()}",
        ]
        if self.minimal is not None:
            lines.append(f"minimal document:\n{self.minimal.strip()}")
            lines.append(f"minimal variables: {orjson.dumps(self.minimal_variables).decode()}")
        if self.varies:
            lines.append("NOTE: one side answered differently when run again")
        lines.append(f"expected (graphql-core): {encoded(self.expected).decode()[:3000]}")
        lines.append(f"got (engine):            {encoded(self.got).decode()[:3000]}")
        lines.append(self.diff[:4000])
        return "\n".join(lines)


async def _mismatches(
    world: World,
    engine_run: Executor,
    case: Case,
    document: DocumentNode,
    principal: Principal,
    kind: str,
) -> bool:
    expected = await run_case(world, reference_execute, case, document, principal)
    got = await run_case(world, engine_run, case, document, principal)
    if difference(expected, got) is None:
        return False
    return kind_of(response_of(expected), response_of(got)) == kind


async def minimise(world: World, engine_run: Executor, mismatch: Mismatch) -> None:
    """Greedily drop selections while the two engines still disagree (bounded effort)."""
    principal = world.principals[mismatch.principal]
    document = graphql.parse(mismatch.case.text)
    variables = mismatch.case.variables
    budget = MINIMISE_BUDGET
    k = 0
    while budget > 0:
        candidate = _without(document, k)
        if candidate is None:
            break
        candidate, candidate_variables = _drop_unused_variables(candidate, variables)
        if graphql.validate(GQL_SCHEMA, candidate):
            k += 1
            continue
        text = graphql.print_ast(candidate)
        trial = Case(mismatch.case.origin, text, mismatch.case.operation_name, candidate_variables)
        budget -= 1
        if await _mismatches(
            world, engine_run, trial, graphql.parse(text), principal, mismatch.kind
        ):
            document, variables = graphql.parse(text), candidate_variables
            k = 0  # positions moved: start over on the smaller document
        else:
            k += 1
    mismatch.minimal = graphql.print_ast(document)
    mismatch.minimal_variables = variables


# --- The tests ------------------------------------------------------------------------


def _report_path() -> Path:
    configured = os.environ.get("DIFFERENTIAL_REPORT")
    if configured:
        return Path(configured)
    return Path(tempfile.gettempdir()) / "engine-differential-mismatches.txt"


@dataclass
class Tally:
    """What the run saw, for the summary (and to show the corpus is not vacuous)."""

    executions: int = 0
    by_origin: Counter[str] = field(default_factory=Counter)
    codes: Counter[str] = field(default_factory=Counter)
    clean: int = 0  # data and no error
    unstable: int = 0  # answers changed between runs, and the two sides agree
    mismatches: list[Mismatch] = field(default_factory=list)


async def run_all(world: World, engine_run: Executor, cases: list[Case], tally: Tally) -> None:
    for case in cases:
        document = graphql.parse(case.text)  # one parsed document for both, as the app does
        for name in PRINCIPALS:
            verdict = await judge(world, engine_run, case, document, world.principals[name])
            tally.executions += 1
            tally.by_origin[case.origin.partition(":")[0]] += 1
            expected = response_of(verdict.expected)
            tally.codes.update(e["extensions"]["code"] for e in expected.get("errors", []))
            if expected.get("data") and "errors" not in expected:
                tally.clean += 1
            if verdict.diff is None:
                tally.unstable += verdict.varies
                continue
            tally.mismatches.append(
                Mismatch(
                    case,
                    name,
                    verdict.diff,
                    expected,
                    response_of(verdict.got),
                    varies=verdict.varies,
                )
            )


async def _compare_everything(
    world: World, engine_run: Executor, drawing: asyncio.Task[list[list[str]]], started: float
) -> Tally:
    """The suite's documents (while Hypothesis draws), then the generated ones."""
    found = suite_documents(GQL_SCHEMA, RULES)
    from_suite, unfilled = suite_cases(found.documents, GQL_SCHEMA, world.pool)
    print(
        f"\nsuite: {len(found.documents)} query documents -> {len(from_suite)} cases "
        f"({found.not_queries} mutation/subscription documents and {found.invalid} invalid "
        f"ones left out, {len(unfilled)} with variables that could not be filled)"
    )
    for origin, text, reason in unfilled:
        print(f"  not filled ({reason}): {origin}: {' '.join(text.split())[:160]}")
    assert len(found.documents) >= 50, "the suite's documents were not found"

    tally = Tally()
    await run_all(world, engine_run, from_suite, tally)

    generated = generated_documents(
        await drawing, GQL_SCHEMA, world.pool, max_size=MAX_SIZE, rules=RULES
    )
    print(
        f"generated: {generated.drawn} drawn, {generated.duplicates} duplicates, "
        f"{generated.invalid} invalid, {generated.too_large} over the size bound -> "
        f"{len(generated.cases)} documents {dict(generated.decorations)} "
        f"(ready after {time.monotonic() - started:.1f}s)"
    )
    assert len(generated.cases) >= 1000, "the generator produced too few documents"
    await run_all(world, engine_run, generated.cases, tally)
    return tally


async def test_engine_answers_like_graphql_core(world: World) -> None:
    started = time.monotonic()
    # Hypothesis draws in another process while this one runs the suite's documents.
    drawing = asyncio.create_task(
        draw_in_subprocess(world.pool, per_field=PER_FIELD, mixed=MIXED, fixed_seed=SEED)
    )
    engine_run = engine_executor(OPERATIONS.engine)
    try:
        tally = await _compare_everything(world, engine_run, drawing, started)
    finally:
        drawing.cancel()
    executions, mismatches = tally.executions, tally.mismatches
    executed = time.monotonic()

    # Reduce one document of each kind first, then others.
    chosen: list[Mismatch] = []
    for mismatch in mismatches:
        if mismatch.kind not in {m.kind for m in chosen}:
            chosen.append(mismatch)
    for mismatch in mismatches:
        if mismatch.case.text not in {m.case.text for m in chosen}:
            chosen.append(mismatch)
    for mismatch in chosen[:MINIMISED_AT_MOST]:
        await minimise(world, engine_run, mismatch)

    print(
        f"executions: {executions} (document x principal; {dict(tally.by_origin)}); "
        f"{tally.clean} answered data without errors; error codes: "
        f"{dict(tally.codes.most_common())}; {tally.unstable} that answered differently on "
        f"reruns and agree (a shared answer, or the same errors in an order that is not "
        f"stable); {len(mismatches)} mismatches; {executed - started:.1f}s comparing, "
        f"{time.monotonic() - started:.1f}s with reducing"
    )
    assert executions >= MIN_EXECUTIONS, f"only {executions} executions: the corpus is too small"
    if not mismatches:
        return
    kinds = Counter(m.kind for m in mismatches)
    principals = Counter(m.principal for m in mismatches)
    documents = len({m.case.text for m in mismatches})
    path = _report_path()
    reduced = [m for m in mismatches if m.minimal is not None]
    rest = [m for m in mismatches if m.minimal is None]
    path.write_text("\n\n".join(m.report() for m in [*reduced, *rest]), encoding="utf-8")
    summary = (
        f"{len(mismatches)} of {executions} executions ({documents} documents) differ from "
        f"graphql-core; by kind {dict(kinds)}, by principal {dict(principals)}; all of "
        f"them in {path}"
    )
    print(summary)
    failing = [m for m in mismatches if m.kind != LIST_ITEM_ORDER]
    if not failing:
        return  # only list items swapped by database timing (see LIST_ITEM_ORDER)
    shown = "\n\n".join(m.report() for m in [*reduced, *rest][:8])
    pytest.fail(f"{summary}\n\n{shown}", pytrace=False)


def test_the_comparison_reports_differences() -> None:
    """The comparison itself can fail: changed data, key order, errors or a raise; and it
    tells the kinds of difference apart."""
    node = graphql.parse("{ me { id } }").definitions[0]
    error = GraphQLError("No object with this ID.", path=["node"], nodes=[node])
    base = ExecutionResult({"a": 1, "b": [{"c": "1.50"}]}, [error])

    def same(other: ExecutionResult | BaseException) -> bool:
        return difference(base, other) is None

    assert same(ExecutionResult({"a": 1, "b": [{"c": "1.50"}]}, [error]))
    assert not same(ExecutionResult({"a": 1, "b": [{"c": "1.5"}]}, [error]))
    assert not same(ExecutionResult({"b": [{"c": "1.50"}], "a": 1}, [error]))  # key order
    assert not same(ExecutionResult({"a": 1, "b": [{"c": "1.50"}]}, None))
    moved = GraphQLError("No object with this ID.", path=["nodes", 0], nodes=[node])
    assert not same(ExecutionResult({"a": 1, "b": [{"c": "1.50"}]}, [moved]))
    other = GraphQLError("Other.", path=["node"], nodes=[node])
    assert not same(ExecutionResult({"a": 1, "b": [{"c": "1.50"}]}, [error, other]))
    assert difference(
        ExecutionResult({"a": 1}, [error, other]), ExecutionResult({"a": 1}, [other, error])
    )  # the order of errors
    assert not same(RuntimeError("boom"))

    # Each difference gets a kind, so the report says what differs.
    def kind(want: ExecutionResult, have: ExecutionResult | BaseException) -> str:
        return kind_of(response_of(want), response_of(have))

    swapped = ExecutionResult({"a": 1}, [other, error])
    assert kind(ExecutionResult({"a": 1}, [error, other]), swapped) == "error order"
    # Two items of one list swapped: the tolerated kind; across fields it is not.
    first = GraphQLError("No object with this ID.", path=["nodes", 0], nodes=[node])
    third = GraphQLError("No object with this ID.", path=["nodes", 2], nodes=[node])
    items = ExecutionResult({"a": 1}, [first, third])
    assert kind(items, ExecutionResult({"a": 1}, [third, first])) == LIST_ITEM_ORDER
    assert kind(base, ExecutionResult({"a": 2, "b": [{"c": "1.50"}]}, [error])) == "data"
    assert kind(base, RuntimeError("boom")) == "raised"
    assert kind(base, ExecutionResult(base.data, [moved])) == "errors"
    # `node` failed and nulled the whole response: an extra error from its sibling `me`
    # (which graphql-core cancels) is that kind; an extra one elsewhere is not.
    beside = GraphQLError("Forbidden.", path=["me", "email"], nodes=[node])
    nulled = ExecutionResult(None, [error])
    assert kind(nulled, ExecutionResult(None, [error, beside])) == "errors inside nulled data"
    # ... as is a different error of that kind on each side.
    inside = GraphQLError("Forbidden.", path=["me", "role"], nodes=[node])
    assert kind(ExecutionResult(None, [beside]), ExecutionResult(None, [inside])) == (
        "errors inside nulled data"
    )
    partial = ExecutionResult({"node": None, "me": {"email": None}}, [error])
    both = ExecutionResult({"node": None, "me": {"email": None}}, [error, beside])
    assert kind(partial, both) == "errors"

    diff = difference(base, ExecutionResult({"a": 2, "b": [{"c": "1.50"}]}, [error]))
    assert diff is not None
    assert '-    "a": 1,' in diff.splitlines()
    assert '+    "a": 2,' in diff.splitlines()


async def test_a_wrong_engine_is_caught(world: World) -> None:
    """The whole path (contexts, execution, comparison) reports an engine that is off."""

    def off_by_one(
        document: DocumentNode,
        context: Context,
        variables: dict[str, Any] | None,
        operation_name: str | None,
    ) -> Any:
        async def run() -> ExecutionResult:
            result = reference_execute(document, context, variables, operation_name)
            if isawaitable(result):
                result = await result
            assert isinstance(result, ExecutionResult)
            if result.data and "glossary" in result.data:
                result.data["glossary"]["totalCount"] += 1
            return result

        return run()

    case = Case("self-test", "{ glossary(first: 1) { totalCount edges { node { term } } } }")
    document = graphql.parse(case.text)
    for name in ("anonymous", "admin"):
        principal = world.principals[name]
        expected = await run_case(world, reference_execute, case, document, principal)
        same = await run_case(world, reference_execute, case, document, principal)
        got = await run_case(world, off_by_one, case, document, principal)
        assert difference(expected, same) is None
        diff = difference(expected, got)
        assert diff is not None
        assert '"totalCount"' in diff
