"""GraphiQL (issue 15): a browser opening a shared /graphql?query= link gets GraphiQL with
that query, a program gets JSON; the assets fetched once from the npm registry make it work
with no network but the server."""

from __future__ import annotations

import asyncio
import dataclasses
import http.server
import io
import json
import os
import shutil
import ssl
import subprocess
import sys
import tarfile
import threading
from collections.abc import AsyncIterator, Iterator
from decimal import Decimal
from pathlib import Path
from urllib.parse import quote, urlsplit

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.applications import Starlette

from graphql_api.core.config import Settings
from graphql_api.face import graphiql
from tests.auth_helpers import PASSWORD, REGISTER
from tests.factories_portfolios import make_securities
from tests.test_subscriptions_multi import instances

CREATE_PORTFOLIO = """
mutation ($input: CreatePortfolioInput!) { createPortfolio(input: $input) { portfolio { id } } }
"""
TRADE = """
mutation ($input: PlaceTradeInput!) { placeTrade(input: $input) { errors { code message } } }
"""

HTML = {"accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"}
QUERY = "query Shared { __typename }"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
NODE = shutil.which("node") is not None and shutil.which("npm") is not None
BROWSER_CHECK = Path(__file__).resolve().parents[1] / "tools" / "browser-check"


@pytest.fixture(scope="module")
def fetched(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A GRAPHQL_API_HOME with the assets, fetched by the CLI from the npm registry."""
    home = tmp_path_factory.mktemp("graphiql-home")
    done = subprocess.run(
        [sys.executable, "-m", "graphql_api.face.cli", "graphiql", "fetch"],
        env={**os.environ, "GRAPHQL_API_HOME": str(home)},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "Fetched 6 GraphiQL assets" in done.stderr
    return home


@pytest.fixture
def settings(settings: Settings, tmp_path: Path) -> Settings:
    return dataclasses.replace(settings, graphiql=True, home=tmp_path / "empty-home")


@pytest.fixture
async def offline_app(settings: Settings, fetched: Path) -> AsyncIterator[Starlette]:
    from graphql_api.face.app import create_app

    application = create_app(dataclasses.replace(settings, home=fetched))
    async with application.router.lifespan_context(application):
        yield application


async def test_a_browser_gets_graphiql_with_the_shared_query(client: httpx.AsyncClient) -> None:
    response = await client.get(f"/graphql?query={quote(QUERY)}", headers=HTML)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    page = response.text
    assert "parameters.query" in page  # the page reads the link's query
    assert "query LatestAnnouncements" in page  # and has an example when there is none
    assert "Bearer <accessToken>" in page
    # Nothing fetched in this home: the CDN, with the pinned integrity hashes.
    for asset in graphiql.ASSETS:
        assert f'src="{asset.cdn_url}"' in page or f'href="{asset.cdn_url}"' in page
        assert asset.sri in page


async def test_a_program_gets_json_from_the_same_url(client: httpx.AsyncClient) -> None:
    response = await client.get(
        f"/graphql?query={quote(QUERY)}", headers={"accept": "application/json"}
    )
    assert response.status_code == 200
    assert response.json() == {"data": {"__typename": "Query"}}


async def test_without_graphiql_a_browser_gets_the_result(
    settings: Settings,
) -> None:
    from graphql_api.face.app import create_app

    application = create_app(dataclasses.replace(settings, graphiql=False))
    async with application.router.lifespan_context(application):
        transport = httpx.ASGITransport(app=application)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
            response = await http.get(f"/graphql?query={quote(QUERY)}", headers=HTML)
    assert response.json() == {"data": {"__typename": "Query"}}


async def test_fetched_assets_are_served_by_the_server(offline_app: Starlette) -> None:
    transport = httpx.ASGITransport(app=offline_app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        page = (await http.get("/graphql", headers=HTML)).text
        for asset in graphiql.ASSETS:
            assert f"{graphiql.ROUTE}/{asset.name}" in page
            assert graphiql.CDN not in page
            served = await http.get(f"{graphiql.ROUTE}/{asset.name}")
            assert served.status_code == 200
            graphiql.verify(served.content, asset.sri, asset.name)
            assert "immutable" in served.headers["cache-control"]
        missing = await http.get(f"{graphiql.ROUTE}/other.js")
    assert missing.status_code == 404
    assert missing.json()["errors"][0]["extensions"]["code"] == "NOT_FOUND"


@pytest.fixture
def tampering_registry() -> Iterator[str]:
    """A registry whose tarballs do not match the pinned hashes."""
    data = io.BytesIO()
    with tarfile.open(fileobj=data, mode="w:gz") as archive:
        content = b"alert('not react')"
        info = tarfile.TarInfo("package/umd/react.production.min.js")
        info.size = len(content)
        archive.addfile(info, io.BytesIO(content))
    body = data.getvalue()

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            return None

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()


def test_a_tampered_tarball_is_refused(tmp_path: Path, tampering_registry: str) -> None:
    with pytest.raises(graphiql.IntegrityError, match="sha512 does not match"):
        graphiql.fetch(tmp_path, registry=tampering_registry)
    assert not graphiql.local_assets(tmp_path)


async def render(url: str, profile: Path, *rules: str) -> str:
    """The DOM of `url` after its scripts ran, in headless Chromium; hosts resolve only by
    `rules` and to 127.0.0.1 (this machine has no other network anyway)."""
    assert CHROMIUM is not None
    done = await asyncio.to_thread(
        subprocess.run,
        [
            CHROMIUM,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--ignore-certificate-errors",
            f"--user-data-dir={profile}",
            "--host-resolver-rules=" + ", ".join([*rules, "MAP * ~NOTFOUND, EXCLUDE 127.0.0.1"]),
            "--virtual-time-budget=15000",
            "--dump-dom",
            url,
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


def assert_shows_the_shared_query(dom: str) -> None:
    assert "Loading GraphiQL..." not in dom, dom[-2000:]
    assert "graphiql-container" in dom
    # The query editor (the first CodeMirror) shows the link's query, in spans.
    editor = dom.split('class="CodeMirror-code"', 1)[1].split("</div></div></div>", 1)[0]
    assert "Shared" in editor
    assert "__typename" in editor
    assert "LatestAnnouncements" not in editor


@pytest.mark.skipif(CHROMIUM is None, reason="Chromium is needed to render the page")
async def test_graphiql_renders_the_shared_query_with_no_network_but_the_server(
    settings: Settings, fetched: Path, db_url: str, redis_url: str, tmp_path: Path
) -> None:
    extra = {"GRAPHIQL": "true", "GRAPHQL_API_HOME": str(fetched)}
    with instances(settings, db_url, redis_url, tmp_path, 1, extra) as (server,):
        url = f"{server.http}/graphql?query={quote(QUERY)}"
        dom = await render(url, tmp_path / "chromium")
    assert_shows_the_shared_query(dom)


@pytest.fixture
def cdn(fetched: Path, tmp_path: Path) -> Iterator[int]:
    """unpkg.com as the page asks it (HTTPS, CORS), serving the files `fetch` checked:
    this machine cannot reach the real CDN, so Chromium's resolver maps the host here."""
    key, cert = tmp_path / "cdn.key", tmp_path / "cdn.crt"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
         "-subj", "/CN=unpkg.com", "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True, timeout=60,
    )  # fmt: skip
    files = {
        urlsplit(asset.cdn_url).path: graphiql.assets_dir(fetched) / asset.name
        for asset in graphiql.ASSETS
    }
    served: list[str] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            path = files.get(self.path)
            served.append(self.path)
            if path is None:
                self.send_error(404)
                return
            body = path.read_bytes()
            self.send_response(200)
            kind = "text/css" if self.path.endswith(".css") else "application/javascript"
            self.send_header("content-type", kind)
            self.send_header("access-control-allow-origin", "*")
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            return None

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[1]
    finally:
        server.shutdown()
    assert sorted(served) == sorted(files), served  # every asset came from the "CDN"


