"""Token attack suite: every forged, stale or malformed credential is UNAUTHENTICATED (R6).

Each attack is sent as `Authorization: Bearer <token>` on a query that would return data for
a real user (`me`); the answer must be HTTP 401 with code UNAUTHENTICATED and no `data` at
all, never a silent downgrade to anonymous.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import statistics
import time
import uuid
from collections.abc import Callable
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from sqlalchemy import delete
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.applications import Starlette

from graphql_api.core.config import Settings
from graphql_api.core.db.models import User
from graphql_api.core.ids import encode_id
from tests.auth_helpers import (
    LOGIN,
    ME,
    PASSWORD,
    SET_ROLE,
    audit_rows,
    bearer,
    login,
    make_account,
)
from tests.graphql_client import gql

ATTACKER_KEY = "attacker-secret-" + "y" * 40
_RSA = rsa.generate_private_key(public_exponent=65537, key_size=2048)
_RSA_PUBLIC_PEM = _RSA.public_key().public_bytes(
    serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
)
_RSA_PRIVATE_PEM = _RSA.private_bytes(
    serialization.Encoding.PEM,
    serialization.PrivateFormat.PKCS8,
    serialization.NoEncryption(),
)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unsigned(header: dict[str, Any], claims: dict[str, Any], signature: bytes = b"") -> str:
    head = _b64(json.dumps(header).encode())
    body = _b64(json.dumps(claims).encode())
    return f"{head}.{body}.{_b64(signature)}"


def _hmac_signed(header: dict[str, Any], claims: dict[str, Any], key: bytes) -> str:
    signing_input = _unsigned(header, claims).rsplit(".", 1)[0]
    signature = hmac.new(key, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{_b64(signature)}"


def _claims(settings: Settings, user_id: int, **overrides: Any) -> dict[str, Any]:
    now = int(time.time())
    claims: dict[str, Any] = {
        "sub": str(user_id),
        "role": "ADMIN",
        "iat": now,
        "nbf": now,
        "exp": now + 600,
        "jti": uuid.uuid4().hex,
        "iss": settings.jwt_issuer,
        "aud": settings.jwt_audience,
    }
    for key, value in overrides.items():
        if value is None:
            claims.pop(key, None)
        else:
            claims[key] = value
    return claims


def _good(settings: Settings, user_id: int, **overrides: Any) -> str:
    return jwt.encode(_claims(settings, user_id, **overrides), settings.jwt_secret, "HS256")


def _tampered(settings: Settings, user_id: int) -> str:
    head, _, signature = _good(settings, user_id, role="MEMBER").split(".")
    claims = _claims(settings, user_id, role="ADMIN")
    return f"{head}.{_b64(json.dumps(claims).encode())}.{signature}"


def _with_other_user(settings: Settings, user_id: int) -> str:
    # A valid signature over a payload whose `sub` was swapped after signing.
    head, body, signature = _good(settings, user_id).split(".")
    claims = json.loads(base64.urlsafe_b64decode(body + "=="))
    claims["sub"] = str(user_id + 1)
    return f"{head}.{_b64(json.dumps(claims).encode())}.{signature}"


Attack = Callable[[Settings, int], str]

ATTACKS: dict[str, Attack] = {
    "alg none": lambda s, u: _unsigned({"alg": "none", "typ": "JWT"}, _claims(s, u)),
    "alg None, signature kept": lambda s, u: (
        _unsigned({"alg": "None", "typ": "JWT"}, _claims(s, u)).rsplit(".", 1)[0]
        + "."
        + _good(s, u).rsplit(".", 1)[1]
    ),
    "HS256 with the wrong key": lambda s, u: jwt.encode(_claims(s, u), ATTACKER_KEY, "HS256"),
    "HS512 with the right key (not the configured algorithm)": lambda s, u: jwt.encode(
        _claims(s, u), s.jwt_secret, "HS512"
    ),
    "RS256 signed by an attacker key": lambda s, u: jwt.encode(
        _claims(s, u), _RSA_PRIVATE_PEM, "RS256"
    ),
    "RS/HS confusion: public key as HMAC secret": lambda s, u: _hmac_signed(
        {"alg": "HS256", "typ": "JWT"}, _claims(s, u), _RSA_PUBLIC_PEM
    ),
    "RS256 header over an HMAC signature": lambda s, u: _hmac_signed(
        {"alg": "RS256", "typ": "JWT"}, _claims(s, u), s.jwt_secret.encode()
    ),
    "expired": lambda s, u: _good(
        s, u, exp=int(time.time()) - 60, iat=int(time.time()) - 700, nbf=int(time.time()) - 700
    ),
    "not yet valid (nbf in the future)": lambda s, u: _good(s, u, nbf=int(time.time()) + 3600),
    "issued in the future": lambda s, u: _good(s, u, iat=int(time.time()) + 3600),
    "wrong iss": lambda s, u: _good(s, u, iss="someone-else"),
    "wrong aud": lambda s, u: _good(s, u, aud="another-api"),
    "missing exp": lambda s, u: _good(s, u, exp=None),
    "missing jti": lambda s, u: _good(s, u, jti=None),
    "missing nbf": lambda s, u: _good(s, u, nbf=None),
    "missing iss": lambda s, u: _good(s, u, iss=None),
    "missing aud": lambda s, u: _good(s, u, aud=None),
    "missing role": lambda s, u: _good(s, u, role=None),
    "numeric sub": lambda s, u: _good(s, u, sub=u),
    "non-numeric sub": lambda s, u: _good(s, u, sub="admin"),
    "unknown role": lambda s, u: _good(s, u, role="ROOT"),
    "tampered payload (role)": _tampered,
    "tampered payload (sub)": _with_other_user,
    "signature stripped": lambda s, u: _good(s, u).rsplit(".", 1)[0] + ".",
    "garbage": lambda s, u: "garbage",
    "three garbage segments": lambda s, u: "a.b.c",
    "oversized": lambda s, u: "a" * 10_000,
}


@pytest.fixture
async def victim(engine: AsyncEngine) -> int:
    user_id, _ = await make_account(engine)
    return user_id


async def _assert_rejected(
    client: httpx.AsyncClient, headers: dict[str, str], method: str = "POST"
) -> None:
    if method == "POST":
        response = await client.post("/graphql", json={"query": ME}, headers=headers)
    else:
        response = await client.get("/graphql", params={"query": ME}, headers=headers)
    assert response.status_code == 401, response.text
    body = response.json()
    assert set(body) == {"errors"}, body
    assert body["errors"][0]["extensions"] == {"code": "UNAUTHENTICATED"}
    assert response.headers["www-authenticate"].startswith("Bearer")


async def test_a_valid_token_is_accepted(
    app: Starlette, client: httpx.AsyncClient, victim: int
) -> None:
    # The control: the forging helpers make tokens the server would accept if unaltered.
    token = _good(app.state.settings, victim)
    body = await gql(client, ME, headers=bearer(token))
    assert body["data"]["me"]["role"] == "MEMBER"  # the database's role, not the claim's


@pytest.mark.filterwarnings("ignore::jwt.warnings.InsecureKeyLengthWarning")
@pytest.mark.parametrize("attack", list(ATTACKS), ids=list(ATTACKS))
async def test_forged_and_stale_access_tokens_are_unauthenticated(
    app: Starlette, client: httpx.AsyncClient, victim: int, attack: str
) -> None:
    token = ATTACKS[attack](app.state.settings, victim)
    await _assert_rejected(client, bearer(token))


@pytest.mark.parametrize(
    "authorization",
    ["Bearer", "Bearer ", "Basic dXNlcjpwYXNz", "Token abc", "bearer a b", "Bearer null"],
)
async def test_malformed_authorization_headers(
    client: httpx.AsyncClient, authorization: str
) -> None:
    await _assert_rejected(client, {"Authorization": authorization})


async def test_rejected_on_get_and_on_strawberrys_own_path(
    app: Starlette, client: httpx.AsyncClient, victim: int
) -> None:
    token = ATTACKS["HS256 with the wrong key"](app.state.settings, victim)
    await _assert_rejected(client, bearer(token), method="GET")
    # GraphiQL (a browser GET) goes through Strawberry's view: refused there too.
    response = await client.get("/graphql", headers={**bearer(token), "accept": "text/html"})
    assert response.status_code == 401


async def test_token_of_a_deleted_or_inactive_user(
    app: Starlette, client: httpx.AsyncClient, engine: AsyncEngine
) -> None:
    gone, _ = await make_account(engine)
    inactive, _ = await make_account(engine, active=False)
    tokens = [_good(app.state.settings, gone), _good(app.state.settings, inactive)]
    async with engine.begin() as conn:
        await conn.execute(delete(User).where(User.id == gone))
    for token in tokens:
        await _assert_rejected(client, bearer(token))


async def test_refresh_token_is_not_an_access_token(
    client: httpx.AsyncClient, engine: AsyncEngine
) -> None:
    _, email = await make_account(engine)
    payload = await login(client, email)
    await _assert_rejected(client, bearer(payload["refreshToken"]))


async def test_two_credentials_at_once_are_refused(
    app: Starlette, client: httpx.AsyncClient, victim: int
) -> None:
    token = _good(app.state.settings, victim)
    await _assert_rejected(client, {**bearer(token), "X-API-Key": "gak_abcdefgh_" + "x" * 43})
    response = await client.post(
        "/graphql",
        json={"query": ME},
        headers=[("authorization", f"Bearer {token}"), ("authorization", f"Bearer {token}")],
    )
    assert response.status_code == 401


async def test_bad_api_key_is_unauthenticated(client: httpx.AsyncClient) -> None:
    for key in ("nonsense", "gak_abcdefgh_" + "x" * 43):
        await _assert_rejected(client, {"X-API-Key": key})


async def test_no_credentials_is_anonymous(client: httpx.AsyncClient) -> None:
    for headers in ({}, {"Authorization": ""}, {"X-API-Key": ""}):
        assert await gql(client, ME, headers=headers) == {"data": {"me": None}}


async def test_rejected_mutation_writes_nothing(
    app: Starlette, client: httpx.AsyncClient, engine: AsyncEngine, victim: int
) -> None:
    forged = ATTACKS["HS256 with the wrong key"](app.state.settings, victim)
    response = await client.post(
        "/graphql",
        json={"query": SET_ROLE, "variables": {"id": encode_id("User", victim), "role": "ADMIN"}},
        headers=bearer(forged),
    )
    assert response.status_code == 401
    assert await audit_rows(engine, "user.role_changed") == []


async def test_login_timing_does_not_reveal_accounts(
    client: httpx.AsyncClient, engine: AsyncEngine
) -> None:
    """Unknown e-mail vs wrong password: the same work, so similar time (an oracle check,
    not a speed test: medians of interleaved attempts within a factor of two)."""
    _, email = await make_account(engine)

    async def attempt(address: str) -> float:
        started = time.perf_counter()
        body = await gql(
            client, LOGIN, {"input": {"email": address, "password": "not " + PASSWORD}}
        )
        elapsed = time.perf_counter() - started
        assert body["data"]["login"]["errors"][0]["code"] == "INVALID_CREDENTIALS"
        return elapsed

    await attempt(email)  # warm-up: the dummy hash is made on first use
    await attempt("warmup@example.com")
    unknown: list[float] = []
    wrong: list[float] = []
    for i in range(10):
        unknown.append(await attempt(f"nobody{i}@example.com"))
        wrong.append(await attempt(email))
    ratio = statistics.median(unknown) / statistics.median(wrong)
    print(
        f"login timing: unknown {statistics.median(unknown) * 1000:.1f} ms, "
        f"wrong password {statistics.median(wrong) * 1000:.1f} ms, ratio {ratio:.2f}"
    )
    assert 0.5 < ratio < 2.0
