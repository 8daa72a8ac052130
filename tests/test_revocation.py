"""Instant revocation (issue 11): `logout` and a refresh-token reuse stop the session's
access tokens at once, on every instance, and end its open subscriptions within a second."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from graphql_api.core.config import Settings
from graphql_api.face.app import create_app
from tests.auth_helpers import LOGIN, LOGOUT, ME, PASSWORD, REFRESH, make_account
from tests.test_subscriptions import (
    ANNOUNCEMENTS,
    TestClient,
    close,
    codes,
    connect,
    receive,
    subscribe,
    wait_for_subscriptions,
)


@pytest.fixture
def two_instances(settings: Settings) -> Iterator[tuple[TestClient, TestClient]]:
    """Two app instances sharing PostgreSQL and Redis, each with its own state."""
    with TestClient(create_app(settings)) as first, TestClient(create_app(settings)) as second:
        yield first, second


def _post(client: TestClient, query: str, variables: Any = None, token: str | None = None) -> Any:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return client.post("/graphql", json={"query": query, "variables": variables}, headers=headers)


def _login(client: TestClient, email: str) -> dict[str, Any]:
    body = _post(client, LOGIN, {"input": {"email": email, "password": PASSWORD}}).json()
    assert "errors" not in body, body
    assert not body["data"]["login"]["errors"], body
    session: dict[str, Any] = body["data"]["login"]
    return session


def _refused_within(client: TestClient, token: str, seconds: float) -> float:
    """Seconds until `me` with `token` answers 401 on `client` (fails after `seconds`)."""
    started = time.monotonic()
    while True:
        response = _post(client, ME, token=token)
        if response.status_code == 401:
            assert response.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
            return time.monotonic() - started
        assert response.json()["data"]["me"] is not None
        assert time.monotonic() - started < seconds, "the access token still works"
        time.sleep(0.02)


async def test_logout_stops_the_access_token_at_once_on_every_instance(
    engine: AsyncEngine, two_instances: tuple[TestClient, TestClient]
) -> None:
    first, second = two_instances
    _, email = await make_account(engine)
    session = _login(first, email)
    token = session["accessToken"]
    assert _post(second, ME, token=token).json()["data"]["me"]["id"]

    out = _post(first, LOGOUT, {"t": session["refreshToken"]}).json()
    assert out["data"]["logout"] == {"loggedOut": True, "errors": []}
    # The instance that signed out refuses the token on the very next request ...
    assert _post(first, ME, token=token).status_code == 401
    # ... and the other one as soon as the event reaches it.
    assert _refused_within(second, token, 1.0) < 1.0
    # Another session of the same user is not affected.
    other = _login(second, email)
    assert _post(first, ME, token=other["accessToken"]).json()["data"]["me"]["id"]


async def test_a_reused_refresh_token_stops_the_sessions_access_tokens(
    engine: AsyncEngine, two_instances: tuple[TestClient, TestClient]
) -> None:
    first, second = two_instances
    _, email = await make_account(engine)
    session = _login(first, email)
    rotated = _post(first, REFRESH, {"t": session["refreshToken"]}).json()["data"]
    fresh_token = rotated["refreshToken"]["accessToken"]
    assert _post(second, ME, token=fresh_token).json()["data"]["me"]["id"]
    # The old refresh token again: a thief or a replay. The whole session is revoked.
    reused = _post(second, REFRESH, {"t": session["refreshToken"]}).json()["data"]
    assert reused["refreshToken"]["errors"][0]["code"] == "INVALID_TOKEN"
    assert _refused_within(first, fresh_token, 1.0) < 1.0
    assert _refused_within(second, fresh_token, 1.0) < 1.0


async def test_logout_ends_the_sessions_open_subscription_within_a_second(
    engine: AsyncEngine, two_instances: tuple[TestClient, TestClient]
) -> None:
    first, second = two_instances
    _, email = await make_account(engine)
    session = _login(first, email)
    ws = connect(first, session["accessToken"])
    try:
        subscribe(ws, "calls", ANNOUNCEMENTS)
        wait_for_subscriptions(first, 1)
        # Signed out through the other instance.
        assert _post(second, LOGOUT, {"t": session["refreshToken"]}).json()["data"]["logout"][
            "loggedOut"
        ]
        started = time.monotonic()
        message = receive(ws, within=2)
        assert message["type"] == "next"
        assert message["payload"]["data"] is None
        assert codes(message["payload"]["errors"]) == ["UNAUTHENTICATED"]
        assert receive(ws) == {"id": "calls", "type": "complete"}
        assert time.monotonic() - started < 1.0
        wait_for_subscriptions(first, 0)
    finally:
        close(ws)