@pytest.mark.skipif(
    CHROMIUM is None or shutil.which("openssl") is None,
    reason="Chromium and openssl are needed to render the page from a CDN",
)
async def test_graphiql_renders_the_shared_query_from_the_cdn(
    settings: Settings, cdn: int, db_url: str, redis_url: str, tmp_path: Path
) -> None:
    """Nothing fetched: the page's scripts come from unpkg.com with the pinned integrity
    hashes and CORS (a wrong hash or a missing `crossorigin` would leave it at Loading)."""
    empty = tmp_path / "home"
    extra = {"GRAPHIQL": "true", "GRAPHQL_API_HOME": str(empty)}
    with instances(settings, db_url, redis_url, tmp_path, 1, extra) as (server,):
        url = f"{server.http}/graphql?query={quote(QUERY)}"
        dom = await render(url, tmp_path / "chromium", f"MAP unpkg.com 127.0.0.1:{cdn}")
    assert_shows_the_shared_query(dom)


@pytest.mark.skipif(
    CHROMIUM is None or not NODE, reason="Chromium and Node.js are needed to drive GraphiQL"
)
async def test_a_signed_in_subscription_runs_from_graphiql(
    settings: Settings,
    fetched: Path,
    engine: AsyncEngine,
    db_url: str,
    redis_url: str,
    tmp_path: Path,
) -> None:
    """GraphiQL's run button on a subscription, with the token in the Headers tab: the
    update arrives over the WebSocket (the tab's headers are the connection_init payload)."""
    assert CHROMIUM is not None
    installed = await asyncio.to_thread(
        subprocess.run,
        ["npm", "ci", "--no-audit", "--no-fund", "--loglevel=error"],
        cwd=BROWSER_CHECK,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert installed.returncode == 0, installed.stderr
    await make_securities(engine, 1, prices=[Decimal("10")])
    extra = {"GRAPHIQL": "true", "GRAPHQL_API_HOME": str(fetched)}
    with instances(settings, db_url, redis_url, tmp_path, 1, extra) as (server,):
        async with httpx.AsyncClient(base_url=server.http, timeout=10) as http:
            account = {"email": "graphiql@example.com", "password": PASSWORD, "displayName": "G"}
            registered = await http.post(
                "/graphql", json={"query": REGISTER, "variables": {"input": account}}
            )
            token = registered.json()["data"]["register"]["accessToken"]
            auth = {"authorization": f"Bearer {token}"}
            created = await http.post(
                "/graphql",
                json={
                    "query": CREATE_PORTFOLIO,
                    "variables": {"input": {"name": "P", "initialCash": "1000"}},
                },
                headers=auth,
            )
            portfolio = created.json()["data"]["createPortfolio"]["portfolio"]["id"]
            subscription = (
                f'subscription Mine {{ portfolioUpdated(portfolioId: "{portfolio}") '
                "{ cashBalance } }"
            )
            url = f"{server.http}/graphql?query={quote(subscription)}"
            headers = json.dumps({"Authorization": f"Bearer {token}"})
            browser = await asyncio.create_subprocess_exec(
                "node",
                "run-subscription.mjs",
                url,
                "cashBalance",
                headers,
                cwd=BROWSER_CHECK,
                env={**os.environ, "CHROMIUM": CHROMIUM},
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.STDOUT,
            )
            assert browser.stdout is not None
            try:
                line = await asyncio.wait_for(browser.stdout.readline(), 60)
                assert line.decode().strip() == "subscribed", line
                trade = {
                    "portfolioId": portfolio,
                    "symbol": "S0000",
                    "side": "BUY",
                    "quantity": "1",
                }
                traded = await http.post(
                    "/graphql", json={"query": TRADE, "variables": {"input": trade}}, headers=auth
                )
                assert traded.json()["data"]["placeTrade"]["errors"] == []
                rest = await asyncio.wait_for(browser.stdout.read(), 60)
            finally:
                if browser.returncode is None:
                    browser.kill()
                await browser.wait()
    assert "received" in rest.decode(), rest.decode()
    assert browser.returncode == 0
