"""Entity tags (issue 12, R15): what reads record and writes move, and that a write drops
exactly the cached answers that read what it changed."""

from __future__ import annotations

import dataclasses
from typing import Any

import httpx
import pytest
from sqlalchemy import insert, select, text, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.applications import Starlette

from graphql_api.core.config import Settings
from graphql_api.core.db.models import Announcement, Business, Security, User
from graphql_api.core.db.queries.businesses import business_rows_by_ids
from graphql_api.core.db.rows import ids_param
from graphql_api.core.db.touched import changed_tags, read_tags_of
from graphql_api.core.tags import EVERYTHING, entity_tag, read_tags
from graphql_api.engine.response_cache import HIT, MISS, ResponseCache
from tests.conftest import StatementCounter
from tests.factories import make_announcements, make_businesses

ASK = {"x-cache-status": "1"}
PAGE = "query Page { announcements(first: 10) { edges { node { title business { name } } } } }"


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return dataclasses.replace(settings, response_cache=True)


def test_a_read_by_primary_key_is_keyed_and_a_join_is_not() -> None:
    from sqlalchemy import any_

    keyed = read_tags_of(select(User.id).where(User.id == any_(ids_param("ids"))))
    assert keyed.keyed == ("users", "ids")
    joined = read_tags_of(
        select(Announcement.id).join(Business, Business.id == Announcement.business_id)
    )
    assert (joined.keyed, joined.tables) == (None, frozenset({"announcements", "businesses"}))
    filtered = read_tags_of(select(User.id).where(User.email == "x"))
    assert (filtered.keyed, filtered.tables) == (None, frozenset({"users"}))


def test_writes_name_the_rows_they_pin_or_all_rows() -> None:
    assert changed_tags(insert(User).values(email="a")) == {"users"}
    upsert = (
        pg_insert(Security)
        .values(symbol="X")
        .on_conflict_do_update(index_elements=[Security.symbol], set_={"name": "Y"})
    )
    assert changed_tags(upsert) == {"securities", "securities#*"}
    assert changed_tags(update(User).where(User.id == 1030).values(role="ADMIN")) == {
        "users",
        entity_tag("users", 1030),
    }
    pinned_and = update(User).where(User.id == 5, User.email == "a").values(display_name="b")
    assert changed_tags(pinned_and) == {"users", "users#5"}
    by_email = update(User).where(User.email == "a").values(display_name="b")
    assert changed_tags(by_email) == {"users", "users#*"}
    assert changed_tags(text("UPDATE users SET role = 'ADMIN'")) == {EVERYTHING}


async def test_a_keyed_read_records_its_rows_and_a_missing_id_the_list(
    app: Starlette, engine: AsyncEngine
) -> None:
    (first,) = await make_businesses(engine, 1, tag="keyed")
    collected: set[str] = set()
    token = read_tags.set(collected)
    try:
        await business_rows_by_ids(app.state.db, ids=[first])
        assert collected == {"businesses#*", entity_tag("businesses", first)}
        await business_rows_by_ids(app.state.db, ids=[first, 10**9])
        assert "businesses" in collected  # an id that may be inserted later
    finally:
        read_tags.reset(token)
    # Outside a cached run nothing is collected.
    assert read_tags.get() is None


async def test_the_writer_moves_the_tags_of_what_it_changed(
    app: Starlette, engine: AsyncEngine
) -> None:
    first, second = await make_businesses(engine, 2, tag="moves")
    changes = app.state.db.changes
    before = changes.generation
    async with app.state.db.write() as session:
        await session.execute(update(Business).where(Business.id == first).values(name="N"))
    assert changes.generation == before + 1
    assert changes.moved_since({entity_tag("businesses", first)}, before)
    assert changes.moved_since({"businesses"}, before)
    assert not changes.moved_since({entity_tag("businesses", second), "businesses#*"}, before)
    assert not changes.moved_since({"announcements", "users"}, before)


async def post(client: httpx.AsyncClient, query: str) -> dict[str, Any]:
    response = await client.post("/graphql", json={"query": query}, headers=ASK)
    body: dict[str, Any] = response.json()
    assert "errors" not in body, body
    return body


async def test_a_page_survives_a_write_to_a_business_it_does_not_show(
    app: Starlette, engine: AsyncEngine, client: httpx.AsyncClient, sql: StatementCounter
) -> None:
    shown, other = await make_businesses(engine, 2, tag="page")
    await make_announcements(engine, 3, business_ids=[shown])
    cache = app.state.operations.response_cache
    assert isinstance(cache, ResponseCache)
    assert (await post(client, PAGE))["extensions"]["cacheStatus"] == MISS

    async with app.state.db.write() as session:
        await session.execute(update(Business).where(Business.id == other).values(name="Else"))
    sql.reset()
    assert (await post(client, PAGE))["extensions"]["cacheStatus"] == HIT
    assert sql.count == 0

    async with app.state.db.write() as session:
        await session.execute(update(Business).where(Business.id == shown).values(name="Shown"))
    body = await post(client, PAGE)
    assert body["extensions"]["cacheStatus"] == MISS
    names = {edge["node"]["business"]["name"] for edge in body["data"]["announcements"]["edges"]}
    assert names == {"Shown"}

    # A changed announcement changes the list: the page goes.
    await post(client, PAGE)
    async with app.state.db.write() as session:
        await session.execute(
            update(Announcement).where(Announcement.business_id == shown).values(title="T")
        )
    body = await post(client, PAGE)
    assert body["extensions"]["cacheStatus"] == MISS
    assert {edge["node"]["title"] for edge in body["data"]["announcements"]["edges"]} == {"T"}


async def test_orm_flushes_move_the_tags_of_new_changed_and_deleted_objects(
    app: Starlette, engine: AsyncEngine
) -> None:
    (kept,) = await make_businesses(engine, 1, tag="flush")
    changes = app.state.db.changes
    before = changes.generation
    async with app.state.db.write() as session:
        session.add(Security(symbol="FLSH", name="Flush", market="KRX", currency="KRW"))
    assert changes.moved_since({"securities"}, before)
    assert not changes.moved_since({"securities#*", "businesses"}, before)

    before = changes.generation
    async with app.state.db.write() as session:
        business = await session.get(Business, kept)
        assert business is not None
        business.name = "Renamed by the ORM"
    assert changes.moved_since({entity_tag("businesses", kept)}, before)
    assert changes.moved_since({"businesses"}, before)
    assert not changes.moved_since({entity_tag("businesses", kept + 1)}, before)
