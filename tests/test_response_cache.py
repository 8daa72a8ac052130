"""The response cache (issue 12): queries cached per visibility scope, in process, never stale."""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Any

import httpx
import orjson
import pytest
from graphql import ExecutionResult
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.applications import Starlette

from graphql_api.core.cache_hints import CacheHint
from graphql_api.core.changes import SHARED_KEY, Changes, redis_announcer
from graphql_api.core.config import Settings
from graphql_api.core.tagged import SharedCheck
from graphql_api.engine.response_cache import (
    BYPASS,
    HIT,
    MISS,
    SECOND_LEVEL_PREFIX,
    CacheRules,
    Outcome,
    ResponseCache,
    SecondLevel,
)
from graphql_api.services.portfolios import update_prices
from tests.auth_helpers import PASSWORD, REGISTER
from tests.conftest import StatementCounter, act_as, two_instances
from tests.factories_portfolios import make_principal, make_securities

SECURITIES = "query Prices { securities(first: 10) { edges { node { symbol lastPrice } } } }"
ASK = {"x-cache-status": "1"}


@pytest.fixture
def settings(settings: Settings) -> Settings:
    # The shared test settings keep the cache off; these tests are about it.
    return dataclasses.replace(settings, response_cache=True)


def cache_of(app: Starlette) -> ResponseCache:
    cache = app.state.operations.response_cache
    assert isinstance(cache, ResponseCache)
    return cache


async def read(http: httpx.AsyncClient, *, ask: bool = True) -> dict[str, Any]:
    response = await http.post("/graphql", json={"query": SECURITIES}, headers=ASK if ask else {})
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    assert "errors" not in body, body
    return body


def prices(body: dict[str, Any]) -> dict[str, str]:
    edges = body["data"]["securities"]["edges"]
    return {edge["node"]["symbol"]: edge["node"]["lastPrice"] for edge in edges}


async def test_a_cached_anonymous_read_sends_no_sql_and_counts_a_hit(
    engine: AsyncEngine, app: Starlette, client: httpx.AsyncClient, sql: StatementCounter
) -> None:
    await make_securities(engine, 3)
    first = await read(client)
    assert first["extensions"]["cacheStatus"] == MISS
    assert sql.count > 0
    cache = cache_of(app)
    assert (cache.misses, cache.stores, cache.hits) == (1, 1, 0)

    sql.reset()
    second = await read(client)
    assert second["extensions"]["cacheStatus"] == HIT
    assert sql.count == 0
    assert cache.hits == 1
    assert second["data"] == first["data"]
    ready = (await client.get("/health/ready")).json()
    assert ready["responseCache"]["hits"] == 1
    assert ready["responseCache"]["misses"] == 1


async def test_cache_status_is_reported_only_when_asked(
    engine: AsyncEngine, client: httpx.AsyncClient
) -> None:
    await make_securities(engine, 1)
    await read(client, ask=False)
    body = await read(client, ask=False)
    assert "cacheStatus" not in (body.get("extensions") or {})


async def test_a_write_through_a_service_shows_in_the_next_read(
    engine: AsyncEngine, app: Starlette, client: httpx.AsyncClient
) -> None:
    await make_securities(engine, 2)
    await read(client)
    assert (await read(client))["extensions"]["cacheStatus"] == HIT
    invalidations = cache_of(app).invalidations

    await update_prices(db=app.state.db, prices=[("S0000", Decimal("99.5"))])

    after = await read(client)
    assert after["extensions"]["cacheStatus"] == MISS
    assert Decimal(prices(after)["S0000"]) == Decimal("99.5")
    assert cache_of(app).invalidations > invalidations


async def test_a_graphql_mutation_bypasses_and_keeps_what_it_did_not_change(
    engine: AsyncEngine, app: Starlette, client: httpx.AsyncClient
) -> None:
    await make_securities(engine, 1)
    await read(client)
    cache = cache_of(app)
    before = (cache.invalidations, cache.stores, len(cache))
    assert before[2] == 1
    variables = {"input": {"email": "cache@example.test", "password": PASSWORD, "displayName": "C"}}
    response = await client.post(
        "/graphql", json={"query": REGISTER, "variables": variables}, headers=ASK
    )
    body = response.json()
    assert body["data"]["register"]["errors"] == []
    assert body["extensions"]["cacheStatus"] == BYPASS
    # Users (and their sessions) were written, not securities: the entry stays, and
    # nothing of the mutation was stored.
    assert (cache.invalidations, cache.stores, len(cache)) == before
    assert (await read(client))["extensions"]["cacheStatus"] == HIT


