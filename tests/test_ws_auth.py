"""WebSocket connections are authenticated once, from `connection_init` (R6, R17).

Both protocols: graphql-transport-ws refuses a bad credential by closing with 4403;
legacy graphql-ws answers `connection_error` and closes. A refused or unauthenticated
connection gets nothing meant for a member: there are no subscriptions yet, so `me` over the
socket stands in for member data (null when anonymous, the user when signed in).

Runs the real ASGI app under Starlette's TestClient (its own event loop in a thread, with
the app's lifespan), which speaks the WebSocket protocol end to end.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.exceptions import StarletteDeprecationWarning
from starlette.websockets import WebSocketDisconnect

from graphql_api.core.auth.tokens import issue_access_token
from graphql_api.core.config import Settings
from graphql_api.core.db.enums import Role
from graphql_api.core.ids import encode_id
from graphql_api.face.app import create_app
from tests.auth_helpers import make_account

with warnings.catch_warnings():
    # Starlette suggests httpx2 for its TestClient; httpx works and is what we install.
    warnings.simplefilter("ignore", StarletteDeprecationWarning)
    from starlette.testclient import TestClient

TRANSPORT_WS = "graphql-transport-ws"
LEGACY_WS = "graphql-ws"
ME = "{ me { id role } }"


@pytest.fixture
def ws_client(settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(settings)) as client:
        yield client


async def _member_token(engine: AsyncEngine, settings: Settings) -> tuple[str, int]:
    user_id, _ = await make_account(engine)
    token = issue_access_token(settings, user_id=user_id, role=Role.MEMBER, now=datetime.now(UTC))
    return token.token, user_id


def _transport_ws_query(client: TestClient, payload: dict[str, Any] | None) -> Any:
    """Connect, init with `payload`, run `me`; the `me` value, or raises on refusal."""
    with client.websocket_connect("/graphql", subprotocols=[TRANSPORT_WS]) as ws:
        init: dict[str, Any] = {"type": "connection_init"}
        if payload is not None:
            init["payload"] = payload
        ws.send_json(init)
        assert ws.receive_json() == {"type": "connection_ack"}
        ws.send_json({"id": "1", "type": "subscribe", "payload": {"query": ME}})
        message = ws.receive_json()
        assert message["type"] == "next", message
        assert ws.receive_json() == {"id": "1", "type": "complete"}
        return message["payload"]["data"]["me"]


def _transport_ws_refused(client: TestClient, payload: dict[str, Any], **kwargs: Any) -> None:
    with client.websocket_connect("/graphql", subprotocols=[TRANSPORT_WS], **kwargs) as ws:
        ws.send_json({"type": "connection_init", "payload": payload})
        with pytest.raises(WebSocketDisconnect) as refused:
            ws.receive_json()
        assert refused.value.code == 4403
        assert refused.value.reason == "Forbidden"


BAD_PAYLOADS: dict[str, dict[str, Any]] = {
    "forged token": {"authorization": "Bearer eyJhbGciOiJub25lIn0.eyJzdWIiOiIxIn0."},
    "garbage token": {"authorization": "Bearer garbage"},
    "not bearer": {"Authorization": "Basic dXNlcjpwYXNz"},
    "non-string": {"authorization": 42},
    "bad api key": {"apiKey": "gak_abcdefgh_" + "x" * 43},
}


@pytest.mark.parametrize("case", list(BAD_PAYLOADS), ids=list(BAD_PAYLOADS))
async def test_transport_ws_refuses_bad_credentials(ws_client: TestClient, case: str) -> None:
    _transport_ws_refused(ws_client, BAD_PAYLOADS[case])


async def test_transport_ws_refuses_expired_and_both_credentials(
    engine: AsyncEngine, settings: Settings, ws_client: TestClient
) -> None:
    user_id, _ = await make_account(engine)
    expired = issue_access_token(
        settings, user_id=user_id, role=Role.MEMBER, now=datetime.now(UTC) - timedelta(hours=2)
    )
    _transport_ws_refused(ws_client, {"authorization": f"Bearer {expired.token}"})
    good, _ = await _member_token(engine, settings)
    _transport_ws_refused(ws_client, {"authorization": f"Bearer {good}", "apiKey": "gak_x"})


async def test_transport_ws_anonymous_gets_no_member_data(ws_client: TestClient) -> None:
    assert _transport_ws_query(ws_client, None) is None
    assert _transport_ws_query(ws_client, {}) is None
    assert _transport_ws_query(ws_client, {"authorization": ""}) is None


async def test_transport_ws_member_connection(
    engine: AsyncEngine, settings: Settings, ws_client: TestClient
) -> None:
    token, user_id = await _member_token(engine, settings)
    me = _transport_ws_query(ws_client, {"authorization": f"Bearer {token}"})
    assert me == {"id": encode_id("User", user_id), "role": "MEMBER"}
    # Any capitalisation of the key works (clients differ).
    me = _transport_ws_query(ws_client, {"Authorization": f"Bearer {token}"})
    assert me == {"id": encode_id("User", user_id), "role": "MEMBER"}


async def test_transport_ws_operation_before_init_is_refused(ws_client: TestClient) -> None:
    with ws_client.websocket_connect("/graphql", subprotocols=[TRANSPORT_WS]) as ws:
        ws.send_json({"id": "1", "type": "subscribe", "payload": {"query": ME}})
        with pytest.raises(WebSocketDisconnect) as refused:
            ws.receive_json()
        assert refused.value.code == 4401


async def test_handshake_headers_are_used_when_the_payload_has_none(
    engine: AsyncEngine, settings: Settings, ws_client: TestClient
) -> None:
    token, user_id = await _member_token(engine, settings)
    with ws_client.websocket_connect(
        "/graphql", subprotocols=[TRANSPORT_WS], headers={"authorization": f"Bearer {token}"}
    ) as ws:
        ws.send_json({"type": "connection_init", "payload": {}})
        assert ws.receive_json() == {"type": "connection_ack"}
        ws.send_json({"id": "1", "type": "subscribe", "payload": {"query": ME}})
        assert ws.receive_json()["payload"]["data"]["me"]["id"] == encode_id("User", user_id)
    _transport_ws_refused(ws_client, {}, headers={"authorization": "Bearer garbage"})


async def test_legacy_graphql_ws_refuses_bad_credentials(
    engine: AsyncEngine, settings: Settings, ws_client: TestClient
) -> None:
    with ws_client.websocket_connect("/graphql", subprotocols=[LEGACY_WS]) as ws:
        ws.send_json({"type": "connection_init", "payload": {"authorization": "Bearer bad"}})
        message = ws.receive_json()
        assert message["type"] == "connection_error"
        assert message["payload"]["extensions"] == {"code": "UNAUTHENTICATED"}
        with pytest.raises(WebSocketDisconnect):
            ws.receive_json()

    # A good or absent credential is acknowledged; the legacy protocol runs subscriptions
    # only (none exist yet), so what it may then receive is covered by the tests above.
    token, _ = await _member_token(engine, settings)
    for payload in ({}, {"authorization": f"Bearer {token}"}):
        with ws_client.websocket_connect("/graphql", subprotocols=[LEGACY_WS]) as ws:
            ws.send_json({"type": "connection_init", "payload": payload})
            assert ws.receive_json() == {"type": "connection_ack"}
