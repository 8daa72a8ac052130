"""API keys (R8): create/rotate/revoke, validation, the shown-once secret, batched last use,
and admin-only access (R7)."""

from __future__ import annotations

import asyncio
import hashlib
import logging
import re
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.applications import Starlette

from graphql_api.core.auth.api_keys import (
    CACHE_TTL_SECONDS,
    LAST_USED_KEY,
    authenticate_api_key,
    flush_last_used,
    generate_key,
)
from graphql_api.core.auth.principal import ANONYMOUS, Principal
from graphql_api.core.db.enums import Role
from graphql_api.core.db.models import ApiKey, AuditLog
from graphql_api.core.errors import Unauthenticated
from graphql_api.core.ids import encode_id
from tests.conftest import StatementCounter, act_as
from tests.factories_portfolios import make_principal
from tests.graphql_client import error_codes, gql

KEY_FIELDS = """
  id name prefix scopes createdAt expiresAt revokedAt lastUsedAt
  createdBy { id } rotatedFrom { id }
"""
CREATE = f"""
mutation ($input: CreateApiKeyInput!) {{
  createApiKey(input: $input) {{ secret errors {{ field code message }} apiKey {{ {KEY_FIELDS} }} }}
}}
"""
ROTATE = f"""
mutation ($id: ID!) {{
  rotateApiKey(id: $id) {{ secret errors {{ field code message }} apiKey {{ {KEY_FIELDS} }} }}
}}
"""
REVOKE = f"""
mutation ($id: ID!) {{
  revokeApiKey(id: $id) {{ errors {{ field code message }} apiKey {{ {KEY_FIELDS} }} }}
}}
"""
LIST = f"{{ apiKeys {{ {KEY_FIELDS} }} }}"
NODE = "query ($id: ID!) { node(id: $id) { id ... on ApiKey { name prefix } } }"

KEY_FORMAT = re.compile(r"^gak_[a-z0-9]{8}_[A-Za-z0-9_-]{43}$")
ALL_SCOPES = frozenset({"briefings:write", "prices:write", "announcements:write"})


async def insert_key(
    engine: AsyncEngine,
    *,
    scopes: tuple[str, ...] = ("prices:write",),
    expires_at: datetime | None = None,
    revoked_at: datetime | None = None,
    name: str = "feed",
) -> tuple[int, str]:
    """A key row straight in the database: (id, the whole key)."""
    issued = generate_key()
    async with engine.begin() as conn:
        key_id = (
            await conn.execute(
                insert(ApiKey).returning(ApiKey.id),
                [
                    {
                        "name": name,
                        "prefix": issued.prefix,
                        "key_hash": issued.key_hash,
                        "scopes": list(scopes),
                        "expires_at": expires_at or datetime.now(UTC) + timedelta(days=30),
                        "revoked_at": revoked_at,
                    }
                ],
            )
        ).scalar_one()
    return int(key_id), issued.raw


async def create_key(
    client: httpx.AsyncClient, **overrides: Any
) -> tuple[dict[str, Any], str, httpx.Response]:
    payload = {"name": "price feed", "scopes": ["PRICES_WRITE"], **overrides}
    response = await client.post(
        "/graphql", json={"query": CREATE, "variables": {"input": payload}}
    )
    body = response.json()
    assert "errors" not in body, body
    result = body["data"]["createApiKey"]
    assert result["errors"] == [], result
    return result["apiKey"], result["secret"], response


async def _rows(engine: AsyncEngine, model: Any) -> list[Any]:
    async with engine.connect() as conn:
        return list((await conn.execute(select(model).order_by(model.id))).all())


async def _count(engine: AsyncEngine, model: Any) -> int:
    async with engine.connect() as conn:
        return int((await conn.execute(select(func.count()).select_from(model))).scalar_one())


# --- createApiKey -------------------------------------------------------------------