async def test_a_write_drops_exactly_the_entries_that_read_what_it_changed(
    engine: AsyncEngine, app: Starlette, client: httpx.AsyncClient, sql: StatementCounter
) -> None:
    await make_securities(engine, 2)
    glossary = "query Terms { glossary(first: 5) { totalCount } }"
    await read(client)
    await client.post("/graphql", json={"query": glossary})
    cache = cache_of(app)
    assert len(cache) == 2
    await update_prices(db=app.state.db, prices=[("S0000", Decimal("7"))])
    assert len(cache) == 1  # the securities page went, the glossary's stayed
    sql.reset()
    again = await client.post("/graphql", json={"query": glossary}, headers=ASK)
    assert again.json()["extensions"]["cacheStatus"] == HIT
    assert sql.count == 0
    assert Decimal(prices(await read(client))["S0000"]) == Decimal("7")


async def test_an_authenticated_read_of_public_data_shares_the_public_entry(
    engine: AsyncEngine, app: Starlette, client: httpx.AsyncClient, sql: StatementCounter
) -> None:
    await make_securities(engine, 1)
    anonymous = await read(client)  # securities are public: one entry for every caller
    act_as(app, await make_principal(engine))
    sql.reset()
    body = await read(client)
    assert body["extensions"]["cacheStatus"] == HIT
    assert sql.count == 0
    assert body["data"] == anonymous["data"]


async def test_a_transaction_that_changes_nothing_moves_no_generation(
    engine: AsyncEngine, app: Starlette
) -> None:
    ids = await make_securities(engine, 1)
    changes = app.state.db.changes
    before = changes.generation
    async with app.state.db.write() as session:
        await session.execute(select(1))
    assert changes.generation == before
    await update_prices(db=app.state.db, prices=[("S0000", Decimal("12"))])
    assert changes.generation == before + 1
    assert ids


async def test_concurrent_misses_on_one_key_run_the_query_once(
    engine: AsyncEngine, app: Starlette, client: httpx.AsyncClient, sql: StatementCounter
) -> None:
    await make_securities(engine, 3)
    await read(client)
    once = sql.count
    cache = cache_of(app)
    # As another instance's write would: neither level holds an answer once the tag moved.
    await move_in_redis(app, "securities")
    sql.reset()
    misses = cache.misses

    bodies = await asyncio.gather(*(read(client) for _ in range(10)))

    assert sql.count == once
    assert cache.misses == misses + 1
    statuses = sorted(body["extensions"]["cacheStatus"] for body in bodies)
    assert statuses == [HIT] * 9 + [MISS]
    assert all(body["data"] == bodies[0]["data"] for body in bodies)
    # Whether the others waited for the one run or came after it stored is up to timing
    # here; test_concurrent_misses_share_one_run stages the overlap.


@pytest.fixture
async def instances(settings: Settings) -> AsyncIterator[list[tuple[Starlette, httpx.AsyncClient]]]:
    async with two_instances(settings) as pair:
        yield pair


async def test_a_write_on_b_is_seen_on_a_as_soon_as_it_returned(
    engine: AsyncEngine, instances: list[tuple[Starlette, httpx.AsyncClient]]
) -> None:
    (_, http_a), (app_b, _) = instances
    await make_securities(engine, 2)
    for round_ in range(20):
        await read(http_a)
        assert (await read(http_a))["extensions"]["cacheStatus"] == HIT
        price = Decimal(100 + round_)
        await update_prices(db=app_b.state.db, prices=[("S0001", price)])
        # No wait for B's event: A's hit checks the shared generation first.
        after = await read(http_a)
        assert after["extensions"]["cacheStatus"] == MISS
        assert Decimal(prices(after)["S0001"]) == price


async def move_in_redis(app: Starlette, *tags: str) -> None:
    """What another instance's write does in Redis, without its event."""

    async def nobody_hears(topic: str, payload: dict[str, Any]) -> None:
        return None

    announce = redis_announcer(redis=app.state.redis, publisher=nobody_hears, origin="other")
    await announce(tags)


async def test_a_moved_tag_in_redis_alone_stops_hits(
    engine: AsyncEngine, app: Starlette, client: httpx.AsyncClient
) -> None:
    """What makes the cross-instance case hold before the event arrives: only Redis moves
    here (no event, no local write), and the hit is refused."""
    await make_securities(engine, 1)
    await read(client)
    await move_in_redis(app, "securities")
    assert (await read(client))["extensions"]["cacheStatus"] == MISS


async def test_a_write_elsewhere_to_something_else_keeps_the_entry(
    engine: AsyncEngine, app: Starlette, client: httpx.AsyncClient, sql: StatementCounter
) -> None:
    await make_securities(engine, 1)
    await read(client)
    generation = int(await app.state.redis.get(SHARED_KEY) or 0)
    await move_in_redis(app, "users", "users#3", "api_keys")
    assert int(await app.state.redis.get(SHARED_KEY)) == generation + 1
    sql.reset()
    # The shared generation moved, so the entry's tags are read from Redis: none moved.
    assert (await read(client))["extensions"]["cacheStatus"] == HIT
    assert sql.count == 0
    await move_in_redis(app, "*")  # a write nobody could describe moves everything
    assert (await read(client))["extensions"]["cacheStatus"] == MISS


