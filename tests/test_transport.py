"""HTTP transport hardening (issue 14): JSON errors on every method and path, the request
body limit, CORS and gzip, on the /graphql fast path and on Starlette's routes alike."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterator

import httpx
import pytest
from starlette.applications import Starlette

from graphql_api.core.config import ConfigError, Settings

PAGE = "{ announcements(first: 5) { edges { node { id title } } } }"


def _coded(response: httpx.Response, status: int, code: str) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    [error] = response.json()["errors"]
    assert error["extensions"]["code"] == code


@pytest.mark.parametrize("method", ["PUT", "DELETE", "PATCH", "OPTIONS"])
async def test_other_methods_on_graphql_are_json_405_with_allow(
    client: httpx.AsyncClient, method: str
) -> None:
    response = await client.request(method, "/graphql")
    _coded(response, 405, "BAD_REQUEST")
    assert response.headers["allow"] == "GET, POST"


@pytest.mark.parametrize("path", ["/nope", "/health", "/graphql/extra"])
async def test_unknown_paths_are_json_404(client: httpx.AsyncClient, path: str) -> None:
    _coded(await client.get(path), 404, "NOT_FOUND")
    _coded(await client.post(path, json={"query": "{ __typename }"}), 404, "NOT_FOUND")


async def test_wrong_method_on_a_starlette_route_is_json_405(client: httpx.AsyncClient) -> None:
    response = await client.post("/health/live")
    _coded(response, 405, "BAD_REQUEST")
    assert "GET" in response.headers["allow"]


MALFORMED = {
    "query": "query ($s: String) { glossary(search: $s) { totalCount } }",
    "variables": "{not json",
}


@pytest.mark.parametrize("accept", ["application/json", "*/*"])
async def test_malformed_get_variables_are_json_400(client: httpx.AsyncClient, accept: str) -> None:
    response = await client.get("/graphql", params=MALFORMED, headers={"accept": accept})
    _coded(response, 400, "BAD_REQUEST")


async def test_a_browser_gets_graphiql_to_fix_malformed_variables(
    client: httpx.AsyncClient,
) -> None:
    """A browser opening a link gets GraphiQL with it (issue 15), bad variables included."""
    response = await client.get("/graphql", params=MALFORMED, headers={"accept": "text/html"})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")


# --- request body limit -------------------------------------------------------------------


@pytest.fixture
async def small_body_app(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    from graphql_api.face.app import create_app

    application = create_app(dataclasses.replace(settings, max_body_bytes=4096))
    async with application.router.lifespan_context(application):
        transport = httpx.ASGITransport(app=application)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
            yield http


async def test_a_body_declared_too_large_is_413_before_it_is_read(
    small_body_app: httpx.AsyncClient,
) -> None:
    sent = 0

    async def body() -> AsyncIterator[bytes]:
        nonlocal sent
        for _ in range(100):
            sent += 1
            yield b" " * 1024

    response = await small_body_app.post(
        "/graphql",
        content=body(),
        headers={"content-type": "application/json", "content-length": str(100 * 1024)},
    )
    _coded(response, 413, "BAD_REQUEST")
    assert sent <= 1  # refused on the header, not after reading


@pytest.mark.parametrize("declared", [None, "100"], ids=["chunked", "lying length"])
async def test_a_streamed_body_is_refused_once_past_the_limit(
    small_body_app: httpx.AsyncClient, declared: str | None
) -> None:
    sent = 0

    async def body() -> AsyncIterator[bytes]:
        nonlocal sent
        for _ in range(1000):
            sent += 1
            yield b" " * 1024

    headers = {"content-type": "application/json"}
    if declared is not None:
        headers["content-length"] = declared
    response = await small_body_app.post("/graphql", content=body(), headers=headers)
    _coded(response, 413, "BAD_REQUEST")
    assert sent < 10  # stopped reading at the limit, not at the end


async def test_a_body_within_the_limit_runs(small_body_app: httpx.AsyncClient) -> None:
    response = await small_body_app.post("/graphql", json={"query": "{ __typename }"})
    assert response.json() == {"data": {"__typename": "Query"}}


# --- CORS and gzip ---------------------------------------------------------------------------

ORIGIN = "https://app.example.com"


@pytest.fixture
async def cors_app(settings: Settings) -> AsyncIterator[tuple[Starlette, httpx.AsyncClient]]:
    from graphql_api.face.app import create_app

    application = create_app(dataclasses.replace(settings, cors_allow_origins=(ORIGIN,)))
    async with application.router.lifespan_context(application):
        transport = httpx.ASGITransport(app=application)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
            yield application, http


async def test_a_preflight_from_an_allowed_origin_is_answered(
    cors_app: tuple[Starlette, httpx.AsyncClient],
) -> None:
    _, http = cors_app
    response = await http.options(
        "/graphql",
        headers={
            "origin": ORIGIN,
            "access-control-request-method": "POST",
            "access-control-request-headers": "content-type, authorization",
        },
    )
    assert response.status_code == 200
    assert response.headers["access-control-allow-origin"] == ORIGIN
    assert "POST" in response.headers["access-control-allow-methods"]
    assert "authorization" in response.headers["access-control-allow-headers"].lower()
    # The actual request carries the header too, and exposes the rate-limit headers.
    answered = await http.post("/graphql", json={"query": PAGE}, headers={"origin": ORIGIN})
    assert answered.headers["access-control-allow-origin"] == ORIGIN
    assert "ratelimit-remaining" in answered.headers["access-control-expose-headers"]


async def test_other_origins_get_no_cors_headers(
    cors_app: tuple[Starlette, httpx.AsyncClient], client: httpx.AsyncClient
) -> None:
    _, http = cors_app
    preflight = {"origin": "https://evil.example", "access-control-request-method": "POST"}
    refused = await http.options("/graphql", headers=preflight)
    _coded(refused, 400, "BAD_REQUEST")
    assert "access-control-allow-origin" not in refused.headers
    # CORS is off by default: a preflight is just a method /graphql does not serve.
    default = await client.options("/graphql", headers={**preflight, "origin": ORIGIN})
    _coded(default, 405, "BAD_REQUEST")
    assert "access-control-allow-origin" not in default.headers


async def test_cors_origins_setting() -> None:
    parsed = Settings.from_env({"CORS_ALLOW_ORIGINS": "https://a.example, https://b.example/"})
    assert parsed.cors_allow_origins == ("https://a.example", "https://b.example")
    assert Settings.from_env({}).cors_allow_origins == ()
    with pytest.raises(ConfigError):
        Settings.from_env({"CORS_ALLOW_ORIGINS": "a.example"})


async def test_large_json_and_graphiql_are_gzipped_when_accepted(client: httpx.AsyncClient) -> None:
    introspection = "{ __schema { types { name description fields { name description } } } }"
    raw = await client.post(
        "/graphql", json={"query": introspection}, headers={"accept-encoding": "identity"}
    )
    assert "content-encoding" not in raw.headers
    assert len(raw.content) > 1024
    zipped = await client.post(
        "/graphql", json={"query": introspection}, headers={"accept-encoding": "gzip"}
    )
    assert zipped.headers["content-encoding"] == "gzip"
    assert int(zipped.headers["content-length"]) < len(raw.content) / 3
    assert zipped.json() == raw.json()  # httpx decodes it
    page = await client.get("/graphql", headers={"accept": "text/html", "accept-encoding": "gzip"})
    assert page.status_code == 200
    assert page.headers["content-encoding"] == "gzip"
    assert b"graphiql" in page.content.lower()
    small = await client.post(
        "/graphql", json={"query": "{ __typename }"}, headers={"accept-encoding": "gzip"}
    )
    assert "content-encoding" not in small.headers


async def test_health_is_gzipped_too_when_large_enough(client: httpx.AsyncClient) -> None:
    # Starlette's routes go through the same layers (small answers stay plain).
    response = await client.get("/health/ready", headers={"accept-encoding": "gzip"})
    assert response.status_code in (200, 503)
    if len(response.content) < 1024:
        assert "content-encoding" not in response.headers


async def test_concurrent_oversized_bodies_do_not_block_others(
    small_body_app: httpx.AsyncClient,
) -> None:
    async def big() -> httpx.Response:
        async def body() -> AsyncIterator[bytes]:
            for _ in range(10_000):
                yield b"x" * 65536

        return await small_body_app.post(
            "/graphql", content=body(), headers={"content-type": "application/json"}
        )

    responses = await asyncio.gather(*(big() for _ in range(3)))
    assert [r.status_code for r in responses] == [413, 413, 413]
    served = await small_body_app.post("/graphql", json={"query": "{ __typename }"})
    assert served.status_code == 200
