"""Subscriptions across two real server instances sharing PostgreSQL and Redis (R17).

Each test starts uvicorn subprocesses
(`python -m uvicorn --factory graphql_api.face.app:create_app`) on free ports, pointed at
the test database and Redis. Subscribers connect to instance A, with the `gql` client over
graphql-transport-ws and with a raw legacy graphql-ws client;
the mutation runs on instance B; the event travels through Redis pub/sub. The servers are
stopped however a test ends.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
from gql import Client, GraphQLRequest
from gql.transport.exceptions import TransportQueryError
from gql.transport.websockets import WebsocketsTransport
from sqlalchemy.ext.asyncio import AsyncEngine
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed
from websockets.typing import Subprotocol

from graphql_api.core.auth.tokens import issue_access_token
from graphql_api.core.config import Settings
from graphql_api.core.db.enums import Role
from graphql_api.core.ids import encode_id
from graphql_api.devtools.embedded import RedisServer, free_port, start_redis
from tests.factories_mutations_ab import announcement_input
from tests.factories_portfolios import make_portfolios, make_securities, make_user

REPO = Path(__file__).resolve().parent.parent
STARTUP_SECONDS = 30.0

ANNOUNCEMENTS = "subscription { announcementPublished { id title organization } }"
PORTFOLIO = """
subscription ($id: ID!) {
  portfolioUpdated(portfolioId: $id) { id cashBalance holdings { quantity } }
}
"""
BRIEFINGS = "subscription { briefingPublished { id title } }"
CREATE_ANNOUNCEMENT = """
mutation ($input: CreateAnnouncementInput!) {
  createAnnouncement(input: $input) { announcement { id } errors { code } }
}"""
PUBLISH_ANNOUNCEMENT = """
mutation ($id: ID!) { publishAnnouncement(id: $id) { announcement { id } errors { code } } }"""
TRADE = """
mutation ($input: PlaceTradeInput!) {
  placeTrade(input: $input) { portfolio { cashBalance } errors { code message } }
}"""


# --- server instances ------------------------------------------------------------------


@dataclass
class Instance:
    name: str
    port: int
    process: subprocess.Popen[bytes]
    log_path: Path

    @property
    def http(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws(self) -> str:
        return f"ws://127.0.0.1:{self.port}/graphql"

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def ready(self) -> tuple[int, dict[str, Any]]:
        response = httpx.get(f"{self.http}/health/ready", timeout=5)
        body: dict[str, Any] = response.json()
        return response.status_code, body

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)


def _start(name: str, env: dict[str, str], log_dir: Path) -> Instance:
    port = free_port()
    log_path = log_dir / f"{name}.log"
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "uvicorn",
                "--factory",
                "graphql_api.face.app:create_app",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--log-level",
                "warning",
            ],
            env=env,
            cwd=REPO,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    return Instance(name=name, port=port, process=process, log_path=log_path)


def wait_until(predicate: Any, what: str, within: float = 20.0) -> None:
    deadline = time.monotonic() + within
    while True:
        with contextlib.suppress(httpx.HTTPError):
            if predicate():
                return
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def wait_ready(instance: Instance, within: float = STARTUP_SECONDS) -> None:
    def ready() -> bool:
        if instance.process.poll() is not None:
            raise AssertionError(f"{instance.name} exited:\n{instance.log()[-3000:]}")
        status, body = instance.ready()
        return status == 200 and body["checks"].get("broker") == "ok"

    wait_until(ready, f"{instance.name} to be ready", within)


def wait_subscriptions(instance: Instance, count: int) -> None:
    wait_until(lambda: instance.ready()[1].get("subscriptions") == count, f"{count} subscribers")


@contextlib.contextmanager
def instances(
    settings: Settings,
    db_url: str,
    redis_url: str,
    log_dir: Path,
    count: int = 2,
    extra_env: dict[str, str] | None = None,
) -> Iterator[list[Instance]]:
    env = {
        **os.environ,
        "ENV": "test",
        "DATABASE_URL": db_url,
        "REDIS_URL": redis_url,
        "JWT_SECRET": settings.jwt_secret,
        "AUTO_MIGRATE": "false",
        "SEED_DEMO_DATA": "false",
        "GRAPHIQL": "false",
        "PYTHONUNBUFFERED": "1",
        **(extra_env or {}),
    }
    started: list[Instance] = []
    try:
        for name in "AB"[:count]:
            started.append(_start(name, env, log_dir))
        for instance in started:
            wait_ready(instance)
        yield started
    finally:
        for instance in started:
            instance.stop()


@pytest.fixture
def log_dir(tmp_path: Path) -> Path:
    path = tmp_path / "logs"
    path.mkdir()
    return path


# --- clients ---------------------------------------------------------------------------


def token_for(settings: Settings, user_id: int, role: Role) -> str:
    return issue_access_token(settings, user_id=user_id, role=role, now=datetime.now(UTC)).token


def gql_client(instance: Instance, token: str | None = None) -> Client:
    transport = WebsocketsTransport(
        url=instance.ws,
        init_payload={"authorization": f"Bearer {token}"} if token else {},
        subprotocols=[WebsocketsTransport.GRAPHQLWS_SUBPROTOCOL],  # graphql-transport-ws
    )
    return Client(transport=transport, fetch_schema_from_transport=False)


async def receive(ws: ClientConnection, within: float = 10.0) -> dict[str, Any]:
    """The next message, skipping keep-alives (`ka`, `ping`)."""
    while True:
        async with asyncio.timeout(within):
            data: dict[str, Any] = json.loads(await ws.recv())
        if data.get("type") not in {"ka", "ping"}:
            return data


@contextlib.asynccontextmanager
async def raw_client(
    instance: Instance, protocol: str, token: str | None = None
) -> AsyncIterator[ClientConnection]:
    async with connect(instance.ws, subprotocols=[Subprotocol(protocol)]) as ws:
        payload = {"authorization": f"Bearer {token}"} if token else {}
        await ws.send(json.dumps({"type": "connection_init", "payload": payload}))
        assert await receive(ws) == {"type": "connection_ack"}
        yield ws


async def legacy_start(ws: ClientConnection, op_id: str, query: str, **variables: Any) -> None:
    message = {"id": op_id, "type": "start", "payload": {"query": query, "variables": variables}}
    await ws.send(json.dumps(message))


async def graphql(instance: Instance, query: str, variables: dict[str, Any], token: str) -> Any:
    async with httpx.AsyncClient(base_url=instance.http, timeout=10) as http:
        response = await http.post(
            "/graphql",
            json={"query": query, "variables": variables},
            headers={"authorization": f"Bearer {token}"},
        )
    body = response.json()
    assert response.status_code == 200, body
    assert "errors" not in body, body
    return body["data"]


async def publish_announcement(instance: Instance, token: str, title: str) -> str:
    created = await graphql(
        instance, CREATE_ANNOUNCEMENT, {"input": announcement_input(title=title)}, token
    )
    announcement_id: str = created["createAnnouncement"]["announcement"]["id"]
    published = await graphql(instance, PUBLISH_ANNOUNCEMENT, {"id": announcement_id}, token)
    assert published["publishAnnouncement"]["errors"] == []
    return announcement_id


async def trade(instance: Instance, token: str, portfolio: str) -> str:
    order = {"portfolioId": portfolio, "symbol": "S0000", "side": "BUY", "quantity": "1"}
    result = (await graphql(instance, TRADE, {"input": order}, token))["placeTrade"]
    assert result["errors"] == [], result
    cash: str = result["portfolio"]["cashBalance"]
    return cash


async def first_result(client: Client, query: str, variables: dict[str, Any] | None = None) -> Any:
    async with client as session:
        async for result in session.subscribe(GraphQLRequest(query, variable_values=variables)):
            return result
    raise AssertionError("the subscription ended without a result")


# --- tests -----------------------------------------------------------------------------


async def test_an_event_from_instance_b_reaches_both_protocols_on_instance_a(
    engine: AsyncEngine, settings: Settings, db_url: str, redis_url: str, log_dir: Path
) -> None:
    editor = token_for(settings, await make_user(engine, role=Role.EDITOR), Role.EDITOR)
    with instances(settings, db_url, redis_url, log_dir) as (a, b):
        async with raw_client(a, "graphql-ws") as legacy:
            await legacy_start(legacy, "1", ANNOUNCEMENTS)
            modern = asyncio.create_task(first_result(gql_client(a), ANNOUNCEMENTS))
            try:
                await asyncio.to_thread(wait_subscriptions, a, 2)
                announcement_id = await publish_announcement(b, editor, "Cross-instance call")
                received = await asyncio.wait_for(modern, 10)
            finally:
                modern.cancel()
            assert received["announcementPublished"]["id"] == announcement_id
            assert received["announcementPublished"]["title"] == "Cross-instance call"
            message = await receive(legacy)
            assert (message["type"], message["id"]) == ("data", "1")
            assert message["payload"]["data"]["announcementPublished"]["id"] == announcement_id
            # B served no subscriber: the event was delivered by A alone.
            assert b.ready()[1]["subscriptions"] == 0


async def test_portfolio_updates_cross_instances_for_the_owner_only(
    engine: AsyncEngine, settings: Settings, db_url: str, redis_url: str, log_dir: Path
) -> None:
    await make_securities(engine, 1)
    owner_id = await make_user(engine)
    owner = token_for(settings, owner_id, Role.MEMBER)
    stranger = token_for(settings, await make_user(engine), Role.MEMBER)
    (portfolio_pk,) = await make_portfolios(engine, owner_id, 1, cash=Decimal("5000.0000"))
    portfolio = encode_id("Portfolio", portfolio_pk)
    with instances(settings, db_url, redis_url, log_dir) as (a, b):
        # Someone else's portfolio: an error, never data, for a member and for anonymous.
        with pytest.raises(TransportQueryError) as denied:
            await first_result(gql_client(a, stranger), PORTFOLIO, {"id": portfolio})
        assert denied.value.errors is not None
        assert denied.value.errors[0]["extensions"]["code"] == "NOT_FOUND"
        assert denied.value.data is None
        async with raw_client(a, "graphql-ws") as anonymous:
            await legacy_start(anonymous, "1", PORTFOLIO, id=portfolio)
            message = await receive(anonymous)
            assert message["type"] == "error"
            assert message["payload"]["extensions"]["code"] == "NOT_FOUND"

            owner_update = asyncio.create_task(
                first_result(gql_client(a, owner), PORTFOLIO, {"id": portfolio})
            )
            try:
                await asyncio.to_thread(wait_subscriptions, a, 1)
                cash = await trade(b, owner, portfolio)
                received = await asyncio.wait_for(owner_update, 10)
            finally:
                owner_update.cancel()
            assert received["portfolioUpdated"]["id"] == portfolio
            assert received["portfolioUpdated"]["cashBalance"] == cash
            with pytest.raises(TimeoutError):
                await receive(anonymous, within=0.5)


async def test_delivery_resumes_after_redis_restarts(
    engine: AsyncEngine, settings: Settings, db_url: str, tmp_path: Path, log_dir: Path
) -> None:
    editor = token_for(settings, await make_user(engine, role=Role.EDITOR), Role.EDITOR)
    redis_dir = tmp_path / "redis"
    redis_server: RedisServer | None = start_redis(data_dir=redis_dir)
    try:
        assert redis_server is not None
        with instances(settings, db_url, redis_server.url, log_dir) as (a, b):
            async with raw_client(a, "graphql-transport-ws") as subscriber:
                subscribe = {"id": "s", "type": "subscribe", "payload": {"query": ANNOUNCEMENTS}}
                await subscriber.send(json.dumps(subscribe))
                await asyncio.to_thread(wait_subscriptions, a, 1)

                redis_server.stop()
                redis_server = None
                await asyncio.to_thread(
                    wait_until,
                    lambda: a.ready()[1]["checks"]["broker"] == "reconnecting",
                    "A to notice",
                )
                assert a.ready()[0] == 503

                redis_server = start_redis(data_dir=redis_dir)  # same socket path
                await asyncio.to_thread(wait_ready, a)
                await asyncio.to_thread(wait_ready, b)
                assert a.ready()[1]["subscriptions"] == 1  # the subscriber never noticed

                announcement_id = await publish_announcement(b, editor, "After the restart")
                message = await receive(subscriber)
                assert message["type"] == "next", message
                assert message["payload"]["data"]["announcementPublished"]["id"] == announcement_id
            log = a.log()
            assert "broker disconnected" in log
            assert "broker reconnected" in log
    finally:
        if redis_server is not None:
            redis_server.stop()


async def test_sigterm_completes_subscriptions_before_closing(
    settings: Settings, db_url: str, redis_url: str, log_dir: Path
) -> None:
    with instances(settings, db_url, redis_url, log_dir, count=1) as (a,):
        async with (
            raw_client(a, "graphql-transport-ws") as modern,
            raw_client(a, "graphql-ws") as legacy,
        ):
            subscribe = {"id": "m", "type": "subscribe", "payload": {"query": BRIEFINGS}}
            await modern.send(json.dumps(subscribe))
            await legacy_start(legacy, "l", BRIEFINGS)
            await asyncio.to_thread(wait_subscriptions, a, 2)

            a.process.send_signal(signal.SIGTERM)
            assert await receive(modern) == {"id": "m", "type": "complete"}
            assert await receive(legacy) == {"id": "l", "type": "complete"}
            for ws in (modern, legacy):
                with pytest.raises(ConnectionClosed):
                    await receive(ws)
        # uvicorn re-raises the signal once it has shut down gracefully.
        assert await asyncio.to_thread(a.process.wait, 15) in (0, -signal.SIGTERM)
        assert "Traceback" not in a.log()