# The cache on its own (no app): the races a request cannot stage reliably.


def bare_cache(
    changes: Changes,
    *,
    max_bytes: int = 10_000,
    max_age_seconds: float = 60,
    second_level: SecondLevel | None = None,
) -> ResponseCache:
    return ResponseCache(
        rules=CacheRules(key=lambda context, scope: "public", report=lambda context: True),
        changes=changes,
        shared=SharedCheck(),
        max_bytes=max_bytes,
        max_age_seconds=max_age_seconds,
        second_level=second_level,
    )


def answer(data: dict[str, Any]) -> Any:
    """A run that returns `data`."""

    async def run() -> Outcome:
        return ExecutionResult(data), 1

    return run


async def serve(
    cache: ResponseCache,
    run: Any,
    variables: dict[str, Any] | None = None,
    hint: CacheHint | None = CacheHint(),
) -> str:
    served = await cache.serve(
        context=None,
        hint=hint,
        digest="d",
        operation_name=None,
        variables=variables,
        run=run,
    )
    return served.status


async def test_a_write_racing_a_read_keeps_its_result_out() -> None:
    changes = Changes()
    cache = bare_cache(changes)

    async def run_while_a_write_commits() -> Outcome:
        changes.bump()  # a write committed while the read ran
        return ExecutionResult({"old": 1}), 1

    assert await serve(cache, run_while_a_write_commits) == MISS
    assert (cache.stores, len(cache)) == (0, 0)

    async def run() -> Outcome:
        return ExecutionResult({"new": 1}), 1

    assert await serve(cache, run) == MISS
    assert await serve(cache, run) == HIT


async def test_the_level_is_bounded_by_bytes_least_recently_used_first() -> None:
    cache = bare_cache(Changes(), max_bytes=100)

    async def run() -> Outcome:
        return ExecutionResult({"x": "y" * 30}), 1  # 40 bytes encoded

    for n in range(3):
        await serve(cache, run, {"n": n})
    assert cache.evictions == 1
    assert cache.held_bytes <= 100
    assert await serve(cache, run, {"n": 0}) == MISS  # the oldest went first
    assert await serve(cache, run, {"n": 2}) == HIT


async def test_an_entry_past_its_max_age_is_not_served() -> None:
    cache = bare_cache(Changes(), max_age_seconds=0.05)

    async def run() -> Outcome:
        return ExecutionResult({"x": 1}), 1

    assert await serve(cache, run) == MISS
    assert await serve(cache, run) == HIT
    await asyncio.sleep(0.06)
    assert await serve(cache, run) == MISS


async def test_results_with_errors_are_not_stored() -> None:
    cache = bare_cache(Changes())

    async def failing() -> Outcome:
        return ExecutionResult(None, []), None

    await serve(cache, failing)
    assert cache.stores == 0


async def test_variables_are_keyed_canonically() -> None:
    cache = bare_cache(Changes())

    async def run() -> Outcome:
        return ExecutionResult({"x": 1}), 1

    assert await serve(cache, run, {"a": 1, "b": {"c": 2, "d": 3}}) == MISS
    assert await serve(cache, run, {"b": {"d": 3, "c": 2}, "a": 1}) == HIT
    assert await serve(cache, run, {"a": 2, "b": {"c": 2, "d": 3}}) == MISS


async def test_concurrent_misses_share_one_run() -> None:
    cache = bare_cache(Changes())
    release = asyncio.Event()
    runs = 0

    async def slow() -> Outcome:
        nonlocal runs
        runs += 1
        await release.wait()
        return ExecutionResult({"x": 1}), 1

    waiting = [asyncio.create_task(serve(cache, slow)) for _ in range(5)]
    await asyncio.sleep(0)  # all five are now waiting on the one run
    release.set()
    statuses = await asyncio.gather(*waiting)
    assert runs == 1
    assert sorted(statuses) == [HIT] * 4 + [MISS]
    assert (cache.misses, cache.coalesced) == (1, 4)


async def test_a_cancelled_run_lets_the_waiting_requests_run_their_own() -> None:
    cache = bare_cache(Changes())
    started = asyncio.Event()
    runs = 0

    async def run() -> Outcome:
        nonlocal runs
        runs += 1
        started.set()
        if runs == 1:
            await asyncio.sleep(10)  # the first request goes away meanwhile
        return ExecutionResult({"x": 1}), 1

    first = asyncio.create_task(serve(cache, run))
    await started.wait()
    second = asyncio.create_task(serve(cache, run))
    await asyncio.sleep(0)
    first.cancel()
    assert await second == BYPASS
    assert runs == 2