async def test_create_shows_the_secret_once_and_stores_only_its_hash(
    app: Starlette,
    engine: AsyncEngine,
    client: httpx.AsyncClient,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    admin = await make_principal(engine, Role.ADMIN)
    assert admin.user_id is not None
    act_as(app, admin)
    before = datetime.now(UTC)
    key, secret, response = await create_key(
        client, name="  briefing pipeline ", scopes=["BRIEFINGS_WRITE", "PRICES_WRITE"]
    )
    # The whole key, once, in the create payload.
    assert KEY_FORMAT.match(secret), secret
    assert response.text.count(secret) == 1
    assert secret.startswith(f"gak_{key['prefix']}_")
    assert key["name"] == "briefing pipeline"
    assert key["scopes"] == ["BRIEFINGS_WRITE", "PRICES_WRITE"]
    assert key["createdBy"] == {"id": encode_id("User", admin.user_id)}
    assert key["revokedAt"] is None
    assert key["lastUsedAt"] is None
    assert key["rotatedFrom"] is None
    expires_at = datetime.fromisoformat(key["expiresAt"])
    assert before + timedelta(days=90) <= expires_at <= datetime.now(UTC) + timedelta(days=90)

    # Stored: the prefix and sha256 of the whole key; the secret part is nowhere.
    [row] = await _rows(engine, ApiKey)
    assert row.key_hash == hashlib.sha256(secret.encode()).hexdigest()
    assert row.prefix == key["prefix"]
    assert sorted(row.scopes) == ["briefings:write", "prices:write"]
    secret_part = secret.split("_", 2)[2]  # the secret itself may contain "_"
    assert all(secret_part not in str(value) for value in row._mapping.values())

    # Never again: not in the listing, not in the audit log, not in any log record.
    listing = await client.post("/graphql", json={"query": LIST})
    assert listing.json()["data"]["apiKeys"][0]["prefix"] == key["prefix"]
    assert secret not in listing.text
    assert secret_part not in listing.text
    assert row.key_hash not in listing.text
    node = await gql(client, NODE, {"id": key["id"]})
    assert node["data"]["node"] == {
        "id": key["id"],
        "name": "briefing pipeline",
        "prefix": row.prefix,
    }
    [audit_row] = await _rows(engine, AuditLog)
    assert audit_row.action == "api_key.created"
    assert secret_part not in str(audit_row._mapping)
    assert row.key_hash not in str(audit_row._mapping)
    assert all(secret_part not in record.getMessage() for record in caplog.records)
    assert all(secret_part not in str(record.__dict__) for record in caplog.records)


async def test_create_with_explicit_expiry(
    app: Starlette, engine: AsyncEngine, client: httpx.AsyncClient
) -> None:
    act_as(app, await make_principal(engine, Role.ADMIN))
    for days in (1, 365):
        key, _, _ = await create_key(client, expiresInDays=days, scopes=["ANNOUNCEMENTS_WRITE"])
        lifetime = datetime.fromisoformat(key["expiresAt"]) - datetime.fromisoformat(
            key["createdAt"]
        )
        assert abs(lifetime - timedelta(days=days)) < timedelta(minutes=1)
    # Duplicate scopes collapse.
    key, _, _ = await create_key(client, scopes=["PRICES_WRITE", "PRICES_WRITE"])
    assert key["scopes"] == ["PRICES_WRITE"]


@pytest.mark.parametrize(
    ("overrides", "field", "code"),
    [
        ({"name": "   "}, "input.name", "REQUIRED"),
        ({"name": "x" * 101}, "input.name", "TOO_LONG"),
        ({"scopes": []}, "input.scopes", "REQUIRED"),
        ({"expiresInDays": 0}, "input.expiresInDays", "OUT_OF_RANGE"),
        ({"expiresInDays": 366}, "input.expiresInDays", "OUT_OF_RANGE"),
        ({"expiresInDays": -5}, "input.expiresInDays", "OUT_OF_RANGE"),
    ],
)
async def test_create_rejects_bad_input_and_writes_nothing(
    app: Starlette,
    engine: AsyncEngine,
    client: httpx.AsyncClient,
    overrides: dict[str, Any],
    field: str,
    code: str,
) -> None:
    act_as(app, await make_principal(engine, Role.ADMIN))
    variables = {"input": {"name": "feed", "scopes": ["PRICES_WRITE"], **overrides}}
    body = await gql(client, CREATE, variables)
    assert "errors" not in body, body
    result = body["data"]["createApiKey"]
    assert result["apiKey"] is None
    assert result["secret"] is None
    assert [(e["field"], e["code"]) for e in result["errors"]] == [(field, code)]
    assert await _count(engine, ApiKey) == 0
    assert await _count(engine, AuditLog) == 0


async def test_unknown_scope_is_rejected_by_the_schema(
    app: Starlette, engine: AsyncEngine, client: httpx.AsyncClient
) -> None:
    act_as(app, await make_principal(engine, Role.ADMIN))
    body = await gql(client, CREATE, {"input": {"name": "x", "scopes": ["ADMIN"]}})
    assert error_codes(body) == ["BAD_USER_INPUT"]
    assert await _count(engine, ApiKey) == 0


# --- rotateApiKey / revokeApiKey ----------------------------------------------------


async def test_rotate_replaces_the_key_in_one_step(
    app: Starlette, engine: AsyncEngine, client: httpx.AsyncClient
) -> None:
    admin = await make_principal(engine, Role.ADMIN)
    act_as(app, admin)
    old, old_secret, _ = await create_key(client, expiresInDays=10, scopes=["BRIEFINGS_WRITE"])
    db, redis = app.state.db, app.state.redis
    assert (await authenticate_api_key(db=db, redis=redis, raw_key=old_secret)).is_service

    response = await client.post("/graphql", json={"query": ROTATE, "variables": {"id": old["id"]}})
    result = response.json()["data"]["rotateApiKey"]
    assert result["errors"] == []
    new, new_secret = result["apiKey"], result["secret"]
    assert KEY_FORMAT.match(new_secret)
    assert new_secret != old_secret
    assert response.text.count(new_secret) == 1
    assert old_secret not in response.text
    assert new["id"] != old["id"]
    assert new["prefix"] != old["prefix"]
    assert new["rotatedFrom"] == {"id": old["id"]}
    assert new["name"] == old["name"]
    assert new["scopes"] == ["BRIEFINGS_WRITE"]
    assert new["revokedAt"] is None
    # Same lifetime as the key it replaces.
    lifetime = datetime.fromisoformat(new["expiresAt"]) - datetime.fromisoformat(new["createdAt"])
    assert abs(lifetime - timedelta(days=10)) < timedelta(minutes=1)

    # The old key is revoked at once (its cache entry is gone), the new one works.
    with pytest.raises(Unauthenticated):
        await authenticate_api_key(db=db, redis=redis, raw_key=old_secret)
    principal = await authenticate_api_key(db=db, redis=redis, raw_key=new_secret)
    assert principal.scopes == frozenset({"briefings:write"})
    listing = (await gql(client, LIST))["data"]["apiKeys"]
    assert [k["id"] for k in listing] == [new["id"], old["id"]]
    assert listing[1]["revokedAt"] is not None

    # A revoked key cannot be rotated back to life.
    body = await gql(client, ROTATE, {"id": old["id"]})
    result = body["data"]["rotateApiKey"]
    assert result["apiKey"] is None
    assert result["secret"] is None
    assert [(e["field"], e["code"]) for e in result["errors"]] == [("id", "INVALID_TRANSITION")]
    assert await _count(engine, ApiKey) == 2


async def test_concurrent_rotations_issue_one_successor(
    app: Starlette, engine: AsyncEngine, client: httpx.AsyncClient
) -> None:
    act_as(app, await make_principal(engine, Role.ADMIN))
    old, _, _ = await create_key(client)
    results = await asyncio.gather(*(gql(client, ROTATE, {"id": old["id"]}) for _ in range(4)))
    outcomes = sorted(
        "ok"
        if r["data"]["rotateApiKey"]["errors"] == []
        else r["data"]["rotateApiKey"]["errors"][0]["code"]
        for r in results
    )
    assert outcomes == ["INVALID_TRANSITION"] * 3 + ["ok"]
    assert await _count(engine, ApiKey) == 2


async def test_revoke_takes_effect_at_once_and_is_idempotent(
    app: Starlette, engine: AsyncEngine, client: httpx.AsyncClient
) -> None:
    act_as(app, await make_principal(engine, Role.ADMIN))
    key, secret, _ = await create_key(client)
    db, redis = app.state.db, app.state.redis
    # Validated once: now cached for CACHE_TTL_SECONDS.
    await authenticate_api_key(db=db, redis=redis, raw_key=secret)
    body = await gql(client, REVOKE, {"id": key["id"]})
    result = body["data"]["revokeApiKey"]
    assert result["errors"] == []
    assert result["apiKey"]["revokedAt"] is not None
    # Within the cache TTL, yet refused: revoking deletes the cache entry.
    with pytest.raises(Unauthenticated):
        await authenticate_api_key(db=db, redis=redis, raw_key=secret)
    again = (await gql(client, REVOKE, {"id": key["id"]}))["data"]["revokeApiKey"]
    assert again["errors"] == []
    assert again["apiKey"]["revokedAt"] == result["apiKey"]["revokedAt"]
    actions = [row.action for row in await _rows(engine, AuditLog)]
    assert actions == ["api_key.created", "api_key.revoked"]


@pytest.mark.parametrize("mutation", [ROTATE, REVOKE])
async def test_rotate_and_revoke_unknown_ids(
    app: Starlette, engine: AsyncEngine, client: httpx.AsyncClient, mutation: str
) -> None:
    admin = await make_principal(engine, Role.ADMIN)
    assert admin.user_id is not None
    act_as(app, admin)
    name = "rotateApiKey" if mutation is ROTATE else "revokeApiKey"
    for bad in (encode_id("ApiKey", 424242), encode_id("User", admin.user_id), "%%not-an-id"):
        body = await gql(client, mutation, {"id": bad})
        assert "errors" not in body, body
        result = body["data"][name]
        assert result["apiKey"] is None
        assert [(e["field"], e["code"]) for e in result["errors"]] == [("id", "NOT_FOUND")]
    assert await _count(engine, AuditLog) == 0


# --- authenticate_api_key -----------------------------------------------------------


async def test_authenticate_valid_key(app: Starlette, engine: AsyncEngine) -> None:
    key_id, raw = await insert_key(engine, scopes=("prices:write", "briefings:write"))
    principal = await authenticate_api_key(db=app.state.db, redis=app.state.redis, raw_key=raw)
    assert principal == Principal(
        api_key_id=key_id, scopes=frozenset({"prices:write", "briefings:write"})
    )
    assert principal.user_id is None
    assert principal.role is None
    assert principal.is_service
    # Again, from the cache: the same answer.
    again = await authenticate_api_key(db=app.state.db, redis=app.state.redis, raw_key=raw)
    assert again == principal


async def test_authenticate_rejects_revoked_expired_malformed_and_unknown_keys(
    app: Starlette, engine: AsyncEngine, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    now = datetime.now(UTC)
    _, revoked = await insert_key(engine, revoked_at=now - timedelta(minutes=1))
    _, expired = await insert_key(engine, expires_at=now - timedelta(seconds=1))
    _, valid = await insert_key(engine)
    prefix = valid.split("_")[1]
    unknown = generate_key().raw
    wrong_secret = f"gak_{prefix}_{generate_key().raw.rsplit('_', 1)[-1]}"
    wrong_secret = wrong_secret if wrong_secret != valid else wrong_secret[:-1] + "A"
    malformed = [
        "",
        "gak_",
        valid[:-1],
        valid + "x",
        valid.upper(),
        valid.replace("gak_", "gk_"),
        f"Bearer {valid}",
        valid + "\n",
        "gak_" + "a" * 5000,
        "gak_ünïcödé_" + "a" * 43,
    ]
    for raw in [revoked, expired, unknown, wrong_secret, *malformed]:
        for _ in range(2):  # the second time a cache could answer; it must not accept either
            with pytest.raises(Unauthenticated) as raised:
                await authenticate_api_key(db=app.state.db, redis=app.state.redis, raw_key=raw)
            assert raised.value.extensions == {"code": "UNAUTHENTICATED"}
            assert raised.value.message == "Invalid API key."
    for raw in (revoked, expired, valid, wrong_secret):
        secret_part = raw.split("_", 2)[2]
        assert all(secret_part not in str(record.__dict__) for record in caplog.records)


async def test_a_cached_key_still_expires_on_time(app: Starlette, engine: AsyncEngine) -> None:
    _, raw = await insert_key(engine, expires_at=datetime.now(UTC) + timedelta(seconds=1))
    db, redis = app.state.db, app.state.redis
    await authenticate_api_key(db=db, redis=redis, raw_key=raw)
    await asyncio.sleep(1.1)
    assert CACHE_TTL_SECONDS > 2  # still cached, and still refused
    with pytest.raises(Unauthenticated):
        await authenticate_api_key(db=db, redis=redis, raw_key=raw)


async def test_http_x_api_key(
    app: Starlette, engine: AsyncEngine, client: httpx.AsyncClient
) -> None:
    now = datetime.now(UTC)
    _, valid = await insert_key(engine, scopes=("prices:write",))
    _, revoked = await insert_key(engine, revoked_at=now)
    _, expired = await insert_key(engine, expires_at=now - timedelta(days=1))
    query = {"query": "{ me { id } }"}
    ok = await client.post("/graphql", json=query, headers={"X-API-Key": valid})
    assert ok.status_code == 200
    assert ok.json() == {"data": {"me": None}}
    # A service may not manage keys either.
    denied = await client.post("/graphql", json={"query": LIST}, headers={"X-API-Key": valid})
    assert error_codes(denied.json()) == ["FORBIDDEN"]
    assert denied.json()["data"] is None
    for raw in (revoked, expired, "gak_nope", generate_key().raw):
        response = await client.post("/graphql", json=query, headers={"X-API-Key": raw})
        assert response.status_code == 401, response.text
        assert error_codes(response.json()) == ["UNAUTHENTICATED"]


# --- last use, batched --------------------------------------------------------------


@pytest.mark.parametrize("n", [5, 40])
async def test_last_use_costs_no_update_per_request(
    app: Starlette,
    engine: AsyncEngine,
    client: httpx.AsyncClient,
    sql: StatementCounter,
    n: int,
) -> None:
    key_id, raw = await insert_key(engine)
    other_id, other = await insert_key(engine)
    sql.reset()
    started = datetime.now(UTC)
    for i in range(n):
        response = await client.post(
            "/graphql",
            json={"query": "{ __typename }"},
            headers={"X-API-Key": raw if i % 2 == 0 else other},
        )
        assert response.status_code == 200, response.text
    updates = [s for s in sql.statements if s.lstrip().upper().startswith("UPDATE")]
    # One lookup per key (then the cache answers), and no write at all.
    assert updates == []
    assert sql.count == 2, sql.statements
    sql.reset()
    assert await flush_last_used(db=app.state.db, redis=app.state.redis) == 2
    updates = [s for s in sql.statements if s.lstrip().upper().startswith("UPDATE")]
    assert len(updates) == 1, sql.statements
    print(f"{n} requests with API keys: 2 lookups, then 1 UPDATE at flush")
    async with engine.connect() as conn:
        used = dict(
            (await conn.execute(select(ApiKey.id, ApiKey.last_used_at).order_by(ApiKey.id))).all()
        )
    for value in (used[key_id], used[other_id]):
        assert value is not None
        assert started - timedelta(seconds=1) <= value <= datetime.now(UTC)
    # Nothing left to flush: no statement at all.
    sql.reset()
    assert await flush_last_used(db=app.state.db, redis=app.state.redis) == 0
    assert sql.count == 0


async def test_flush_never_moves_last_use_backwards_and_listing_is_current(
    app: Starlette, engine: AsyncEngine, client: httpx.AsyncClient
) -> None:
    key_id, raw = await insert_key(engine)
    future = datetime.now(UTC) + timedelta(hours=1)
    async with engine.begin() as conn:
        await conn.execute(update(ApiKey).where(ApiKey.id == key_id).values(last_used_at=future))
    await authenticate_api_key(db=app.state.db, redis=app.state.redis, raw_key=raw)
    await flush_last_used(db=app.state.db, redis=app.state.redis)
    async with engine.connect() as conn:
        stored = (await conn.execute(select(ApiKey.last_used_at))).scalar_one()
    assert stored == future

    # The listing flushes first: a use a moment ago shows without waiting for the flusher.
    fresh_id, fresh = await insert_key(engine)
    before = datetime.now(UTC)
    await authenticate_api_key(db=app.state.db, redis=app.state.redis, raw_key=fresh)
    act_as(app, await make_principal(engine, Role.ADMIN))
    listing = (await gql(client, LIST))["data"]["apiKeys"]
    [entry] = [k for k in listing if k["id"] == encode_id("ApiKey", fresh_id)]
    assert datetime.fromisoformat(entry["lastUsedAt"]) >= before - timedelta(seconds=1)


async def test_a_failed_flush_hands_the_batch_back(
    app: Starlette, engine: AsyncEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    key_id, raw = await insert_key(engine)
    await authenticate_api_key(db=app.state.db, redis=app.state.redis, raw_key=raw)

    async def broken(*args: Any, **kwargs: Any) -> int:
        raise RuntimeError("database down")

    monkeypatch.setattr("graphql_api.core.auth.api_keys.record_last_used", broken)
    with pytest.raises(RuntimeError):
        await flush_last_used(db=app.state.db, redis=app.state.redis)
    assert await app.state.redis.hexists(LAST_USED_KEY, str(key_id))
    monkeypatch.undo()
    assert await flush_last_used(db=app.state.db, redis=app.state.redis) == 1


# --- access: admins only ------------------------------------------------------------


async def _non_admins(engine: AsyncEngine) -> list[Principal]:
    return [
        ANONYMOUS,
        await make_principal(engine, Role.MEMBER),
        await make_principal(engine, Role.EDITOR),
        Principal(api_key_id=1, scopes=ALL_SCOPES),
    ]


async def test_non_admins_are_forbidden_every_api_key_operation(
    app: Starlette, engine: AsyncEngine, client: httpx.AsyncClient
) -> None:
    act_as(app, await make_principal(engine, Role.ADMIN))
    key, secret, _ = await create_key(client, name="secret-name-xyz")
    prefix = key["prefix"]
    operations = [
        ("apiKeys", LIST, {}),
        ("createApiKey", CREATE, {"input": {"name": "sneaky", "scopes": ["PRICES_WRITE"]}}),
        ("rotateApiKey", ROTATE, {"id": key["id"]}),
        ("revokeApiKey", REVOKE, {"id": key["id"]}),
    ]
    for principal in await _non_admins(engine):
        act_as(app, principal)
        for name, query, variables in operations:
            response = await client.post("/graphql", json={"query": query, "variables": variables})
            body = response.json()
            assert error_codes(body) == ["FORBIDDEN"], (principal, name, body)
            assert body["errors"][0]["path"] == [name]
            assert body["data"] is None
            for leaked in (prefix, "secret-name-xyz", secret, "gak_"):
                assert leaked not in response.text, (principal, name)
        # node(id) does not confirm the key exists.
        response = await client.post(
            "/graphql", json={"query": NODE, "variables": {"id": key["id"]}}
        )
        assert error_codes(response.json()) == ["NOT_FOUND"]
        assert response.json()["data"] == {"node": None}
        assert prefix not in response.text
    # Nothing was created, rotated or revoked.
    [row] = await _rows(engine, ApiKey)
    assert row.revoked_at is None
    assert [r.action for r in await _rows(engine, AuditLog)] == ["api_key.created"]


async def test_a_prefix_clash_draws_another_key(
    app: Starlette,
    engine: AsyncEngine,
    client: httpx.AsyncClient,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    act_as(app, await make_principal(engine, Role.ADMIN))
    _, existing = await insert_key(engine)
    taken = existing.split("_")[1]
    fresh = generate_key()
    clash = generate_key()
    clash = type(clash)(
        raw=f"gak_{taken}_{clash.raw.rsplit('_', 1)[-1]}", prefix=taken, key_hash=clash.key_hash
    )
    draws = iter([clash, fresh])
    monkeypatch.setattr("graphql_api.services.api_keys.generate_key", lambda: next(draws))
    key, secret, _ = await create_key(client)
    assert secret == fresh.raw
    assert key["prefix"] == fresh.prefix
    assert await _count(engine, ApiKey) == 2


async def test_a_rejected_key_is_cached_too(
    app: Starlette, engine: AsyncEngine, sql: StatementCounter
) -> None:
    _, revoked = await insert_key(engine, revoked_at=datetime.now(UTC))
    sql.reset()
    for _ in range(5):
        with pytest.raises(Unauthenticated):
            await authenticate_api_key(db=app.state.db, redis=app.state.redis, raw_key=revoked)
    assert sql.count == 1
    # Nothing recorded as a use.
    assert not await app.state.redis.exists(LAST_USED_KEY)
