"""Logs (issue 13, R18): one JSON line per request; e-mails, passwords and tokens never
appear in any line, whatever logged them."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import httpx
import orjson
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from graphql_api.core.logging_setup import JsonFormatter
from tests.auth_helpers import LOGIN, ME, PASSWORD, REFRESH, bearer, login, make_account
from tests.graphql_client import gql


class Lines(logging.Handler):
    """Every record of every logger, formatted as production formats it."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.setFormatter(JsonFormatter())
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))


@pytest.fixture
def lines() -> Iterator[Lines]:
    handler = Lines()
    root = logging.getLogger()
    level = root.level
    root.addHandler(handler)
    # DEBUG: the request line then carries the (masked) variables too.
    root.setLevel(logging.DEBUG)
    try:
        yield handler
    finally:
        root.removeHandler(handler)
        root.setLevel(level)


async def test_no_secret_reaches_a_log_line(
    client: httpx.AsyncClient, engine: AsyncEngine, lines: Lines
) -> None:
    user_id, email = await make_account(engine)
    payload = await login(client, email)
    access, refresh = payload["accessToken"], payload["refreshToken"]
    wrong = await gql(client, LOGIN, {"input": {"email": email, "password": "wrong-" + PASSWORD}})
    assert wrong["data"]["login"]["errors"]
    me = await gql(client, ME, headers=bearer(access))
    assert me["data"]["me"]["email"] == email
    # A variable named `t`: no key gives it away, its shape does.
    rotated = await gql(client, REFRESH, {"t": refresh})
    assert rotated["data"]["refreshToken"]["refreshToken"]
    refused = await client.post(
        "/graphql", json={"query": ME}, headers=bearer(access[:-4] + "AAAA")
    )
    assert refused.status_code == 401

    assert lines.lines
    secrets = {
        "e-mail": email,
        "password": PASSWORD,
        "access token": access,
        "refresh token": refresh,
        "token's signature": access.rsplit(".", 1)[1],
    }
    for line in lines.lines:
        for what, secret in secrets.items():
            assert secret not in line, f"{what} in {line}"

    requests = [orjson.loads(line) for line in lines.lines if '"message":"request"' in line]
    assert len(requests) == 5  # one line per request, not per log call
    ok_login, failed_login, authenticated, refreshed, unauthenticated = requests
    assert refreshed["variables"] == {"t": "***"}
    assert ok_login["operation_type"] == "mutation"
    # A wrong password is a payload error (UserError), not a failed request.
    assert failed_login["outcome"] == "ok"
    # Logged at DEBUG, masked key by key.
    assert ok_login["variables"] == {"input": {"email": "***", "password": "***"}}
    assert authenticated["user_id"] == user_id
    assert authenticated["outcome"] == "ok"
    assert authenticated["sql"] is not None
    assert unauthenticated["outcome"] == "unauthenticated"
    for entry in requests:
        assert entry["request_id"]
        assert isinstance(entry["duration_ms"], float)
        assert "trace_id" in entry
        assert "email" not in entry


def test_the_formatter_masks_messages_extras_and_exceptions() -> None:
    logger = logging.getLogger("tests.masking")
    record = logger.makeRecord(
        logger.name,
        logging.WARNING,
        __file__,
        1,
        "sign-in failed for %s with Authorization: Bearer %s",
        ("someone@example.test", "abc.def-ghi_jkl"),
        None,
        extra={
            "variables": {"input": {"email": "x@example.test", "apiKey": "gak_abcdefgh_s3cr3t"}},
            "password": "hunter22",
            "note": "key gak_abcdefgh_s3cr3tvalue used",
        },
    )
    try:
        raise ValueError("no user someone@example.test")
    except ValueError:
        import sys

        record.exc_info = sys.exc_info()
    line = JsonFormatter().format(record)
    for secret in ("someone@example.test", "x@example.test", "abc.def-ghi_jkl", "hunter22",
                   "s3cr3t"):  # fmt: skip
        assert secret not in line
    entry = orjson.loads(line)
    assert entry["password"] == "***"
    assert entry["variables"] == {"input": {"email": "***", "apiKey": "***"}}
    assert "ValueError" in entry["exception"]


async def test_the_production_handler_gets_the_request_line_masked(
    client: httpx.AsyncClient, engine: AsyncEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    # configure_logging's handler alone: the request line takes the direct path
    # (logging_setup.write_json_line), which must mask like the formatter.
    import io

    from graphql_api.core.logging_setup import configure_logging

    root = logging.getLogger()
    saved_handlers, saved_level = root.handlers[:], root.level
    stream = io.StringIO()

    def not_this_way(*args: object, **kwargs: object) -> None:
        raise AssertionError("the request line took the logging.Logger path")

    monkeypatch.setattr(logging.getLogger("graphql_api.request"), "info", not_this_way)
    configure_logging("DEBUG", stream=stream)
    try:
        _, email = await make_account(engine)
        await gql(client, LOGIN, {"input": {"email": email, "password": PASSWORD}})
    finally:
        root.handlers[:] = saved_handlers
        root.setLevel(saved_level)
    lines = stream.getvalue().splitlines()
    requests = [orjson.loads(line) for line in lines if '"message":"request"' in line]
    assert len(requests) == 1
    assert requests[0]["variables"] == {"input": {"email": "***", "password": "***"}}
    assert requests[0]["logger"] == "graphql_api.request"
    assert requests[0]["ts"].endswith("+00:00")
    for line in lines:
        assert email not in line
        assert PASSWORD not in line
