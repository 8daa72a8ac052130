"""Rate limiting (issue 11, R10): a bucket of query-cost points per caller, shared by every
instance through Redis; over the budget HTTP 429 with RATE_LIMITED, Retry-After, the IETF
RateLimit headers and Shopify's `extensions.cost`."""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections.abc import AsyncIterator

import httpx
import pytest
from starlette.applications import Starlette

from graphql_api.core.auth.principal import ANONYMOUS, Principal
from graphql_api.core.config import Settings
from graphql_api.core.db.enums import Role
from graphql_api.core.ratelimit import Budget, Budgets, RateLimiter
from tests.conftest import StatementCounter, two_instances

TERMS = "{ glossary(first: 4) { edges { node { term } } } }"
TERMS_COST = 1 + 4 * 2


def _objects(value: object) -> int:
    if isinstance(value, dict):
        return 1 + sum(_objects(item) for item in value.values())
    if isinstance(value, list):
        return sum(_objects(item) for item in value)
    return 0


async def test_a_bucket_charges_refuses_and_says_when_to_retry(redis_url: str) -> None:
    limiter = RateLimiter.from_url(redis_url, prefix="test-bucket:")
    try:
        budget = Budget(10, 1)
        first = await limiter.charge("caller", 4, budget)
        second = await limiter.charge("caller", 4, budget)
        third = await limiter.charge("caller", 4, budget)
        assert (first.allowed, second.allowed, third.allowed) == (True, True, False)
        assert 2 <= third.available < 3  # 10 - 8, plus what a second restored meanwhile
        assert third.retry_after == 2  # (4 - ~2) / 1 per second, rounded up
        assert third.headers()["Retry-After"] == "2"
        assert third.status()["maximumAvailable"] == 10
        # Another caller has its own bucket.
        assert (await limiter.charge("someone-else", 4, budget)).allowed
        assert not limiter.degraded
    finally:
        await limiter.aclose()


async def test_concurrent_charges_are_batched_and_exact(redis_url: str) -> None:
    limiter = RateLimiter.from_url(redis_url, prefix="test-batch:")
    try:
        budget = Budget(10, 0.001)
        outcomes = await asyncio.gather(
            *(limiter.charge("crowd", 1, budget) for _ in range(25)),
            *(limiter.charge(f"alone-{i}", 1, budget) for i in range(5)),
        )
        crowd = [throttle.allowed for throttle in outcomes[:25]]
        assert crowd.count(True) == 10  # one bucket, charged in order within a batch
        assert all(throttle.allowed for throttle in outcomes[25:])
    finally:
        await limiter.aclose()


async def test_without_redis_the_limit_holds_per_process() -> None:
    limiter = RateLimiter.from_url("redis://127.0.0.1:1/0")  # nothing listens there
    try:
        budget = Budget(10, 0.01)
        started = time.monotonic()
        outcomes = [(await limiter.charge("caller", 4, budget)).allowed for _ in range(3)]
        assert outcomes == [True, True, False]
        assert limiter.degraded
        # Failing fast: one short attempt, then the process's own buckets for a while.
        assert time.monotonic() - started < 2
    finally:
        await limiter.aclose()


def test_callers_draw_from_their_own_kind_of_budget() -> None:
    budgets = Budgets(Budget(1, 1), Budget(2, 1), Budget(3, 1), Budget(4, 1))
    assert budgets.identify(ANONYMOUS, "10.0.0.1") == ("ip:10.0.0.1", Budget(1, 1))
    member = Principal(user_id=7, role=Role.MEMBER)
    assert budgets.identify(member, "10.0.0.1") == ("user:7", Budget(2, 1))
    editor = Principal(user_id=8, role=Role.EDITOR)
    assert budgets.identify(editor, None) == ("user:8", Budget(3, 1))
    service = Principal(api_key_id=3, scopes=frozenset({"prices:write"}))
    assert budgets.identify(service, "10.0.0.1") == ("key:3", Budget(4, 1))


@pytest.fixture
async def instances(settings: Settings) -> AsyncIterator[list[tuple[Starlette, httpx.AsyncClient]]]:
    """Two app instances (each its own limiter and state) sharing PostgreSQL and Redis."""
    # Three cheap queries fit; the restore rate gives one more about a second later.
    tight = dataclasses.replace(
        settings, rate_limit=True, budget_anonymous=Budget(3 * TERMS_COST, 10)
    )
    async with two_instances(tight) as pair:
        yield pair


