"""The client examples run against a real server (issue 15): what the README points people to
must keep working."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import httpx
from sqlalchemy.ext.asyncio import AsyncEngine

from graphql_api.core.config import Settings
from tests.auth_helpers import PASSWORD, REGISTER
from tests.factories import make_announcements
from tests.factories_portfolios import make_securities
from tests.test_subscriptions_multi import instances

REPO = Path(__file__).resolve().parents[1]
EMAIL = "example-client@example.com"


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
