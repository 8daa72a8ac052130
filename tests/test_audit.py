"""The audit log (R9): written in the action's transaction, readable by admins only (R7)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import func, insert, select
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.applications import Starlette

from graphql_api.core import audit
from graphql_api.core.auth.principal import ANONYMOUS, Principal
from graphql_api.core.db.enums import Role
from graphql_api.core.db.models import ApiKey, AuditLog
from graphql_api.core.ids import encode_id
from tests.conftest import StatementCounter, act_as
from tests.factories_portfolios import make_principal, make_user
from tests.graphql_client import error_codes, gql
from tests.test_api_keys import CREATE, REVOKE, ROTATE, create_key, insert_key

LOGS = """
query ($first: Int, $after: String, $filter: AuditLogFilter) {
  auditLogs(first: $first, after: $after, filter: $filter) {
    totalCount
    pageInfo { hasNextPage hasPreviousPage endCursor }
    edges { cursor node {
      id action targetType targetId success details ip requestId createdAt
      actor { id displayName } actorApiKey { id name prefix }
    } }
  }
}
"""
NODE = "query ($id: ID!) { node(id: $id) { id ... on AuditLog { action } } }"
BASE = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


async def add_logs(engine: AsyncEngine, rows: list[dict[str, Any]]) -> list[int]:
    defaults = {"success": True, "details": {}, "target_type": None, "target_id": None}
    async with engine.begin() as conn:
        result = await conn.execute(
            insert(AuditLog).returning(AuditLog.id), [{**defaults, **row} for row in rows]
        )
        return [r[0] for r in result]


async def _logs(client: httpx.AsyncClient, **variables: Any) -> dict[str, Any]:
    body = await gql(client, LOGS, variables)
    assert "errors" not in body, body
    result: dict[str, Any] = body["data"]["auditLogs"]
    return result


async def _count(engine: AsyncEngine, model: Any) -> int:
    async with engine.connect() as conn:
        return int((await conn.execute(select(func.count()).select_from(model))).scalar_one())


async def test_api_key_actions_are_audited_and_readable_by_admins(
    app: Starlette, engine: AsyncEngine, client: httpx.AsyncClient
) -> None:
    admin = await make_principal(engine, Role.ADMIN)
    assert admin.user_id is not None
    act_as(app, admin)
    key, secret, _ = await create_key(client, name="pipeline", scopes=["BRIEFINGS_WRITE"])
    rotated = (
        await client.post(
            "/graphql",
            json={"query": ROTATE, "variables": {"id": key["id"]}},
            headers={"X-Request-ID": "rotate-request-0001"},
        )
    ).json()["data"]["rotateApiKey"]
    new_key, new_secret = rotated["apiKey"], rotated["secret"]
    revoked = await gql(client, REVOKE, {"id": new_key["id"]})
    assert revoked["data"]["revokeApiKey"]["errors"] == []

    response = await client.post("/graphql", json={"query": LOGS, "variables": {}})
    logs = response.json()["data"]["auditLogs"]
    nodes = [edge["node"] for edge in logs["edges"]]
    assert logs["totalCount"] == 3
    assert [n["action"] for n in nodes] == ["api_key.revoked", "api_key.rotated", "api_key.created"]
    admin_ref = encode_id("User", admin.user_id)
    for node in nodes:
        assert node["actor"]["id"] == admin_ref
        assert node["actorApiKey"] is None
        assert node["success"] is True
        assert node["targetType"] == "ApiKey"
        assert node["requestId"]
        assert node["ip"]
    revoked_log, rotated_log, created_log = nodes
    assert created_log["targetId"] == key["id"]
    assert created_log["details"]["prefix"] == key["prefix"]
    assert created_log["details"]["scopes"] == ["briefings:write"]
    assert rotated_log["targetId"] == key["id"]
    assert rotated_log["requestId"] == "rotate-request-0001"
    assert rotated_log["details"]["new_key_id"] == await _key_pk(engine, new_key["prefix"])
    assert rotated_log["details"]["new_prefix"] == new_key["prefix"]
    assert revoked_log["targetId"] == new_key["id"]
    # No key material anywhere in the log.
    for raw in (secret, new_secret):
        assert raw.split("_", 2)[2] not in response.text
    async with engine.connect() as conn:
        hashes = (await conn.execute(select(ApiKey.key_hash))).scalars().all()
    assert all(h not in response.text for h in hashes)

    # The target is refetchable with node(id:).
    body = await gql(
        client, "query ($id: ID!) { node(id: $id) { id } }", {"id": created_log["targetId"]}
    )
    assert body["data"]["node"] == {"id": key["id"]}
    # And so is the entry itself, by an admin.
    body = await gql(client, NODE, {"id": created_log["id"]})
    assert body["data"]["node"] == {"id": created_log["id"], "action": "api_key.created"}


async def _key_pk(engine: AsyncEngine, prefix: str) -> int:
    async with engine.connect() as conn:
        return int(
            (await conn.execute(select(ApiKey.id).where(ApiKey.prefix == prefix))).scalar_one()
        )


async def test_filters_by_actor_action_and_time(
    app: Starlette, engine: AsyncEngine, client: httpx.AsyncClient
) -> None:
    alice, bob = await make_user(engine), await make_user(engine)
    ids = await add_logs(
        engine,
        [
            {"actor_user_id": alice, "action": "user.login", "created_at": BASE},
            {"actor_user_id": bob, "action": "user.login", "created_at": BASE + timedelta(hours=1)},
            {
                "actor_user_id": alice,
                "action": "trade.placed",
                "created_at": BASE + timedelta(hours=2),
            },
            {
                "actor_user_id": None,
                "action": "user.login",
                "success": False,
                "created_at": BASE + timedelta(hours=3),
            },
            {
                "actor_user_id": alice,
                "action": "user.role_changed",
                "created_at": BASE + timedelta(hours=4),
            },
        ],
    )
    act_as(app, await make_principal(engine, Role.ADMIN))

    def ids_of(result: dict[str, Any]) -> list[str]:
        return [edge["node"]["id"] for edge in result["edges"]]

    def gid(*indexes: int) -> list[str]:
        return [encode_id("AuditLog", ids[i]) for i in indexes]

    assert ids_of(await _logs(client)) == gid(4, 3, 2, 1, 0)
    alice_id = encode_id("User", alice)
    by_alice = await _logs(client, filter={"actorId": alice_id})
    assert ids_of(by_alice) == gid(4, 2, 0)
    assert by_alice["totalCount"] == 3
    logins = await _logs(client, filter={"action": ["user.login"]})
    assert ids_of(logins) == gid(3, 1, 0)
    assert logins["edges"][0]["node"]["success"] is False
    assert logins["edges"][0]["node"]["actor"] is None
    several = await _logs(client, filter={"action": ["trade.placed", "user.role_changed"]})
    assert ids_of(several) == gid(4, 2)
    assert ids_of(await _logs(client, filter={"action": []})) == []
    window = {
        "from": (BASE + timedelta(hours=1)).isoformat(),
        "to": (BASE + timedelta(hours=3)).isoformat(),
    }
    assert ids_of(await _logs(client, filter=window)) == gid(3, 2, 1)
    combined = await _logs(
        client, filter={**window, "actorId": alice_id, "action": ["trade.placed"]}
    )
    assert ids_of(combined) == gid(2)
    assert combined["totalCount"] == 1
    since = await _logs(client, filter={"from": (BASE + timedelta(hours=4)).isoformat()})
    assert ids_of(since) == gid(4)


async def test_pages_newest_first_with_keyset_cursors(
    app: Starlette, engine: AsyncEngine, client: httpx.AsyncClient
) -> None:
    # Ties on created_at (three rows per instant) are ordered by id, newest first.
    ids = await add_logs(
        engine,
        [
            {"action": f"test.{i}", "created_at": BASE + timedelta(minutes=i // 3)}
            for i in range(25)
        ],
    )
    act_as(app, await make_principal(engine, Role.ADMIN))
    seen: list[str] = []
    after = None
    pages = 0
    while True:
        page = await _logs(client, first=10, after=after)
        pages += 1
        seen += [edge["node"]["id"] for edge in page["edges"]]
        assert page["pageInfo"]["hasPreviousPage"] is (after is not None)
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    assert pages == 3
    assert seen == [encode_id("AuditLog", i) for i in sorted(ids, reverse=True)]


@pytest.mark.parametrize("n", [5, 50])
async def test_statement_count_does_not_grow(
    app: Starlette,
    engine: AsyncEngine,
    client: httpx.AsyncClient,
    sql: StatementCounter,
    n: int,
) -> None:
    users = [await make_user(engine) for _ in range(3)]
    keys = [(await insert_key(engine, name=f"k{i}"))[0] for i in range(2)]
    await add_logs(
        engine,
        [
            {
                "action": "x.y",
                "actor_user_id": users[i % 3] if i % 2 else None,
                "actor_api_key_id": None if i % 2 else keys[i % 2],
                "created_at": BASE + timedelta(seconds=i),
            }
            for i in range(n)
        ],
    )
    act_as(app, await make_principal(engine, Role.ADMIN))
    query = """{ auditLogs(first: 100) { totalCount edges { node {
        action actor { displayName } actorApiKey { name createdBy { id } } } } } }"""
    sql.reset()
    body = await gql(client, query)
    assert "errors" not in body, body
    assert len(body["data"]["auditLogs"]["edges"]) == n
    print(f"auditLogs with actor, actorApiKey, totalCount, {n}: {sql.count} statements")
    # page, count, users, api keys (createdBy is null for these keys: no further load).
    assert sql.count == 4


async def test_non_admins_cannot_read_the_log(
    app: Starlette, engine: AsyncEngine, client: httpx.AsyncClient
) -> None:
    [log_id] = await add_logs(
        engine,
        [
            {
                "action": "very.secret.action",
                "details": {"note": "hidden-detail"},
                "created_at": BASE,
            }
        ],
    )
    principals = [
        ANONYMOUS,
        await make_principal(engine, Role.MEMBER),
        await make_principal(engine, Role.EDITOR),
        Principal(
            api_key_id=1,
            scopes=frozenset({"briefings:write", "prices:write", "announcements:write"}),
        ),
    ]
    for principal in principals:
        act_as(app, principal)
        response = await client.post("/graphql", json={"query": LOGS, "variables": {}})
        body = response.json()
        assert error_codes(body) == ["FORBIDDEN"], (principal, body)
        assert body["errors"][0]["path"] == ["auditLogs"]
        assert body["data"] is None
        response = await client.post(
            "/graphql",
            json={"query": NODE, "variables": {"id": encode_id("AuditLog", log_id)}},
        )
        assert error_codes(response.json()) == ["NOT_FOUND"]
        assert response.json()["data"] == {"node": None}
        for text in (response.text,):
            assert "very.secret.action" not in text
            assert "hidden-detail" not in text


@pytest.mark.parametrize(
    ("variables", "field"),
    [
        ({"filter": {"actorId": "%%bad"}}, "filter.actorId"),
        ({"filter": {"actorId": encode_id("ApiKey", 1)}}, "filter.actorId"),
        ({"filter": {"action": ["x" * 65]}}, "filter.action"),
        ({"filter": {"action": ["a"] * 51}}, "filter.action"),
        (
            {"filter": {"from": BASE.isoformat(), "to": (BASE - timedelta(1)).isoformat()}},
            "filter.from",
        ),
        ({"first": 101}, "first"),
        ({"after": "not-a-cursor"}, "after"),
    ],
)
async def test_bad_arguments(
    app: Starlette,
    engine: AsyncEngine,
    client: httpx.AsyncClient,
    variables: dict[str, Any],
    field: str,
) -> None:
    act_as(app, await make_principal(engine, Role.ADMIN))
    body = await gql(client, LOGS, variables)
    assert error_codes(body) == ["BAD_USER_INPUT"], body
    assert body["errors"][0]["extensions"]["field"] == field


async def test_a_rolled_back_action_leaves_no_audit_row(
    app: Starlette,
    engine: AsyncEngine,
    client: httpx.AsyncClient,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    act_as(app, await make_principal(engine, Role.ADMIN))
    real_record = audit.record

    async def record_then_fail(*args: Any, **kwargs: Any) -> None:
        await real_record(*args, **kwargs)  # the row is written ...
        raise RuntimeError("boom after the audit row")  # ... and the transaction rolls back

    monkeypatch.setattr(audit, "record", record_then_fail)
    body = await gql(client, CREATE, {"input": {"name": "doomed", "scopes": ["PRICES_WRITE"]}})
    assert error_codes(body) == ["INTERNAL_SERVER_ERROR"]
    assert await _count(engine, AuditLog) == 0
    assert await _count(engine, ApiKey) == 0

    # Revocation too: the key stays valid and unaudited when the transaction fails.
    monkeypatch.undo()
    key, _, _ = await create_key(client)
    monkeypatch.setattr(audit, "record", record_then_fail)
    body = await gql(client, REVOKE, {"id": key["id"]})
    assert error_codes(body) == ["INTERNAL_SERVER_ERROR"]
    async with engine.connect() as conn:
        assert (await conn.execute(select(ApiKey.revoked_at))).scalar_one() is None
        actions = (await conn.execute(select(AuditLog.action))).scalars().all()
    assert actions == ["api_key.created"]


async def test_service_actor_is_shown_by_its_key(
    app: Starlette, engine: AsyncEngine, client: httpx.AsyncClient
) -> None:
    key_id, _ = await insert_key(engine, name="price feed")
    async with app.state.db.write() as session:
        await audit.record(
            session,
            action="prices.updated",
            actor=Principal(api_key_id=key_id, scopes=frozenset({"prices:write"})),
            details={"count": 3},
        )
    act_as(app, await make_principal(engine, Role.ADMIN))
    [edge] = (await _logs(client))["edges"]
    node = edge["node"]
    assert node["actor"] is None
    assert node["actorApiKey"]["id"] == encode_id("ApiKey", key_id)
    assert node["actorApiKey"]["name"] == "price feed"
    assert node["targetId"] is None
    assert node["details"] == {"count": 3}