async def test_two_instances_share_one_budget_then_429_then_served_after_retry_after(
    instances: list[tuple[Starlette, httpx.AsyncClient]],
) -> None:
    counters = [StatementCounter(), StatementCounter()]
    for (app, _), counter in zip(instances, counters, strict=True):
        app.state.db.add_statement_listener(counter.statements.append)
    started = time.monotonic()
    statuses: list[int] = []
    last: httpx.Response | None = None
    for attempt in range(6):
        _, http = instances[attempt % 2]  # one client alternating between the instances
        before = counters[attempt % 2].count
        last = await http.post("/graphql", json={"query": TERMS})
        statuses.append(last.status_code)
        if last.status_code == 429:
            assert counters[attempt % 2].count == before  # refused before it ran: no SQL
            break
        body = last.json()
        assert "errors" not in body
        cost = body["extensions"]["cost"]
        assert cost["requestedQueryCost"] == TERMS_COST
        assert cost["actualQueryCost"] == _objects(body["data"]) - 1  # the root not counted
        assert cost["throttleStatus"]["maximumAvailable"] == 3 * TERMS_COST
        assert cost["throttleStatus"]["restoreRate"] == 10
        assert last.headers["RateLimit-Limit"] == str(3 * TERMS_COST)
    elapsed = time.monotonic() - started
    allowed = statuses.count(200)
    # The whole budget, plus at most what the restore rate returned meanwhile; not twice it.
    assert 3 <= allowed <= 3 + int(elapsed * 10 / TERMS_COST) + 1
    assert statuses[-1] == 429

    assert last is not None
    refused = last.json()
    assert "data" not in refused or refused["data"] is None
    [error] = refused["errors"]
    assert error["extensions"]["code"] == "RATE_LIMITED"
    assert error["extensions"]["cost"]["requestedQueryCost"] == TERMS_COST
    status = error["extensions"]["cost"]["throttleStatus"]
    assert status["currentlyAvailable"] < TERMS_COST
    retry_after = int(last.headers["Retry-After"])
    assert retry_after >= 1
    assert int(last.headers["RateLimit-Remaining"]) == status["currentlyAvailable"]
    assert last.headers["RateLimit-Limit"] == str(3 * TERMS_COST)
    assert int(last.headers["RateLimit-Reset"]) >= retry_after

    await asyncio.sleep(retry_after)
    _, http = instances[0]
    served = await http.post("/graphql", json={"query": TERMS})
    assert served.status_code == 200
    assert "errors" not in served.json()


def test_subscribing_is_charged_like_a_query(settings: Settings) -> None:
    from graphql_api.face.app import create_app
    from tests.test_subscriptions import TestClient, close, connect, receive, subscribe

    one_at_a_time = dataclasses.replace(
        settings, rate_limit=True, budget_anonymous=Budget(1, 0.001)
    )
    query = "subscription { announcementPublished { id } }"  # costs 1
    with TestClient(create_app(one_at_a_time)) as client:
        ws = connect(client)
        try:
            subscribe(ws, "first", query)
            subscribe(ws, "second", query)
            refused = receive(ws)
            # graphql-transport-ws refuses an operation that cannot start with `error`.
            assert refused["id"] == "second"
            assert refused["type"] == "error"
            [error] = refused["payload"]
            assert error["extensions"]["code"] == "RATE_LIMITED"
            assert error["extensions"]["cost"]["requestedQueryCost"] == 1
        finally:
            close(ws)


async def test_readiness_says_when_buckets_are_per_process(
    instances: list[tuple[Starlette, httpx.AsyncClient]],
) -> None:
    app, http = instances[0]
    shared = (await http.get("/health/ready")).json()
    assert shared["rateLimiter"] == "shared"
    app.state.rate_limiter.degraded = True  # as after a failed charge (see the unit test)
    degraded = await http.get("/health/ready")
    assert degraded.json()["rateLimiter"] == "per-process"
    assert degraded.status_code == 200  # degraded, not down: the API keeps serving
