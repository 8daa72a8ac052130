"""Subscriptions over WebSocket, in process (R17; R7 for portfolio access).

The real ASGI app runs under Starlette's TestClient (its own event loop in a thread, with
the app's lifespan, so the broker reads the test Redis); mutations go through the same
client over HTTP and reach the subscribers through Redis pub/sub, as in production.
Two real instances, legacy clients and a Redis restart are in test_subscriptions_multi.py.
"""

from __future__ import annotations

import asyncio
import json
import time
import warnings
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import anyio
import orjson
import pytest
import redis.asyncio as aioredis
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.exceptions import StarletteDeprecationWarning

from graphql_api.core.auth.tokens import issue_access_token
from graphql_api.core.broker import Broker, BrokerState, StreamEnded, SubscriberTooSlow
from graphql_api.core.config import Settings
from graphql_api.core.db.enums import AnnouncementStatus, Role
from graphql_api.core.events import (
    ANNOUNCEMENT_PUBLISHED,
    BRIEFING_PUBLISHED,
    CHANNEL_PREFIX,
    PORTFOLIO_UPDATED,
    redis_publisher,
)
from graphql_api.core.ids import encode_id
from graphql_api.face.app import create_app
from graphql_api.face.websocket import MAX_SUBSCRIPTIONS_PER_CONNECTION
from schema import schema as built_schema
from tests.factories import make_announcements
from tests.factories_mutations_ab import announcement_input
from tests.factories_portfolios import make_holdings, make_portfolios, make_securities, make_user

with warnings.catch_warnings():
    warnings.simplefilter("ignore", StarletteDeprecationWarning)
    from starlette.testclient import TestClient, WebSocketTestSession

TRANSPORT_WS = "graphql-transport-ws"
LEGACY_WS = "graphql-ws"

ANNOUNCEMENTS = """
subscription ($filter: AnnouncementFilter) {
  announcementPublished(filter: $filter) { id title category status applicationCount }
}"""
BRIEFINGS = "subscription { briefingPublished { id date title status glossaryTerms { id } } }"
PORTFOLIO = """
subscription ($id: ID!) {
  portfolioUpdated(portfolioId: $id) {
    id cashBalance totalValue holdings { quantity security { symbol lastPrice } }
  }
}"""
CREATE_ANNOUNCEMENT = """
mutation ($input: CreateAnnouncementInput!) {
  createAnnouncement(input: $input) { announcement { id } errors { code } }
}"""
PUBLISH_ANNOUNCEMENT = """
mutation ($id: ID!) { publishAnnouncement(id: $id) { announcement { id } errors { code } } }"""
UPSERT_BRIEFING = """
mutation ($input: BriefingInput!) {
  upsertBriefing(input: $input) { briefing { id } errors { code } }
}"""
TRADE = """
mutation ($input: PlaceTradeInput!) {
  placeTrade(input: $input) { portfolio { cashBalance } errors { field code message } }
}"""
UPDATE_PRICES = """
mutation ($prices: [PriceInput!]!) {
  updatePrices(prices: $prices) { updatedCount errors { code } }
}"""


# --- helpers ---------------------------------------------------------------------------


@pytest.fixture
def ws_client(settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(settings)) as client:
        yield client


def token_for(settings: Settings, user_id: int, role: Role, *, now: datetime | None = None) -> str:
    issued = issue_access_token(settings, user_id=user_id, role=role, now=now or datetime.now(UTC))
    return issued.token


def receive(ws: WebSocketTestSession, within: float = 5.0) -> dict[str, Any]:
    """The next protocol message, skipping keep-alives; fails after `within` seconds."""
    while True:

        async def get() -> Any:
            with anyio.fail_after(within):
                return await ws._send_rx.receive()

        message = ws.portal.call(get)
        ws._raise_on_close(message)
        data: dict[str, Any] = json.loads(message["text"])
        if data.get("type") not in {"ping", "ka"}:
            return data