async def test_a_documents_max_age_bounds_its_entries() -> None:
    cache = bare_cache(Changes(), max_age_seconds=60)

    async def run() -> Outcome:
        return ExecutionResult({"x": 1}), 1

    short = CacheHint(max_age=0.05)
    assert await serve(cache, run, hint=short) == MISS
    assert await serve(cache, run, hint=short) == HIT
    await asyncio.sleep(0.06)
    assert await serve(cache, run, hint=short) == MISS


async def test_an_operation_without_a_hint_is_never_cached() -> None:
    cache = bare_cache(Changes())

    async def run() -> Outcome:
        return ExecutionResult({"x": 1}), 1

    assert await serve(cache, run, hint=None) == BYPASS
    assert await serve(cache, run, hint=None) == BYPASS
    assert cache.stores == 0


# The second level (Redis): what one instance read, the others serve.


def _statements(application: Starlette) -> list[str]:
    seen: list[str] = []
    application.state.db.add_statement_listener(seen.append)
    return seen


async def test_a_read_on_a_is_served_to_b_from_redis_without_sql(
    engine: AsyncEngine, instances: list[tuple[Starlette, httpx.AsyncClient]]
) -> None:
    (app_a, http_a), (app_b, http_b) = instances
    await make_securities(engine, 2)
    first = await read(http_a)
    assert first["extensions"]["cacheStatus"] == MISS
    assert cache_of(app_a).second_level_stores == 1
    on_b = _statements(app_b)
    served = await read(http_b)
    assert served["extensions"]["cacheStatus"] == HIT
    assert served["data"] == first["data"]
    assert on_b == []
    assert cache_of(app_b).second_level_hits == 1
    # Now in B's own level too: the next hit does not ask Redis for the answer.
    assert (await read(http_b))["extensions"]["cacheStatus"] == HIT
    assert cache_of(app_b).second_level_hits == 1

    # A write anywhere moves the shared generation: neither level serves the old answer.
    await update_prices(db=app_b.state.db, prices=[("S0001", Decimal("123.45"))])
    after_a = await read(http_a)
    assert after_a["extensions"]["cacheStatus"] == MISS
    assert Decimal(prices(after_a)["S0001"]) == Decimal("123.45")
    after_b = await read(http_b)
    assert after_b["extensions"]["cacheStatus"] == HIT  # A's new answer, through Redis
    assert Decimal(prices(after_b)["S0001"]) == Decimal("123.45")


async def test_without_the_second_level_each_instance_runs_its_own(
    engine: AsyncEngine, settings: Settings
) -> None:
    alone = dataclasses.replace(settings, response_cache_shared=False)
    async with two_instances(alone) as pair:
        await make_securities(engine, 1)
        for _, http in pair:
            assert (await read(http))["extensions"]["cacheStatus"] == MISS


def redis_level(redis_client: Any) -> SecondLevel:
    async def put(key: str, value: bytes, ttl: float) -> None:
        await redis_client.set(key, value, px=int(ttl * 1000))

    async def get(key: str) -> bytes | None:
        value: bytes | None = await redis_client.get(key)
        return value

    return SecondLevel(get=get, put=put)


async def test_an_answer_in_redis_past_its_deadline_is_not_served(redis_url: str) -> None:
    import redis.asyncio as aioredis

    client = aioredis.Redis.from_url(redis_url)
    try:
        changes = Changes()
        writer = bare_cache(changes, second_level=redis_level(client))
        reader = bare_cache(changes, second_level=redis_level(client))
        assert await serve(writer, answer({"n": 1})) == MISS
        assert await serve(reader, answer({"n": 2})) == HIT
        # Rewrite the stored deadline into the past (the TTL alone would take a minute).
        (key,) = await client.keys(SECOND_LEVEL_PREFIX + "*")
        stored = orjson.loads(await client.get(key))
        stored["until"] = time.time() - 1
        await client.set(key, orjson.dumps(stored))
        late = bare_cache(changes, second_level=redis_level(client))
        assert await serve(late, answer({"n": 3})) == MISS
    finally:
        await client.aclose()


async def test_a_second_level_that_fails_only_costs_the_run() -> None:
    async def broken_get(key: str) -> bytes | None:
        raise ConnectionError("redis went away")

    async def broken_put(key: str, value: bytes, ttl: float) -> None:
        raise ConnectionError("redis went away")

    cache = bare_cache(Changes(), second_level=SecondLevel(get=broken_get, put=broken_put))
    assert await serve(cache, answer({"n": 1})) == MISS
    assert await serve(cache, answer({"n": 2})) == HIT  # the first level still works
    assert cache.second_level_stores == 0
