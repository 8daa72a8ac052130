"""GET /health/detail (issue 13, R19): admins and the health token only; a database whose
migration head differs from the code's is not ready."""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import AsyncIterator

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.applications import Starlette

from graphql_api.core.config import ConfigError, Settings
from graphql_api.core.db.enums import Role
from graphql_api.core.db.migrate import heads
from tests.auth_helpers import bearer, login, make_account

HEALTH_TOKEN = "health-" + "t" * 32


@pytest.fixture
async def health_client(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    from graphql_api.face.app import create_app

    digest = hashlib.sha256(HEALTH_TOKEN.encode()).hexdigest()
    application: Starlette = create_app(
        dataclasses.replace(
            settings, health_token_sha256=digest, response_cache=True, query_cache=True
        )
    )
    async with application.router.lifespan_context(application):
        transport = httpx.ASGITransport(app=application)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
            yield http


async def _token(client: httpx.AsyncClient, engine: AsyncEngine, role: Role) -> str:
    _, email = await make_account(engine, role=role)
    token: str = (await login(client, email))["accessToken"]
    return token


async def test_anonymous_and_members_are_refused(
    health_client: httpx.AsyncClient, engine: AsyncEngine
) -> None:
    anonymous = await health_client.get("/health/detail")
    assert anonymous.status_code == 401
    assert anonymous.json()["error"]["code"] == "UNAUTHENTICATED"
    wrong = await health_client.get("/health/detail", headers=bearer("not-the-" + HEALTH_TOKEN))
    assert wrong.status_code == 401
    member = await _token(health_client, engine, Role.MEMBER)
    refused = await health_client.get("/health/detail", headers=bearer(member))
    assert refused.status_code == 403
    assert refused.json()["error"]["code"] == "FORBIDDEN"
    assert "versions" not in refused.text


async def test_an_admin_reads_every_figure(
    health_client: httpx.AsyncClient, engine: AsyncEngine
) -> None:
    admin = await _token(health_client, engine, Role.ADMIN)
    response = await health_client.get("/health/detail", headers=bearer(admin))
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["status"] == "ok"
    versions = body["versions"]
    assert versions["package"]
    assert versions["python"].count(".") == 2
    assert versions["postgres"][0].isdigit()
    assert versions["redis"][0].isdigit()
    assert body["migrations"] == {"database": heads(), "code": heads(), "upToDate": True}
    assert body["database"]["status"] == "ok"
    assert body["database"]["roundTripMs"] >= 0
    assert set(body["database"]["pools"]) >= {"writer", "reader"}
    assert set(body["database"]["pools"]["writer"]) == {"max", "size", "in_use", "idle", "waiting"}
    assert body["redis"]["status"] == "ok"
    assert body["redis"]["roundTripMs"] >= 0
    assert body["broker"]["state"] == "ok"
    assert body["broker"]["subscriptions"] == 0
    assert "hits" in body["responseCache"]
    assert "hits" in body["queryCache"]
    assert body["uptimeSeconds"] >= 0


async def test_the_health_token_is_enough(health_client: httpx.AsyncClient) -> None:
    response = await health_client.get("/health/detail", headers=bearer(HEALTH_TOKEN))
    assert response.status_code == 200
    assert response.json()["status"] == "ok"


async def test_a_migration_head_mismatch_is_not_ready(
    health_client: httpx.AsyncClient, engine: AsyncEngine
) -> None:
    async with engine.begin() as conn:
        await conn.execute(text("UPDATE alembic_version SET version_num = '0000deadbeef'"))
    response = await health_client.get("/health/detail", headers=bearer(HEALTH_TOKEN))
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "not_ready"
    assert body["migrations"] == {"database": ["0000deadbeef"], "code": heads(), "upToDate": False}
    # Everything else still answers: the detail says what is wrong, not only that something is.
    assert body["database"]["status"] == "ok"
    assert body["redis"]["status"] == "ok"


def test_settings_read_the_health_token_and_otel_switches() -> None:
    base = {"ENV": "test"}
    settings = Settings.from_env({**base, "HEALTH_TOKEN": HEALTH_TOKEN})
    assert settings.health_token_sha256 == hashlib.sha256(HEALTH_TOKEN.encode()).hexdigest()
    assert HEALTH_TOKEN not in repr(settings)
    with pytest.raises(ConfigError, match="HEALTH_TOKEN"):
        Settings.from_env({**base, "HEALTH_TOKEN": "short"})
    assert Settings.from_env(base).tracing is False
    endpoint = {**base, "OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318"}
    assert Settings.from_env(endpoint).tracing is True
    assert Settings.from_env({**endpoint, "OTEL_SDK_DISABLED": "true"}).tracing is False
    assert Settings.from_env({**endpoint, "OTEL_TRACES_EXPORTER": "none"}).tracing is False
    traces_only = {**base, "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://c:4318/v1/traces"}
    assert Settings.from_env(traces_only).tracing is True