def nothing_within(ws: WebSocketTestSession, seconds: float) -> bool:
    try:
        message = receive(ws, within=seconds)
    except TimeoutError:
        return True
    raise AssertionError(f"unexpected message: {message}")


def connect(
    client: TestClient, token: str | None = None, protocol: str = TRANSPORT_WS
) -> WebSocketTestSession:
    ws = client.websocket_connect("/graphql", subprotocols=[protocol]).__enter__()
    payload = {"authorization": f"Bearer {token}"} if token else {}
    ws.send_json({"type": "connection_init", "payload": payload})
    assert receive(ws) == {"type": "connection_ack"}
    return ws


def close(ws: WebSocketTestSession) -> None:
    ws.__exit__(None, None, None)


def subscribe(
    ws: WebSocketTestSession, op_id: str, query: str, variables: dict[str, Any] | None = None
) -> None:
    ws.send_json(
        {"id": op_id, "type": "subscribe", "payload": {"query": query, "variables": variables}}
    )


def wait_for_subscriptions(client: TestClient, count: int, within: float = 5.0) -> None:
    """Until the app's broker has `count` subscribers (a subscribe message is asynchronous)."""
    broker: Broker = client.app.state.broker  # type: ignore[attr-defined]  # app is typed as a bare ASGI app
    deadline = time.monotonic() + within
    while broker.subscription_count != count:
        assert time.monotonic() < deadline, f"{broker.subscription_count} subscribers"
        time.sleep(0.01)


