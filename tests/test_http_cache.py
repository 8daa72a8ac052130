"""HTTP caching of GETs of persisted documents (issue 12, R15): ETag, Cache-Control, 304."""

from __future__ import annotations

import dataclasses
import json
from decimal import Decimal

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.applications import Starlette

from graphql_api.core.cache_hints import CacheHint, Scope
from graphql_api.core.config import Settings
from graphql_api.face.http_cache import NO_STORE, PRIVATE, cache_control, not_modified
from graphql_api.face.persisted import sha256_hex
from graphql_api.services.portfolios import update_prices
from schema.cache import CLOCK_MAX_AGE
from tests.conftest import act_as
from tests.factories_portfolios import make_principal, make_securities

PRICES = "query Prices { securities(first: 5) { edges { node { symbol lastPrice } } } }"
ME = "query Me { me { id } }"
CLOSING = "query Closing { dashboard { openCallsClosingSoonCount } }"
MAX_AGE = 60


@pytest.fixture
def settings(settings: Settings) -> Settings:
    # The response cache stays off: HTTP caching does not depend on it.
    return dataclasses.replace(
        settings, persisted_queries=True, response_cache_max_age_seconds=MAX_AGE
    )


def apq(query: str, *, with_text: bool = False) -> dict[str, str]:
    extensions = {"persistedQuery": {"version": 1, "sha256Hash": sha256_hex(query)}}
    params = {"extensions": json.dumps(extensions)}
    if with_text:
        params["query"] = query
    return params


async def get(
    client: httpx.AsyncClient, query: str, if_none_match: str | None = None
) -> httpx.Response:
    headers = {"if-none-match": if_none_match} if if_none_match else {}
    return await client.get("/graphql", params=apq(query, with_text=True), headers=headers)


async def test_a_public_document_gets_an_etag_a_public_max_age_and_304_when_unchanged(
    engine: AsyncEngine, app: Starlette, client: httpx.AsyncClient
) -> None:
    await make_securities(engine, 2)
    first = await get(client, PRICES)
    assert first.status_code == 200
    assert first.headers["cache-control"] == f"public, max-age={MAX_AGE}"
    tag = first.headers["etag"]
    assert tag.startswith('W/"')

    # By hash alone, as a CDN or browser sends it again.
    again = await client.get("/graphql", params=apq(PRICES), headers={"if-none-match": tag})
    assert again.status_code == 304
    assert again.content == b""
    assert (again.headers["etag"], again.headers["cache-control"]) == (
        tag,
        f"public, max-age={MAX_AGE}",
    )

    await update_prices(db=app.state.db, prices=[("S0001", Decimal("42"))])
    changed = await get(client, PRICES, if_none_match=tag)
    assert changed.status_code == 200
    assert changed.headers["etag"] != tag
    assert "42" in changed.text


async def test_a_document_reading_the_clock_is_public_for_its_max_age(
    client: httpx.AsyncClient,
) -> None:
    response = await get(client, CLOSING)
    assert response.status_code == 200, response.text
    assert response.headers["cache-control"] == f"public, max-age={int(CLOCK_MAX_AGE)}"


async def test_a_per_user_document_is_private_and_never_304_for_another_user(
    engine: AsyncEngine, app: Starlette, client: httpx.AsyncClient
) -> None:
    act_as(app, await make_principal(engine))
    mine = await get(client, ME)
    assert mine.headers["cache-control"] == PRIVATE
    tag = mine.headers["etag"]
    assert (await get(client, ME, if_none_match=tag)).status_code == 304

    act_as(app, await make_principal(engine))
    theirs = await get(client, ME, if_none_match=tag)
    assert theirs.status_code == 200
    assert theirs.json()["data"] != mine.json()["data"]


async def test_answers_with_errors_are_not_stored(client: httpx.AsyncClient) -> None:
    response = await get(client, 'query Bad { node(id: "not-an-id") { id } }')
    assert "errors" in response.json()
    assert response.headers["cache-control"] == NO_STORE
    assert "etag" not in response.headers


async def test_posts_and_documents_sent_as_text_are_left_alone(
    engine: AsyncEngine, client: httpx.AsyncClient
) -> None:
    await make_securities(engine, 1)
    posted = await client.post("/graphql", json={"query": PRICES})
    as_text = await client.get("/graphql", params={"query": PRICES})
    for response in (posted, as_text):
        assert response.status_code == 200
        assert "etag" not in response.headers
        assert "cache-control" not in response.headers


def test_cache_control_follows_the_documents_hint() -> None:
    assert cache_control(CacheHint(), 60, failed=False) == "public, max-age=60"
    assert cache_control(CacheHint(max_age=10), 60, failed=False) == "public, max-age=10"
    assert cache_control(CacheHint(max_age=90), 60, failed=False) == "public, max-age=60"
    assert cache_control(CacheHint(Scope.ROLE), 60, failed=False) == PRIVATE
    assert cache_control(CacheHint(Scope.USER), 60, failed=False) == PRIVATE
    assert cache_control(CacheHint(), 60, failed=True) == NO_STORE


def test_if_none_match_compares_weakly_and_accepts_lists_and_star() -> None:
    tag = 'W/"abc"'
    assert not_modified('W/"abc"', tag)
    assert not_modified('"abc"', tag)
    assert not_modified('"x", W/"abc"', tag)
    assert not_modified("*", tag)
    assert not not_modified('"abd"', tag)
    assert not not_modified(None, tag)
