"""The console for people (issue 15): readable, masked lines at a terminal, JSON elsewhere,
no library chatter at start-up, and one block once `graphql-api serve` listens."""

from __future__ import annotations

import io
import logging
import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
import orjson
import pytest

from graphql_api.core.config import Settings
from graphql_api.core.db.enums import Role
from graphql_api.core.logging_setup import (
    NOISY_AT_START,
    ConsoleFormatter,
    quiet_start_up,
    wants_json,
)
from graphql_api.devtools.embedded import free_port
from graphql_api.face.cli import _ready_block

REPO = Path(__file__).resolve().parents[1]


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_the_format_follows_log_format_and_the_terminal() -> None:
    assert wants_json("auto", io.StringIO()) is True  # a pipe, a file, a collector
    assert wants_json("auto", Terminal()) is False  # a person
    assert wants_json("json", Terminal()) is True
    assert wants_json("text", io.StringIO()) is False


def test_console_lines_are_readable_and_masked() -> None:
    record = logging.LogRecord("graphql_api.request", logging.INFO, "", 0, "request", (), None)
    record.operation = "Page"
    record.duration_ms = 3.5
    record.password = "hunter2-hunter2"
    record.variables = {"email": "someone@example.com", "first": 5}
    line = ConsoleFormatter().format(record)
    assert " INFO    graphql_api.request: request  operation=Page duration_ms=3.5" in line
    assert "hunter2" not in line
    assert "someone@example.com" not in line
    assert '"first":5' in line


def test_start_up_chatter_is_quieted() -> None:
    before = {name: logging.getLogger(name).level for name in NOISY_AT_START}
    try:
        quiet_start_up()
        for name in NOISY_AT_START:
            assert logging.getLogger(name).getEffectiveLevel() == logging.WARNING
    finally:
        for name, level in before.items():
            logging.getLogger(name).setLevel(level)


def test_the_ready_block_names_what_a_person_needs() -> None:
    block = _ready_block("127.0.0.1", 8000, Path("/data/home"), [("admin@example.com", Role.ADMIN)])
    assert "http://127.0.0.1:8000/graphql" in block
    assert "GraphiQL" in block
    assert "ws://127.0.0.1:8000/graphql" in block
    assert "/data/home" in block
    assert "ADMIN   admin@example.com" in block
    assert "demo-password" in block
    assert "Data" not in _ready_block("127.0.0.1", 8000, None, [])


@pytest.mark.parametrize("log_format", ["text", "json"])
def test_serve_prints_the_block_once_it_listens(
    settings: Settings, tmp_path: Path, log_format: str
) -> None:
    port = free_port()
    env = {
        **os.environ,
        "ENV": "test",
        "DATABASE_URL": settings.database_url or "",
        "REDIS_URL": settings.redis_url or "",
        "JWT_SECRET": settings.jwt_secret,
        "PORT": str(port),
        "LOG_FORMAT": log_format,
        "GRAPHQL_API_HOME": str(tmp_path),
    }
    log = tmp_path / "serve.log"
    with open(log, "wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "graphql_api.face.cli", "serve"],
            env=env,
            cwd=REPO,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + 60
        while "Press Ctrl-C to stop." not in log.read_text():
            assert process.poll() is None, log.read_text()
            assert time.monotonic() < deadline, log.read_text()
            time.sleep(0.1)
        # Printed after the bind: the server answers at once.
        assert httpx.get(f"http://127.0.0.1:{port}/health/live").status_code == 200
    finally:
        process.terminate()
        process.wait(timeout=20)
    output = log.read_text()
    assert f"graphql-api is ready on http://127.0.0.1:{port}" in output
    # No Alembic context lines, no uvicorn banner.
    assert "Context impl" not in output
    assert "Uvicorn running" not in output
    lines = [line for line in output.splitlines() if line.strip()]
    if log_format == "text":
        assert not any(line.startswith('{"ts"') for line in lines)
    else:  # a collector gets one JSON object per line, the ready block included
        records = [orjson.loads(line) for line in lines]
        assert any("is ready" in record["message"] for record in records)
