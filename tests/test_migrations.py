"""R20: one head, a reversible initial migration, and models that match the migrations."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING

import pytest
from sqlalchemy import Index, inspect
from sqlalchemy.ext.asyncio import create_async_engine

from graphql_api.core.db import migrate
from graphql_api.core.db.models import Base

if TYPE_CHECKING:
    from tests.conftest import TestPostgres


@pytest.fixture
async def empty_db_url(pg_server: TestPostgres) -> AsyncIterator[str]:
    name = f"mig_{uuid.uuid4().hex[:12]}"
    await pg_server.create_database(name)
    try:
        yield pg_server.url(name)
    finally:
        await pg_server.drop_database(name)


async def _public_tables(url: str) -> set[str]:
    engine = create_async_engine(url)
    try:
        async with engine.connect() as conn:
            names = await conn.run_sync(lambda sync_conn: inspect(sync_conn).get_table_names())
            return set(names)
    finally:
        await engine.dispose()


def test_exactly_one_head() -> None:
    assert len(migrate.heads()) == 1


async def test_upgrade_downgrade_upgrade_on_an_empty_database(empty_db_url: str) -> None:
    (head,) = migrate.heads()
    model_tables = set(Base.metadata.tables)

    await migrate.upgrade(url=empty_db_url)
    assert await migrate.current(url=empty_db_url) == [head]
    assert await _public_tables(empty_db_url) == model_tables | {"alembic_version"}

    await migrate.downgrade(url=empty_db_url, revision="base")
    assert await migrate.current(url=empty_db_url) == []
    assert await _public_tables(empty_db_url) == {"alembic_version"}

    await migrate.upgrade(url=empty_db_url, revision="head")
    assert await migrate.current(url=empty_db_url) == [head]
    assert await migrate.autogenerate_diff(url=empty_db_url) == []


async def test_models_match_migrations(db_url: str) -> None:
    assert await migrate.autogenerate_diff(url=db_url) == []


async def test_drift_is_detected(db_url: str) -> None:
    # Guards against a vacuous check: a schema that differs from the models must show up.
    index = next(
        ix
        for ix in Base.metadata.tables["briefings"].indexes
        if ix.name == "ix_briefings_top_keywords"
    )
    assert isinstance(index, Index)
    engine = create_async_engine(db_url)
    try:
        async with engine.begin() as conn:
            await conn.run_sync(lambda sync_conn: index.drop(sync_conn))
    finally:
        await engine.dispose()

    diff = await migrate.autogenerate_diff(url=db_url)
    assert [(op[0], op[1].name) for op in diff] == [("add_index", "ix_briefings_top_keywords")]


async def test_upgrade_is_a_no_op_at_head(db_url: str) -> None:
    # Start-up runs `upgrade head` on every boot; at head it must change nothing.
    await migrate.upgrade(url=db_url)
    assert await migrate.current(url=db_url) == migrate.heads()
