"""The fault suite (issue 14): PostgreSQL and Redis stopped, restarted and frozen while
queries, mutations and a subscription run.

Each test runs against its own throwaway PostgreSQL cluster and redis-server (started like
the session's, graphql_api.devtools.embedded), so stopping or freezing them (SIGSTOP of the
whole process group: the postmaster and every backend) disturbs no other test. The app runs
in process with its defaults for timeouts. What must hold:

- every request gets a coded JSON answer within its deadline (SERVICE_UNAVAILABLE with 503
  and Retry-After, or TIMEOUT), never INTERNAL_SERVER_ERROR, never a hang;
- no acknowledged write is lost;
- once the dependency is back, the same process serves again within a few seconds.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import tempfile
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import orjson
import pytest
from sqlalchemy import insert
from sqlalchemy.ext.asyncio import create_async_engine
from starlette.applications import Starlette

from graphql_api.core.auth.api_keys import generate_key
from graphql_api.core.auth.authenticate import PrincipalCache
from graphql_api.core.auth.tokens import issue_access_token
from graphql_api.core.config import Environment, Settings
from graphql_api.core.db.enums import Role
from graphql_api.core.db.models import ApiKey
from graphql_api.devtools.embedded import PostgresServer, RedisServer, start_postgres, start_redis
from tests.factories_mutations_ab import announcement_input
from tests.factories_portfolios import make_user

DEADLINE = Settings().request_timeout_seconds  # the default deadline (issue 14: at most 10 s)
# What a request may take beyond its deadline (scheduling on a busy CI machine).
SLACK = 2.0
RECOVERY_SECONDS = 10.0

# Reads the query cache does not keep (the glossary and prices it does: see below).
ANONYMOUS_READ = "{ announcements(first: 3) { totalCount edges { node { id } } } }"
SERVICE_READ = "{ businesses(first: 3) { totalCount } }"
CACHED_READ = "{ glossary(first: 3) { totalCount edges { node { id } } } }"
MEMBER_READ = "{ me { id portfolios { id name } } }"
CREATE_PORTFOLIO = """
mutation ($input: CreatePortfolioInput!) {
  createPortfolio(input: $input) { portfolio { id name } errors { code message } }
}"""


@dataclass
class Servers:
    root: Path
    postgres: PostgresServer
    redis: RedisServer
    database_url: str

    def pg_signal(self, sig: signal.Signals) -> None:
        # PostgreSQL's children each call setsid(): signal the postmaster and its children
        # (the postmaster first on SIGSTOP, so it forks no new backend meanwhile).
        postmaster = self.postgres.process.pid
        order = [postmaster, *_children(postmaster)]
        for pid in order if sig == signal.SIGSTOP else reversed(order):
            os.kill(pid, sig)

    def redis_signal(self, sig: signal.Signals) -> None:
        os.kill(self.redis.process.pid, sig)

    def stop_postgres(self) -> None:
        self.postgres.stop()

    def start_postgres(self) -> None:
        self.postgres = start_postgres(
            data_dir=self.root / "pg",
            cache_dir=self.root,
            port=self.postgres.port,
            durable=False,
            log_file=self.root / "pg.log",
        )

    def stop_redis(self) -> None:
        self.redis.stop()

    def start_redis(self) -> None:
        self.redis = start_redis(data_dir=self.root / "redis", log_file=self.root / "redis.log")


def _children(parent: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # pid (comm) state ppid ...: comm may hold spaces, so split after its parenthesis.
        if int(stat.rsplit(")", 1)[1].split()[1]) == parent:
            found.append(int(entry.name))
    return found


@pytest.fixture
def servers() -> Iterator[Servers]:
    # Not pytest's tmp_path: other pytest sessions on the machine rotate
    # /tmp/pytest-of-<user>/ (keeping the last three) and would delete a cluster's data
    # directory under it while it runs. A short path also keeps the Redis socket within
    # sun_path.
    tmp_path = Path(tempfile.mkdtemp(prefix="gqlapi-faults-"))
    postgres = start_postgres(
        data_dir=tmp_path / "pg", cache_dir=tmp_path, durable=False, log_file=tmp_path / "pg.log"
    )
    try:
        redis = start_redis(data_dir=tmp_path / "redis", log_file=tmp_path / "redis.log")
    except BaseException:
        postgres.stop()
        raise
    found = Servers(tmp_path, postgres, redis, postgres.url("faults"))
    try:
        yield found
    finally:
        # Never leave a stopped process behind, whatever failed.
        if found.postgres.process.poll() is None:
            found.pg_signal(signal.SIGCONT)
        if found.redis.process.poll() is None:
            found.redis_signal(signal.SIGCONT)
        found.redis.stop()
        found.postgres.stop()
        shutil.rmtree(tmp_path, ignore_errors=True)


@dataclass
class Harness:
    servers: Servers
    app: Starlette
    http: httpx.AsyncClient
    settings: Settings
    member_token: str
    member_id: int
    api_key: str
    acknowledged: list[str]

    async def post(
        self,
        query: str,
        variables: dict[str, Any] | None = None,
        *,
        token: str | None = None,
        api_key: str | None = None,
    ) -> tuple[httpx.Response, float]:
        headers = {"authorization": f"Bearer {token}"} if token else {}
        if api_key:
            headers["x-api-key"] = api_key
        start = time.monotonic()
        response = await self.http.post(
            "/graphql",
            json={"query": query, "variables": variables or {}},
            headers=headers,
            timeout=DEADLINE + 30,
        )
        return response, time.monotonic() - start

    async def create_portfolio(self, name: str) -> tuple[httpx.Response, float]:
        response, took = await self.post(
            CREATE_PORTFOLIO,
            {"input": {"name": name, "initialCash": "100"}},
            token=self.member_token,
        )
        body = response.json()
        payload = (body.get("data") or {}).get("createPortfolio")
        if response.status_code == 200 and payload and payload["portfolio"]:
            self.acknowledged.append(name)
        return response, took

    async def mixed_round(self, tag: str) -> list[tuple[str, httpx.Response, float]]:
        """An anonymous read, a user's read, a service's read and a write, concurrently."""
        anonymous, member, service, write = await asyncio.gather(
            self.post(ANONYMOUS_READ),
            self.post(MEMBER_READ, token=self.member_token),
            self.post(SERVICE_READ, api_key=self.api_key),
            self.create_portfolio(f"p-{tag}"),
        )
        return [
            ("anonymous", *anonymous),
            ("member", *member),
            ("service", *service),
            ("write", *write),
        ]

    async def wait_serving(self) -> float:
        """Seconds until an anonymous read, a member read and a write all succeed again."""
        start = time.monotonic()
        attempt = 0
        while True:
            attempt += 1
            outcomes = await self.mixed_round(f"recover-{len(self.acknowledged)}-{attempt}")
            if all(_ok(response) for _, response, _ in outcomes):
                return time.monotonic() - start
            if time.monotonic() - start > RECOVERY_SECONDS:
                raise AssertionError(f"not serving again: {[_brief(o) for o in outcomes]}")
            await asyncio.sleep(0.2)

    async def written_names(self) -> set[str]:
        connection = await asyncpg.connect(self.servers.database_url.replace("+asyncpg", ""))
        try:
            rows = await connection.fetch(
                "SELECT name FROM portfolios WHERE owner_id = $1", self.member_id
            )
        finally:
            await connection.close()
        return {row["name"] for row in rows}


def _ok(response: httpx.Response) -> bool:
    body = response.json()
    return response.status_code == 200 and not body.get("errors") and body.get("data") is not None


def _brief(outcome: tuple[str, httpx.Response, float]) -> str:
    kind, response, took = outcome
    return f"{kind}: {response.status_code} {response.text[:300]} in {took:.1f}s"


def assert_coded(outcomes: list[tuple[str, httpx.Response, float]]) -> None:
    """Each answer is JSON with a code clients can act on, within the deadline."""
    for outcome in outcomes:
        _kind, response, took = outcome
        assert took <= DEADLINE + SLACK, _brief(outcome)
        assert response.headers["content-type"].startswith("application/json"), _brief(outcome)
        body = response.json()
        if _ok(response):
            continue
        codes = {error["extensions"]["code"] for error in body["errors"]}
        assert codes <= {"SERVICE_UNAVAILABLE", "TIMEOUT"}, _brief(outcome)
        assert response.status_code in (200, 503), _brief(outcome)
        if "SERVICE_UNAVAILABLE" in codes:
            assert int(response.headers["retry-after"]) > 0, _brief(outcome)
            if body.get("data") is None:
                assert response.status_code == 503, _brief(outcome)


@pytest.fixture
async def harness(servers: Servers) -> AsyncIterator[Harness]:
    from graphql_api.core.db.migrate import upgrade
    from graphql_api.face.app import create_app

    admin = await asyncpg.connect(servers.postgres.url("postgres").replace("+asyncpg", ""))
    try:
        await admin.execute('CREATE DATABASE "faults"')
    finally:
        await admin.close()
    await upgrade(url=servers.database_url)
    engine = create_async_engine(servers.database_url)
    key = generate_key()
    try:
        member_id = await make_user(engine)
        async with engine.begin() as connection:
            await connection.execute(
                insert(ApiKey).values(
                    name="price feed",
                    prefix=key.prefix,
                    key_hash=key.key_hash,
                    scopes=["prices:write"],
                    expires_at=datetime.now(UTC) + timedelta(days=1),
                )
            )
    finally:
        await engine.dispose()
    settings = Settings(
        env=Environment.TEST,
        database_url=servers.database_url,
        redis_url=servers.redis.url,
        jwt_secret="fault-secret-" + "x" * 40,
        auto_migrate=False,
        seed_demo_data=False,
        rate_limit=True,  # its Redis fallback is part of what is under test
    )
    app = create_app(settings)
    token = issue_access_token(
        settings, user_id=member_id, role=Role.MEMBER, now=datetime.now(UTC)
    ).token
    async with app.router.lifespan_context(app):
        # Every authenticated request looks its user up (no 5 s principal cache), so the
        # lookup's failure path is exercised on every round.
        app.state.principal_cache = PrincipalCache(ttl_seconds=0)
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://faults") as http:
            harness = Harness(servers, app, http, settings, token, member_id, key.raw, [])
            assert all(_ok(r) for _, r, _ in await harness.mixed_round("warm")), "not serving"
            yield harness


async def _no_lost_writes(harness: Harness) -> None:
    written = await harness.written_names()
    lost = set(harness.acknowledged) - written
    assert not lost, f"acknowledged but not written: {lost}"


# --- PostgreSQL -------------------------------------------------------------------------


async def test_postgres_stopped_then_restarted(harness: Harness) -> None:
    warm, _ = await harness.post(CACHED_READ)
    assert _ok(warm), warm.text
    await asyncio.to_thread(harness.servers.stop_postgres)
    for round_number in range(3):
        outcomes = await harness.mixed_round(f"down-{round_number}")
        assert_coded(outcomes)
        for outcome in outcomes:
            assert outcome[1].status_code == 503, _brief(outcome)
            assert outcome[2] < 5, _brief(outcome)  # refused connections fail fast
    # What the query cache holds is still served (no write can happen meanwhile, and
    # Redis still vouches that nothing it read was written elsewhere).
    cached, _ = await harness.post(CACHED_READ)
    assert (cached.status_code, cached.json()["data"]) == (200, warm.json()["data"])
    await asyncio.to_thread(harness.servers.start_postgres)
    assert await harness.wait_serving() < RECOVERY_SECONDS
    await _no_lost_writes(harness)


async def test_postgres_frozen_answers_within_the_deadline_then_recovers(
    harness: Harness,
) -> None:
    harness.servers.pg_signal(signal.SIGSTOP)
    try:
        outcomes = await harness.mixed_round("frozen")
        # A second authenticated read while the first ones still wait: the same rule.
        outcomes += [("member again", *await harness.post(MEMBER_READ, token=harness.member_token))]
    finally:
        harness.servers.pg_signal(signal.SIGCONT)
    assert_coded(outcomes)
    for outcome in outcomes:
        assert not _ok(outcome[1]), _brief(outcome)  # nothing could have answered
    # The next request succeeds (the pool's connections came back clean).
    response, _ = await harness.post(MEMBER_READ, token=harness.member_token)
    assert _ok(response), response.text
    assert await harness.wait_serving() < RECOVERY_SECONDS
    await _no_lost_writes(harness)


# --- Redis ------------------------------------------------------------------------------


async def test_redis_stopped_then_restarted(harness: Harness) -> None:
    await asyncio.to_thread(harness.servers.stop_redis)
    try:
        for round_number in range(3):
            outcomes = await harness.mixed_round(f"redis-down-{round_number}")
            assert_coded(outcomes)
            # Redis serves speed only on these paths: reads and writes still succeed.
            for outcome in outcomes:
                assert _ok(outcome[1]), _brief(outcome)
                assert outcome[2] < 2, _brief(outcome)
    finally:
        await asyncio.to_thread(harness.servers.start_redis)
    assert await harness.wait_serving() < RECOVERY_SECONDS
    await _no_lost_writes(harness)


async def test_redis_frozen_costs_little_then_recovers(harness: Harness) -> None:
    harness.servers.redis_signal(signal.SIGSTOP)
    try:
        started = time.monotonic()
        for round_number in range(3):
            outcomes = await harness.mixed_round(f"redis-frozen-{round_number}")
            assert_coded(outcomes)
            for outcome in outcomes:
                assert _ok(outcome[1]), _brief(outcome)
        # Three rounds: Redis timeouts are short and not paid again on every request.
        assert time.monotonic() - started < 6
    finally:
        harness.servers.redis_signal(signal.SIGCONT)
    assert await harness.wait_serving() < RECOVERY_SECONDS
    await _no_lost_writes(harness)


# --- a subscription through the faults ---------------------------------------------------


async def _publish(harness: Harness, token: str, title: str) -> str:
    from tests.test_subscriptions_multi import CREATE_ANNOUNCEMENT, PUBLISH_ANNOUNCEMENT

    created, _ = await harness.post(
        CREATE_ANNOUNCEMENT, {"input": announcement_input(title=title)}, token=token
    )
    announcement_id: str = created.json()["data"]["createAnnouncement"]["announcement"]["id"]
    published, _ = await harness.post(PUBLISH_ANNOUNCEMENT, {"id": announcement_id}, token=token)
    assert published.json()["data"]["publishAnnouncement"]["errors"] == [], published.text
    return announcement_id


async def test_a_subscription_survives_postgres_and_redis_faults(harness: Harness) -> None:
    """A subscriber on a real uvicorn instance keeps its subscription while PostgreSQL is
    stopped and restarted and Redis frozen and thawed, and gets the next events."""
    from tests.test_subscriptions_multi import (
        ANNOUNCEMENTS,
        instances,
        raw_client,
        receive,
        wait_ready,
        wait_subscriptions,
    )

    engine = create_async_engine(harness.servers.database_url)
    try:
        editor_id = await make_user(engine, role=Role.EDITOR)
    finally:
        await engine.dispose()
    editor = issue_access_token(
        harness.settings, user_id=editor_id, role=Role.EDITOR, now=datetime.now(UTC)
    ).token
    logs = harness.servers.root / "logs"
    logs.mkdir()
    servers = harness.servers
    with instances(harness.settings, servers.database_url, servers.redis.url, logs, count=1) as (
        instance,
    ):
        async with raw_client(instance, "graphql-transport-ws") as subscriber:
            message = {"id": "s", "type": "subscribe", "payload": {"query": ANNOUNCEMENTS}}
            await subscriber.send(orjson.dumps(message).decode())
            await asyncio.to_thread(wait_subscriptions, instance, 1)

            await asyncio.to_thread(servers.stop_postgres)
            await asyncio.sleep(0.5)
            await asyncio.to_thread(servers.start_postgres)
            await harness.wait_serving()
            first = await _publish(harness, editor, "After PostgreSQL came back")
            received = await receive(subscriber)
            assert received["type"] == "next", received
            assert received["payload"].get("data"), received
            assert received["payload"]["data"]["announcementPublished"]["id"] == first

            servers.redis_signal(signal.SIGSTOP)
            try:
                await asyncio.sleep(2)
            finally:
                servers.redis_signal(signal.SIGCONT)
            await asyncio.to_thread(wait_ready, instance)
            await harness.wait_serving()
            second = await _publish(harness, editor, "After Redis thawed")
            received = await receive(subscriber)
            assert received["type"] == "next", received
            assert received["payload"].get("data"), received
            assert received["payload"]["data"]["announcementPublished"]["id"] == second
    await _no_lost_writes(harness)
