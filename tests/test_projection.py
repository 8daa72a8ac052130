"""List queries read only the columns their selection needs, and answer exactly what whole
rows answer (issue 9: lean rows; R14).

Every field of the projected row types is queried alone through its list, for callers who
see different things, once with projection and once with whole rows: a field whose
declared columns (`schema.projection.reads`) miss one its resolver or permission class
reads would answer differently (an error instead of the value) and fail here.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import httpx
import pytest
from graphql import (
    GraphQLField,
    GraphQLObjectType,
    get_named_type,
    is_leaf_type,
    is_non_null_type,
)
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncEngine

import schema.announcements.queries
import schema.businesses.queries
import schema.businesses.types
from graphql_api.core.auth.tokens import issue_access_token
from graphql_api.core.config import Settings
from graphql_api.core.db.enums import AnnouncementStatus, Role
from graphql_api.core.db.models import Announcement
from schema import build_schema
from tests.conftest import StatementCounter
from tests.factories import make_announcements
from tests.factories_businesses import make_applications, make_business, make_user
from tests.graphql_client import gql

# Where rows of a type come from a projected list: the page around one selected field.
PAGES = {
    "Announcement": "{ announcements(first: 5) { edges { node { %s } } } }",
    "Business": "{ businesses(first: 5) { edges { node { %s } } } }",
    # The nested page (one loader batch for all businesses) is projected too.
    "Business.announcements": (
        "{ businesses(first: 5) { edges { node { name "
        "announcements(first: 3) { edges { node { %s } } } } } } }"
    ),
}


def _selection(field: GraphQLField, depth: int = 0) -> str | None:
    """A small selection of `field`, or None when it needs arguments we cannot invent."""
    if any(is_non_null_type(arg.type) and arg.default_value is None for arg in field.args.values()):
        return None
    named = get_named_type(field.type)
    if is_leaf_type(named):
        return ""
    parts = ["__typename"]
    if isinstance(named, GraphQLObjectType) and depth < 2:
        for name in ("id", "edges", "node"):
            child = named.fields.get(name)
            if child is None:
                continue
            inner = _selection(child, depth + 1)
            if inner is not None:
                parts.append(f"{name} {inner}".strip())
    return "{ " + " ".join(parts) + " }"


def _documents(page: str) -> list[tuple[str, str, str]]:
    gql_type = build_schema()._schema.type_map[_row_type(page)]
    assert isinstance(gql_type, GraphQLObjectType)
    documents = []
    for name, field in gql_type.fields.items():
        selection = _selection(field)
        if selection is not None:
            documents.append((page, name, PAGES[page] % f"{name} {selection}".strip()))
    return documents


def _row_type(page: str) -> str:
    return "Announcement" if page.endswith("announcements") else page


DOCUMENTS = [document for page in PAGES for document in _documents(page)]


def _bearer(settings: Settings, user_id: int, role: Role) -> dict[str, str]:
    token = issue_access_token(settings, user_id=user_id, role=role, now=datetime.now(UTC)).token
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
async def callers(engine: AsyncEngine, settings: Settings) -> dict[str, dict[str, str]]:
    """Anonymous, the owner of a business, another member, an editor and an admin; data
    with owners, posted calls, applications and a draft."""
    owner = await make_user(engine)
    other = await make_user(engine)
    editor = await make_user(engine, role=Role.EDITOR)
    admin = await make_user(engine, role=Role.ADMIN)
    business = await make_business(engine, owner_id=owner.user_id, name="Aardvark Owned")
    await make_business(engine, name="Aardvark Free", annual_revenue=Decimal("7.50"))
    calls = await make_announcements(engine, 3, business_ids=[business])
    await make_announcements(engine, 1, status=AnnouncementStatus.DRAFT)
    async with engine.begin() as conn:
        await conn.execute(
            update(Announcement).where(Announcement.id == calls[0]).values(body="Long body")
        )
    await make_applications(engine, business, calls[:2])
    return {
        "anonymous": {},
        "owner": _bearer(settings, owner.user_id, Role.MEMBER),
        "member": _bearer(settings, other.user_id, Role.MEMBER),
        "editor": _bearer(settings, editor.user_id, Role.EDITOR),
        "admin": _bearer(settings, admin.user_id, Role.ADMIN),
    }


def _whole_rows(monkeypatch: pytest.MonkeyPatch) -> None:
    modules = (schema.announcements.queries, schema.businesses.queries, schema.businesses.types)
    for module in modules:
        monkeypatch.setattr(module, "selected_columns", lambda *args, **kwargs: None)


@pytest.mark.parametrize(("page", "field", "document"), DOCUMENTS)
async def test_a_projected_list_answers_what_whole_rows_answer(
    client: httpx.AsyncClient,
    callers: dict[str, dict[str, str]],
    monkeypatch: pytest.MonkeyPatch,
    page: str,
    field: str,
    document: str,
) -> None:
    projected: dict[str, Any] = {}
    for caller, headers in callers.items():
        projected[caller] = await gql(client, document, headers=headers)
        assert projected[caller].get("data") is not None, (caller, projected[caller])
    _whole_rows(monkeypatch)
    for caller, headers in callers.items():
        whole = await gql(client, document, headers=headers)
        assert projected[caller] == whole, (page, field, caller)


def test_every_field_of_the_projected_types_is_covered() -> None:
    covered = {(page, name) for page, name, _ in DOCUMENTS}
    for page in PAGES:
        gql_type = build_schema()._schema.type_map[_row_type(page)]
        assert isinstance(gql_type, GraphQLObjectType)
        assert {(page, name) for name in gql_type.fields} <= covered


PAGE = (
    "{ announcements(first: 20) { edges { node { id title organization category closesAt "
    "status business { id name region } } } pageInfo { hasNextPage endCursor } } }"
)


def _list_statement(sql: StatementCounter) -> str:
    (statement,) = [s for s in sql.statements if "FROM announcements" in s and "LIMIT" in s]
    return statement


async def test_the_announcements_page_reads_only_what_it_shows(
    client: httpx.AsyncClient, engine: AsyncEngine, sql: StatementCounter
) -> None:
    await make_announcements(engine, 3)
    body = await gql(client, PAGE)
    assert len(body["data"]["announcements"]["edges"]) == 3
    statement = _list_statement(sql)
    for column in ("title", "organization", "category", "closes_at", "status", "business_id"):
        assert f"announcements.{column}" in statement
    for column in ("body", "keywords", "budget", "regions", "target_industries"):
        assert f"announcements.{column}" not in statement

    sql.reset()
    fragment = (
        "{ announcements(first: 2) { edges { node { ...F } } } } "
        "fragment F on Announcement { body }"
    )
    body = await gql(client, fragment)
    assert body["data"]["announcements"]["edges"][0]["node"]["body"].startswith("Body of call")
    assert "announcements.body" in _list_statement(sql)
