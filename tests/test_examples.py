"""The client examples run against a real server (issue 15): what the README points people to
must keep working."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from graphql_api.core.config import Settings
from tests.auth_helpers import PASSWORD, REGISTER
from tests.factories import make_announcements
from tests.factories_portfolios import make_securities
from tests.test_subscriptions_multi import instances

REPO = Path(__file__).resolve().parents[1]
EMAIL = "example-client@example.com"
TYPESCRIPT = REPO / "examples" / "typescript"
NODE = shutil.which("node") is not None and shutil.which("npm") is not None


async def run(command: list[str], *, cwd: Path, env: dict[str, str] | None = None) -> str:
    done = await asyncio.to_thread(
        subprocess.run,
        command,
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, f"{command}: {done.stdout[-3000:]}{done.stderr[-3000:]}"
    return done.stdout


async def test_the_python_example_queries_mutates_and_subscribes(
    engine: AsyncEngine, settings: Settings, db_url: str, redis_url: str, tmp_path: Path
) -> None:
    await make_announcements(engine, 2)
    await make_securities(engine, 1, prices=[Decimal("12.50")])
    with instances(settings, db_url, redis_url, tmp_path, count=1) as (server,):
        account = {"email": EMAIL, "password": PASSWORD, "displayName": "Example"}
        async with httpx.AsyncClient(base_url=server.http) as http:
            registered = await http.post(
                "/graphql", json={"query": REGISTER, "variables": {"input": account}}
            )
        assert registered.json()["data"]["register"]["errors"] == []
        run = await asyncio.to_thread(
            subprocess.run,
            [
                sys.executable,
                str(REPO / "examples" / "python" / "client.py"),
                "--url",
                f"{server.http}/graphql",
                "--email",
                EMAIL,
                "--password",
                PASSWORD,
            ],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert run.returncode == 0, run.stderr + server.log()[-2000:]
    report = json.loads(run.stdout)
    assert sorted(report["announcements"]) == ["Call 0", "Call 1"]
    assert Decimal(report["portfolio"]["cashBalance"]) == Decimal("10000")
    holdings = report["update"]["holdings"]
    assert [h["security"]["symbol"] for h in holdings] == ["S0000"]
    # Bought at 12.50 plus the fee, once per trade the example placed.
    assert Decimal(holdings[0]["quantity"]) == report["trades"]
    assert Decimal(report["update"]["cashBalance"]) < Decimal("10000") - 12 * report["trades"]


@pytest.mark.skipif(not NODE, reason="Node.js and npm are needed for the TypeScript example")
async def test_the_typescript_example_is_typed_and_its_manifest_is_trusted(
    engine: AsyncEngine, settings: Settings, db_url: str, redis_url: str, tmp_path: Path
) -> None:
    """Codegen from the committed SDL gives typed documents and a manifest; the server in
    trusted-documents mode, after `graphql-api trust-documents`, runs the client's query."""
    npm = ["npm", "--no-audit", "--no-fund", "--loglevel=error"]
    await run([*npm, "ci"], cwd=TYPESCRIPT)
    generated = TYPESCRIPT / "src" / "gql" / "graphql.ts"
    # By introspection of a live server first, then from the committed SDL: the same types.
    (tmp_path / "open").mkdir()
    with instances(settings, db_url, redis_url, tmp_path / "open", 1) as (server,):
        live = {**os.environ, "GRAPHQL_SCHEMA": f"{server.http}/graphql"}
        await run([*npm, "run", "codegen"], cwd=TYPESCRIPT, env=live)
    introspected = generated.read_text()
    for script in ("codegen", "typecheck", "build"):
        await run([*npm, "run", script], cwd=TYPESCRIPT)
    assert generated.read_text() == introspected
    assert "closesAt: string | null" in introspected  # DateTime mapped to a string
    manifest = TYPESCRIPT / "src" / "gql" / "persisted-documents.json"
    assert all(key.startswith("sha256:") for key in json.loads(manifest.read_text()))

    await make_announcements(engine, 2)
    env = {
        **os.environ,
        "ENV": "test",
        "DATABASE_URL": db_url,
        "REDIS_URL": redis_url,
        "LOG_LEVEL": "WARNING",
    }
    trust = [sys.executable, "-m", "graphql_api.face.cli", "trust-documents", str(manifest)]
    await run(trust, cwd=REPO, env=env)
    trusted_only = {"TRUSTED_DOCUMENTS": "true"}
    with instances(settings, db_url, redis_url, tmp_path, 1, trusted_only) as (server,):
        async with httpx.AsyncClient(base_url=server.http) as http:
            other = await http.post("/graphql", json={"query": "{ __typename }"})
        assert other.status_code == 400  # not in the manifest: refused
        output = await run(["node", "build/index.js", f"{server.http}/graphql"], cwd=TYPESCRIPT)
    assert sorted(json.loads(output)["titles"]) == ["Call 0", "Call 1"]
