"""Issue 12's acceptance run: two instances sharing PostgreSQL and Redis, never stale.

A public read on A, a mutation on B changing a row of that read, the same read on A: the
change is there as soon as the mutation's response has returned, 200 times, while readers
on A hammer the same read (and so keep the entry hot, race the invalidation and coalesce
their misses).
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections import Counter
from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.applications import Starlette

from graphql_api.core.changes import DATA_CHANGED
from graphql_api.core.config import Settings
from graphql_api.core.db.enums import Role
from graphql_api.engine.response_cache import HIT, MISS
from tests.conftest import act_as, two_instances
from tests.factories_portfolios import make_principal, make_securities

ROUNDS = 200
READERS = 8
READ = "query Prices { securities(first: 10) { edges { node { symbol lastPrice } } } }"
UPDATE_PRICES = """
mutation ($prices: [PriceInput!]!) {
  updatePrices(prices: $prices) { updatedCount errors { code } }
}
"""
ASK = {"x-cache-status": "1"}


@pytest.fixture(params=[True, False], ids=["response+query-caches", "query-cache-only"])
def settings(request: pytest.FixtureRequest, settings: Settings) -> Settings:
    # The query cache keeps the securities' rows (prices, R15) under the response cache or
    # alone: both must be never stale.
    return dataclasses.replace(settings, response_cache=request.param, query_cache=True)


@pytest.fixture
async def pair(settings: Settings) -> AsyncIterator[list[tuple[Starlette, httpx.AsyncClient]]]:
    """Two app instances (each its own first level) sharing PostgreSQL and Redis."""
    async with two_instances(settings) as instances:
        yield instances


async def read(http: httpx.AsyncClient) -> tuple[str, Decimal]:
    """The cache status and S0001's price as A answers them."""
    response = await http.post("/graphql", json={"query": READ}, headers=ASK)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    assert "errors" not in body, body
    edges = body["data"]["securities"]["edges"]
    price = {edge["node"]["symbol"]: edge["node"]["lastPrice"] for edge in edges}["S0001"]
    return (body.get("extensions") or {}).get("cacheStatus", "OFF"), Decimal(price)


def deliver_late(app: Starlette, seconds: float) -> None:
    """B's DATA_CHANGED reaches A `seconds` late, as over a slow network: then only A's
    check of the shared generation on each hit keeps it from serving what B changed."""
    broker = app.state.broker
    loop = asyncio.get_running_loop()
    # The broker keeps no public way to wrap a listener; the test reaches in on purpose.
    heard = broker._listeners[DATA_CHANGED]
    broker._listeners[DATA_CHANGED] = [
        lambda payload, listener=listener: loop.call_later(seconds, listener, payload)
        for listener in heard
    ]


@pytest.mark.parametrize("event_lag", [0.0, 0.05], ids=["event-on-time", "event-late"])
async def test_a_write_on_b_shows_on_a_at_once_200_times_under_concurrent_readers(
    engine: AsyncEngine, pair: list[tuple[Starlette, httpx.AsyncClient]], event_lag: float
) -> None:
    (app_a, http_a), (app_b, http_b) = pair
    if event_lag:
        deliver_late(app_a, event_lag)
    await make_securities(engine, 2, prices=[Decimal(1), Decimal(1)])
    act_as(app_b, await make_principal(engine, Role.ADMIN))
    # The price of the last mutation whose response has returned: prices only go up, so
    # no read that starts after that may show less.
    returned = Decimal(1)
    stop = asyncio.Event()
    statuses: Counter[str] = Counter()

    async def reader() -> None:
        while not stop.is_set():
            floor = returned
            status, price = await read(http_a)
            statuses[status] += 1
            assert price >= floor, f"stale: {price} read after {floor} had returned"

    readers = [asyncio.create_task(reader()) for _ in range(READERS)]
    try:
        for round_ in range(ROUNDS):
            await read(http_a)  # cached before the write (a hit, or the miss that stores)
            price = Decimal(2 + round_)
            response = await http_b.post(
                "/graphql",
                json={
                    "query": UPDATE_PRICES,
                    "variables": {"prices": [{"symbol": "S0001", "price": str(price)}]},
                },
            )
            payload = response.json()["data"]["updatePrices"]
            assert (payload["updatedCount"], payload["errors"]) == (1, [])
            returned = price
            # No wait for B's event: A must already refuse what it holds.
            status, seen = await read(http_a)
            assert seen == price, f"round {round_}: A answered {seen} ({status}), B wrote {price}"
            await asyncio.sleep(0)  # let the readers in between rounds too
    finally:
        stop.set()
        await asyncio.gather(*readers)
    # The readers really were served from the cache, and really missed after writes.
    if app_a.state.operations.response_cache is not None:
        assert statuses[HIT] > ROUNDS
        assert statuses[MISS] > 0
    else:
        rows = app_a.state.db.query_cache
        assert rows.hits > ROUNDS
        assert rows.misses > ROUNDS  # at least once after each write
