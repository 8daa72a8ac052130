"""Persisted documents (issue 11): Apollo's APQ round trip over POST and GET, a wrong hash
refused, and the trusted-documents mode."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import os
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from redis.asyncio import Redis

from graphql_api.core.config import Settings
from graphql_api.face.persisted import sha256_hex, trust_documents

QUERY = "{ glossary(first: 2) { edges { node { term } } } }"
DIGEST = sha256_hex(QUERY)


def _apq(digest: str = DIGEST) -> dict[str, object]:
    return {"persistedQuery": {"version": 1, "sha256Hash": digest}}


async def test_apq_round_trip_over_post_and_get(client: httpx.AsyncClient) -> None:
    missing = await client.post("/graphql", json={"extensions": _apq()})
    assert missing.status_code == 200
    [error] = missing.json()["errors"]
    assert error["message"] == "PersistedQueryNotFound"
    assert error["extensions"]["code"] == "PERSISTED_QUERY_NOT_FOUND"

    registered = await client.post("/graphql", json={"query": QUERY, "extensions": _apq()})
    assert registered.status_code == 200
    data = registered.json()["data"]
    assert "glossary" in data

    by_hash = await client.post("/graphql", json={"extensions": _apq()})
    assert by_hash.json() == {"data": data}

    # Over GET with the hash alone (what a CDN caches by URL).
    params = {"extensions": json.dumps(_apq())}
    via_get = await client.get("/graphql", params=params)
    assert via_get.status_code == 200
    assert via_get.json() == {"data": data}


async def test_apq_refuses_a_hash_that_is_not_the_documents(client: httpx.AsyncClient) -> None:
    wrong = await client.post(
        "/graphql", json={"query": QUERY, "extensions": _apq(sha256_hex("{ __typename }"))}
    )
    assert wrong.status_code == 400
    assert wrong.json()["errors"][0]["extensions"]["code"] == "BAD_REQUEST"
    # Nothing was stored under the wrong hash.
    lookup = await client.post("/graphql", json={"extensions": _apq(sha256_hex("{ __typename }"))})
    assert lookup.json()["errors"][0]["extensions"]["code"] == "PERSISTED_QUERY_NOT_FOUND"
    unsupported = await client.post(
        "/graphql", json={"extensions": {"persistedQuery": {"version": 2, "sha256Hash": DIGEST}}}
    )
    assert unsupported.status_code == 400
    assert unsupported.json()["errors"][0]["extensions"]["code"] == "PERSISTED_QUERY_NOT_SUPPORTED"


@pytest.fixture
async def trusted(settings: Settings, redis_url: str) -> AsyncIterator[httpx.AsyncClient]:
    from graphql_api.face.app import create_app

    redis = Redis.from_url(redis_url)
    try:
        assert await trust_documents(redis, {DIGEST: QUERY}) == 1
        with pytest.raises(ValueError, match="does not hash"):
            await trust_documents(redis, {DIGEST: "{ __typename }"})
    finally:
        await redis.aclose()
    application = create_app(dataclasses.replace(settings, trusted_documents=True))
    async with application.router.lifespan_context(application):
        transport = httpx.ASGITransport(app=application)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
            yield http


async def test_trusted_documents_mode_runs_only_the_manifest(trusted: httpx.AsyncClient) -> None:
    unknown = await trusted.post("/graphql", json={"query": "{ __typename }"})
    assert unknown.status_code == 400
    assert unknown.json()["errors"][0]["extensions"]["code"] == "UNTRUSTED_DOCUMENT"
    listed = await trusted.post("/graphql", json={"query": QUERY})
    assert listed.status_code == 200
    assert "glossary" in listed.json()["data"]
    by_hash = await trusted.post("/graphql", json={"extensions": _apq()})
    assert by_hash.json() == listed.json()
    unknown_hash = await trusted.post(
        "/graphql", json={"extensions": _apq(sha256_hex("{ __typename }"))}
    )
    assert unknown_hash.json()["errors"][0]["extensions"]["code"] == "UNTRUSTED_DOCUMENT"


async def test_the_cli_loads_a_manifest_that_trusted_mode_then_serves(
    settings: Settings, tmp_path: Path
) -> None:
    from graphql_api.face.app import create_app

    manifest = tmp_path / "persisted-documents.json"
    manifest.write_text(json.dumps({DIGEST: QUERY}))
    env = {
        **os.environ,
        "ENV": "test",
        "DATABASE_URL": settings.database_url or "",
        "REDIS_URL": settings.redis_url or "",
        "LOG_LEVEL": "WARNING",
    }
    command = [sys.executable, "-m", "graphql_api.face.cli", "trust-documents", str(manifest)]
    done = await asyncio.to_thread(
        subprocess.run, command, capture_output=True, text=True, env=env, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr
    assert "Trusted 1 documents." in done.stderr

    bad = tmp_path / "tampered.json"
    bad.write_text(json.dumps({DIGEST: "{ __typename }"}))
    refused = await asyncio.to_thread(
        subprocess.run,
        [*command[:-1], str(bad)],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )
    assert refused.returncode != 0
    assert "does not hash to its document" in refused.stderr

    application = create_app(dataclasses.replace(settings, trusted_documents=True))
    async with application.router.lifespan_context(application):
        transport = httpx.ASGITransport(app=application)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
            served = await http.post("/graphql", json={"extensions": _apq()})
            assert "glossary" in served.json()["data"]
