"""Time limits (issue 11): a request past its deadline answers TIMEOUT with its work
cancelled, a read past `statement_timeout` is stopped by PostgreSQL, and the pool stays
usable afterwards."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator

import httpx
import pytest
from asyncpg.exceptions import QueryCanceledError
from sqlalchemy import String, cast, func, literal, select
from starlette.applications import Starlette

from graphql_api.core.config import Settings
from graphql_api.core.db.rows import Row, prepare

PAGE = "{ announcements(first: 5) { edges { node { id title business { name } } } } }"


class Slept(Row):
    slept: str


class One(Row):
    one: int


@pytest.fixture
async def short(settings: Settings) -> AsyncIterator[tuple[Starlette, httpx.AsyncClient]]:
    from graphql_api.face.app import create_app

    application = create_app(dataclasses.replace(settings, statement_timeout_ms=100))
    async with application.router.lifespan_context(application):
        transport = httpx.ASGITransport(app=application)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
            yield application, http


async def test_a_request_past_its_deadline_answers_timeout_and_the_next_one_runs(
    short: tuple[Starlette, httpx.AsyncClient],
) -> None:
    app, http = short
    operations = app.state.operations
    normal = operations.limits
    operations.limits = dataclasses.replace(normal, timeout_seconds=0.0005)
    try:
        late = (await http.post("/graphql", json={"query": PAGE})).json()
    finally:
        operations.limits = normal
    assert late["data"] is None
    [error] = late["errors"]
    assert error["extensions"]["code"] == "TIMEOUT"
    # Nothing half-done is left behind: the same pool serves the next request.
    served = (await http.post("/graphql", json={"query": PAGE})).json()
    assert "errors" not in served
    assert "announcements" in served["data"]


async def test_reads_stop_at_the_statement_timeout_and_the_pool_stays_usable(
    short: tuple[Starlette, httpx.AsyncClient],
) -> None:
    app, _ = short
    db = app.state.db
    sleep = prepare(select(cast(func.pg_sleep(1), String).label("slept")), Slept)
    with pytest.raises(QueryCanceledError):
        await db.fetch(sleep)
    one = prepare(select(literal(1).label("one")), One)
    assert len(await db.fetch(one)) == 1