def post(client: TestClient, query: str, variables: dict[str, Any], token: str) -> dict[str, Any]:
    response = client.post(
        "/graphql",
        json={"query": query, "variables": variables},
        headers={"authorization": f"Bearer {token}"},
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    assert "errors" not in body, body
    return body["data"]


def publish_announcement(client: TestClient, token: str, **overrides: Any) -> str:
    created = post(client, CREATE_ANNOUNCEMENT, {"input": announcement_input(**overrides)}, token)
    announcement_id: str = created["createAnnouncement"]["announcement"]["id"]
    published = post(client, PUBLISH_ANNOUNCEMENT, {"id": announcement_id}, token)
    assert published["publishAnnouncement"]["errors"] == []
    return announcement_id


async def publish_event(
    redis_url: str, topic: str, payload: dict[str, Any], *, times: int = 1
) -> None:
    """Publish as a writer would after its commit (for events no mutation produces);
    `times` copies go out back to back in one pipeline."""
    client = aioredis.Redis.from_url(redis_url)
    try:
        async with client.pipeline(transaction=False) as pipe:
            for _ in range(times):
                pipe.publish(CHANNEL_PREFIX + topic, orjson.dumps(payload))
            await pipe.execute()
    finally:
        await client.aclose()


def codes(errors: list[dict[str, Any]]) -> list[str]:
    return [e.get("extensions", {}).get("code") for e in errors]


# --- schema ----------------------------------------------------------------------------


def test_subscription_root_matches_the_contract() -> None:
    sdl = built_schema.as_str()
    assert "announcementPublished(" in sdl
    assert "filter: AnnouncementFilter = null" in sdl
    assert "): Announcement!" in sdl
    assert "briefingPublished: Briefing!" in sdl
    assert "portfolioUpdated(" in sdl
    assert "portfolioId: ID!" in sdl
    assert "): Portfolio!" in sdl


# --- announcementPublished -------------------------------------------------------------


async def test_announcement_published_honours_the_list_filter(
    engine: AsyncEngine, settings: Settings, ws_client: TestClient
) -> None:
    editor = token_for(settings, await make_user(engine, role=Role.EDITOR), Role.EDITOR)
    ws = connect(ws_client)  # anonymous: published calls are public
    try:
        subscribe(ws, "all", ANNOUNCEMENTS)
        subscribe(ws, "funding", ANNOUNCEMENTS, {"filter": {"category": ["funding"]}})
        subscribe(ws, "search", ANNOUNCEMENTS, {"filter": {"search": "voucher -robots"}})
        wait_for_subscriptions(ws_client, 3)

        export_id = publish_announcement(ws_client, editor, category="export")
        first = {receive(ws)["id"] for _ in range(2)}
        assert first == {"all", "search"}  # "funding" did not match
        assert nothing_within(ws, 0.3)

        funding_id = publish_announcement(
            ws_client, editor, category="funding", title="Robots grant", keywords=["robots"]
        )
        seen: dict[str, Any] = {}
        for _ in range(2):
            message = receive(ws)
            assert message["type"] == "next"
            seen[message["id"]] = message["payload"]["data"]["announcementPublished"]
        assert set(seen) == {"all", "funding"}  # "-robots" excluded it from "search"
        assert seen["funding"]["id"] == funding_id
        assert seen["funding"]["status"] == "PUBLISHED"
        assert seen["funding"]["applicationCount"] == 0
        assert export_id != funding_id
    finally:
        close(ws)


async def test_a_draft_event_reaches_only_those_who_may_see_drafts(
    engine: AsyncEngine, settings: Settings, redis_url: str, ws_client: TestClient
) -> None:
    (draft_id,) = await make_announcements(engine, 1, status=AnnouncementStatus.DRAFT)
    editor = token_for(settings, await make_user(engine, role=Role.EDITOR), Role.EDITOR)
    anonymous, privileged = connect(ws_client), connect(ws_client, editor)
    try:
        subscribe(anonymous, "1", ANNOUNCEMENTS)
        subscribe(privileged, "1", ANNOUNCEMENTS)
        wait_for_subscriptions(ws_client, 2)
        await publish_event(redis_url, ANNOUNCEMENT_PUBLISHED, {"id": draft_id})
        message = receive(privileged)
        assert message["payload"]["data"]["announcementPublished"]["id"] == encode_id(
            "Announcement", draft_id
        )
        assert nothing_within(anonymous, 0.3)
    finally:
        close(anonymous)
        close(privileged)


async def test_bad_filter_is_an_error_before_any_event(ws_client: TestClient) -> None:
    ws = connect(ws_client)
    try:
        subscribe(ws, "1", ANNOUNCEMENTS, {"filter": {"search": "x" * 201}})
        message = receive(ws)
        assert message["type"] == "error"
        assert codes(message["payload"]) == ["BAD_USER_INPUT"]
    finally:
        close(ws)


# --- briefingPublished -----------------------------------------------------------------


@pytest.mark.parametrize("protocol", [TRANSPORT_WS, LEGACY_WS])
async def test_briefing_published_over_both_protocols(
    engine: AsyncEngine, settings: Settings, ws_client: TestClient, protocol: str
) -> None:
    admin = token_for(settings, await make_user(engine, role=Role.ADMIN), Role.ADMIN)
    ws = connect(ws_client, protocol=protocol)
    try:
        if protocol == LEGACY_WS:
            ws.send_json({"id": "b", "type": "start", "payload": {"query": BRIEFINGS}})
        else:
            subscribe(ws, "b", BRIEFINGS)
        wait_for_subscriptions(ws_client, 1)
        briefing = {
            "date": "2026-03-02",
            "title": "Chips rally",
            "summary": "Semiconductors led.",
            "narrative": "A long day.",
            "topKeywords": [{"keyword": "chips", "score": 9.5}],
            "status": "PUBLISHED",
        }
        post(ws_client, UPSERT_BRIEFING, {"input": briefing}, admin)
        message = receive(ws)
        assert message["type"] == ("data" if protocol == LEGACY_WS else "next")
        data = message["payload"]["data"]["briefingPublished"]
        assert (data["date"], data["title"], data["status"]) == (
            "2026-03-02",
            "Chips rally",
            "PUBLISHED",
        )
        # Unsubscribe: the broker forgets the subscriber.
        if protocol == LEGACY_WS:
            ws.send_json({"id": "b", "type": "stop"})
            assert receive(ws) == {"id": "b", "type": "complete"}
        else:
            ws.send_json({"id": "b", "type": "complete"})
        wait_for_subscriptions(ws_client, 0)
    finally:
        close(ws)


# --- portfolioUpdated ------------------------------------------------------------------


async def _portfolio(engine: AsyncEngine, owner: int, securities: int = 1) -> tuple[int, str]:
    (portfolio_id,) = await make_portfolios(engine, owner, 1, cash=Decimal("100000.0000"))
    return portfolio_id, encode_id("Portfolio", portfolio_id)


async def test_portfolio_updated_reaches_owner_and_admin_with_fresh_state(
    engine: AsyncEngine, settings: Settings, ws_client: TestClient
) -> None:
    await make_securities(engine, 1)
    owner_id = await make_user(engine)
    owner = token_for(settings, owner_id, Role.MEMBER)
    admin = token_for(settings, await make_user(engine, role=Role.ADMIN), Role.ADMIN)
    _, portfolio = await _portfolio(engine, owner_id)
    owner_ws, admin_ws = connect(ws_client, owner), connect(ws_client, admin)
    try:
        subscribe(owner_ws, "p", PORTFOLIO, {"id": portfolio})
        subscribe(admin_ws, "p", PORTFOLIO, {"id": portfolio})
        wait_for_subscriptions(ws_client, 2)
        balances = []
        for _ in range(2):
            trade = {"portfolioId": portfolio, "symbol": "S0000", "side": "BUY", "quantity": "2"}
            result = post(ws_client, TRADE, {"input": trade}, owner)["placeTrade"]
            assert result["errors"] == []
            for ws in (owner_ws, admin_ws):
                message = receive(ws)
                assert message["type"] == "next", message
                update = message["payload"]["data"]["portfolioUpdated"]
                assert update["cashBalance"] == result["portfolio"]["cashBalance"]
            balances.append(update["cashBalance"])
            assert Decimal(update["holdings"][0]["quantity"]) == 2 * len(balances)
        # Each event was resolved with new loaders: the second update is not the first's.
        assert balances[0] != balances[1]
    finally:
        close(owner_ws)
        close(admin_ws)


async def test_portfolio_updated_is_not_found_for_others_and_anonymous(
    engine: AsyncEngine, settings: Settings, redis_url: str, ws_client: TestClient
) -> None:
    owner_id = await make_user(engine)
    portfolio_pk, portfolio = await _portfolio(engine, owner_id)
    stranger = token_for(settings, await make_user(engine), Role.MEMBER)
    editor = token_for(settings, await make_user(engine, role=Role.EDITOR), Role.EDITOR)
    for token in (stranger, editor, None):
        ws = connect(ws_client, token)
        try:
            subscribe(ws, "p", PORTFOLIO, {"id": portfolio})
            message = receive(ws)
            assert message["type"] == "error", message
            assert codes(message["payload"]) == ["NOT_FOUND"]
            assert "data" not in json.dumps(message["payload"])
            # Even if an event for it arrives, nothing is sent on this connection.
            await publish_event(
                redis_url, PORTFOLIO_UPDATED, {"portfolio_ids": [portfolio_pk], "reason": "trade"}
            )
            assert nothing_within(ws, 0.2)
        finally:
            close(ws)
    # A missing portfolio looks exactly the same; a wrong-type ID is BAD_USER_INPUT.
    ws = connect(ws_client, stranger)
    try:
        subscribe(ws, "1", PORTFOLIO, {"id": encode_id("Portfolio", 999_999)})
        assert codes(receive(ws)["payload"]) == ["NOT_FOUND"]
        subscribe(ws, "2", PORTFOLIO, {"id": encode_id("Business", portfolio_pk)})
        message = receive(ws)
        assert codes(message["payload"]) == ["BAD_USER_INPUT"]
        assert message["payload"][0]["extensions"]["field"] == "portfolioId"
    finally:
        close(ws)
    assert ws_client.app.state.broker.subscription_count == 0  # type: ignore[attr-defined]  # app is typed as a bare ASGI app


async def test_a_batch_of_500_prices_sends_one_update_per_portfolio(
    engine: AsyncEngine, settings: Settings, redis_url: str, ws_client: TestClient
) -> None:
    security_ids = await make_securities(engine, 500, prefix="P")
    owner_id = await make_user(engine)
    owner = token_for(settings, owner_id, Role.MEMBER)
    admin = token_for(settings, await make_user(engine, role=Role.ADMIN), Role.ADMIN)
    portfolio_pks = await make_portfolios(engine, owner_id, 2)
    await make_holdings(
        engine,
        [(p, s, Decimal(1), Decimal(10)) for p in portfolio_pks for s in security_ids],
    )
    ws = connect(ws_client, owner)
    try:
        for pk in portfolio_pks:
            subscribe(ws, f"p{pk}", PORTFOLIO, {"id": encode_id("Portfolio", pk)})
        wait_for_subscriptions(ws_client, 2)
        prices = [{"symbol": f"P{i:04d}", "price": "20"} for i in range(500)]
        assert post(ws_client, UPDATE_PRICES, {"prices": prices}, admin)["updatePrices"] == {
            "updatedCount": 500,
            "errors": [],
        }
        updates = [receive(ws) for _ in portfolio_pks]
        assert sorted(u["id"] for u in updates) == sorted(f"p{pk}" for pk in portfolio_pks)
        for update in updates:
            # 500 x 1 unit at 20, plus the untouched cash.
            assert update["payload"]["data"]["portfolioUpdated"]["totalValue"] == "11000.0000"
        assert nothing_within(ws, 0.4)

        # A burst of separate price events inside the window is one update too.
        await publish_event(
            redis_url,
            PORTFOLIO_UPDATED,
            {"portfolio_ids": portfolio_pks, "reason": "prices"},
            times=5,
        )
        assert sorted(receive(ws)["id"] for _ in portfolio_pks) == sorted(
            f"p{pk}" for pk in portfolio_pks
        )
        assert nothing_within(ws, 0.4)
    finally:
        close(ws)


async def test_subscription_ends_when_the_access_token_expires(
    engine: AsyncEngine, settings: Settings, ws_client: TestClient
) -> None:
    owner_id = await make_user(engine)
    _, portfolio = await _portfolio(engine, owner_id)
    # Issued so that it expires 1.5 s from now.
    issued_at = datetime.now(UTC) - timedelta(seconds=settings.access_token_ttl_seconds - 1.5)
    ws = connect(ws_client, token_for(settings, owner_id, Role.MEMBER, now=issued_at))
    try:
        subscribe(ws, "p", PORTFOLIO, {"id": portfolio})
        started = time.monotonic()
        message = receive(ws, within=5)
        assert message["type"] == "next"
        assert message["payload"]["data"] is None
        assert codes(message["payload"]["errors"]) == ["UNAUTHENTICATED"]
        assert receive(ws) == {"id": "p", "type": "complete"}
        assert time.monotonic() - started < 3
        wait_for_subscriptions(ws_client, 0)
    finally:
        close(ws)


async def test_a_deactivated_user_is_stopped_at_the_next_delivery(
    engine: AsyncEngine, settings: Settings, redis_url: str, ws_client: TestClient
) -> None:
    from sqlalchemy import update

    from graphql_api.core.db.models import User

    owner_id = await make_user(engine)
    portfolio_pk, portfolio = await _portfolio(engine, owner_id)
    ws = connect(ws_client, token_for(settings, owner_id, Role.MEMBER))
    try:
        subscribe(ws, "p", PORTFOLIO, {"id": portfolio})
        wait_for_subscriptions(ws_client, 1)
        async with engine.begin() as conn:
            await conn.execute(update(User).where(User.id == owner_id).values(is_active=False))
        ws_client.app.state.principal_cache.clear()  # type: ignore[attr-defined]  # app is typed as a bare ASGI app
        await publish_event(
            redis_url, PORTFOLIO_UPDATED, {"portfolio_ids": [portfolio_pk], "reason": "trade"}
        )
        message = receive(ws)
        assert message["payload"]["data"] is None
        assert codes(message["payload"]["errors"]) == ["UNAUTHENTICATED"]
        assert receive(ws) == {"id": "p", "type": "complete"}
    finally:
        close(ws)


# --- the connection --------------------------------------------------------------------


async def test_subscriptions_per_connection_are_limited(ws_client: TestClient) -> None:
    ws = connect(ws_client)
    try:
        for n in range(MAX_SUBSCRIPTIONS_PER_CONNECTION):
            subscribe(ws, str(n), BRIEFINGS)
        wait_for_subscriptions(ws_client, MAX_SUBSCRIPTIONS_PER_CONNECTION)
        subscribe(ws, "one too many", BRIEFINGS)
        message = receive(ws)
        assert message["type"] == "error"
        assert message["id"] == "one too many"
        assert message["payload"][0]["message"] == "Subscription limit reached"
    finally:
        close(ws)
    wait_for_subscriptions(ws_client, 0)


async def test_keep_alives_on_both_protocols(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    import graphql_api.face.app

    monkeypatch.setattr(graphql_api.face.app, "KEEP_ALIVE_SECONDS", 0.05)
    with TestClient(create_app(settings)) as client:
        for protocol, keep_alive in ((TRANSPORT_WS, {"type": "ping"}), (LEGACY_WS, {"type": "ka"})):
            with client.websocket_connect("/graphql", subprotocols=[protocol]) as ws:
                ws.send_json({"type": "connection_init", "payload": {}})
                assert ws.receive_json() == {"type": "connection_ack"}
                assert ws.receive_json() == keep_alive
                assert ws.receive_json() == keep_alive


async def test_shutdown_completes_every_subscription(ws_client: TestClient) -> None:
    transport, legacy = connect(ws_client), connect(ws_client, protocol=LEGACY_WS)
    try:
        subscribe(transport, "t", BRIEFINGS)
        legacy.send_json({"id": "l", "type": "start", "payload": {"query": BRIEFINGS}})
        wait_for_subscriptions(ws_client, 2)
        broker: Broker = ws_client.app.state.broker  # type: ignore[attr-defined]  # app is typed as a bare ASGI app  # app is typed as a bare ASGI app
        ws_client.portal.call(broker.drain)  # what SIGTERM under uvicorn does first
        assert receive(transport) == {"id": "t", "type": "complete"}
        assert receive(legacy) == {"id": "l", "type": "complete"}
        assert broker.state is BrokerState.DRAINING
        # New subscriptions complete at once while draining.
        subscribe(transport, "late", BRIEFINGS)
        assert receive(transport) == {"id": "late", "type": "complete"}
    finally:
        close(transport)
        close(legacy)


async def test_readiness_reports_the_broker(ws_client: TestClient) -> None:
    body = ws_client.get("/health/ready").json()
    assert body["checks"]["broker"] == "ok"
    assert body["subscriptions"] == 0
    ws = connect(ws_client)
    try:
        subscribe(ws, "b", BRIEFINGS)
        wait_for_subscriptions(ws_client, 1)
        assert ws_client.get("/health/ready").json()["subscriptions"] == 1
    finally:
        close(ws)


async def test_subscriptions_are_refused_over_http(ws_client: TestClient) -> None:
    response = ws_client.post("/graphql", json={"query": BRIEFINGS})
    assert response.status_code == 400
    assert response.json()["errors"][0]["extensions"]["code"] == "BAD_REQUEST"


# --- the broker on its own -------------------------------------------------------------


async def test_broker_routes_by_topic_and_key_and_closes_slow_subscribers() -> None:
    broker = Broker("redis://127.0.0.1:1/0", max_pending=3)
    everything = broker.subscribe([ANNOUNCEMENT_PUBLISHED, BRIEFING_PUBLISHED])
    mine = broker.subscribe([PORTFOLIO_UPDATED], key=7)
    other = broker.subscribe([PORTFOLIO_UPDATED], key=8)
    assert broker.subscription_count == 3

    assert broker.dispatch(BRIEFING_PUBLISHED, {"id": 1, "date": "2026-01-01"}) == 1
    assert broker.dispatch(PORTFOLIO_UPDATED, {"portfolio_ids": [5, 7], "reason": "prices"}) == 1
    assert broker.dispatch("unknown.topic", {"id": 1}) == 0
    event = await mine.get(within=0)
    assert event is not None
    assert event.payload["portfolio_ids"] == [5, 7]
    assert await other.get(within=0) is None
    assert (await everything.get(within=0)).topic == BRIEFING_PUBLISHED  # type: ignore[union-attr]  # None only after a timeout

    # Shared per-event work runs once for all subscribers.
    calls = []

    async def compute() -> int:
        calls.append(1)
        await asyncio.sleep(0)
        return 42

    assert await asyncio.gather(event.shared("k", compute), event.shared("k", compute)) == [42, 42]
    assert calls == [1]

    # Too many pending events: closed with an error, no longer routed to.
    for n in range(4):
        broker.dispatch(ANNOUNCEMENT_PUBLISHED, {"id": n})
    with pytest.raises(SubscriberTooSlow):
        await everything.get(within=0)
    assert broker.subscription_count == 2

    await broker.stop()
    with pytest.raises(StreamEnded):
        await mine.get(within=0)
    assert broker.subscription_count == 0
    assert broker.subscribe([BRIEFING_PUBLISHED]).closed


async def test_broker_reads_redis_and_ignores_malformed_events(redis_url: str) -> None:
    broker = Broker(redis_url)
    await broker.start()
    client = aioredis.Redis.from_url(redis_url)
    try:
        assert broker.state is BrokerState.OK
        with broker.subscribe([BRIEFING_PUBLISHED]) as subscription:
            await client.publish(CHANNEL_PREFIX + BRIEFING_PUBLISHED, b"not json")
            await client.publish(CHANNEL_PREFIX + BRIEFING_PUBLISHED, b"[1]")
            await client.publish(CHANNEL_PREFIX + BRIEFING_PUBLISHED, b'{"id": 3}')
            event = await subscription.get(within=5)
            assert event is not None
            assert event.payload == {"id": 3}
            assert await subscription.get(within=0.1) is None
    finally:
        await client.aclose()
        await broker.stop()
    assert broker.state is BrokerState.STOPPED


async def test_the_broker_measures_each_events_lag_and_hands_on_the_payload_alone(
    redis_url: str,
) -> None:
    broker = Broker(redis_url)
    await broker.start()
    client = aioredis.Redis.from_url(redis_url)
    try:
        assert broker.lag_seconds is None
        with broker.subscribe([BRIEFING_PUBLISHED]) as subscription:
            await redis_publisher(client)(BRIEFING_PUBLISHED, {"id": 4})
            event = await subscription.get(within=5)
            assert event is not None
            assert event.payload == {"id": 4}  # the publication time was taken off
        assert broker.lag_seconds is not None
        assert 0 <= broker.lag_seconds < 5
        assert broker.lag_seconds_total >= broker.lag_seconds
    finally:
        await client.aclose()
        await broker.stop()


async def test_lazy_loaders_build_each_loader_on_first_use(settings: Settings) -> None:
    from graphql_api.core.db.engine import Database
    from loaders import Loaders, create_loaders
    from loaders.lazy import create_lazy_loaders

    db = Database(settings)
    try:
        eager, first, second = create_loaders(db), create_lazy_loaders(db), create_lazy_loaders(db)
        assert isinstance(first, Loaders)
        for name in Loaders.__dataclass_fields__:
            loader = getattr(first, name)
            assert type(loader) is type(getattr(eager, name))
            assert getattr(first, name) is loader  # built once per instance
            assert getattr(second, name) is not loader  # never shared between events
        with pytest.raises(AttributeError):
            _ = first.no_such_loader  # type: ignore[attr-defined]  # deliberately not a loader
    finally:
        await db.dispose()
