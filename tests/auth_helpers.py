"""Shared by the authentication tests: documents, users with real passwords, token calls."""

from __future__ import annotations

import itertools
from typing import Any

import httpx
from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncEngine

from graphql_api.core.auth.passwords import hash_password
from graphql_api.core.db.enums import Role
from graphql_api.core.db.models import AuditLog, User
from tests.graphql_client import gql

PASSWORD = "correct horse battery"

_AUTH_FIELDS = """
  accessToken accessTokenExpiresAt refreshToken refreshTokenExpiresAt
  user { id displayName role }
  errors { field code message }
"""
REGISTER = "mutation ($input: RegisterInput!) { register(input: $input) {" + _AUTH_FIELDS + "} }"
LOGIN = "mutation ($input: LoginInput!) { login(input: $input) {" + _AUTH_FIELDS + "} }"
REFRESH = "mutation ($t: String!) { refreshToken(refreshToken: $t) {" + _AUTH_FIELDS + "} }"
LOGOUT = "mutation ($t: String!) { logout(refreshToken: $t) { loggedOut errors { field code } } }"
SET_ROLE = """
mutation ($id: ID!, $role: Role!) {
  setUserRole(userId: $id, role: $role) { user { id role } errors { field code message } }
}
"""
ME = "{ me { id email role } }"

_serial = itertools.count(1)


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def make_account(
    engine: AsyncEngine,
    *,
    role: Role = Role.MEMBER,
    password: str = PASSWORD,
    active: bool = True,
    email: str | None = None,
) -> tuple[int, str]:
    """A user with a real Argon2 hash of `password`; returns (id, e-mail)."""
    email = email or f"auth{next(_serial)}-{role.value.lower()}@example.test"
    row = {
        "email": email,
        "password_hash": await hash_password(password),
        "display_name": f"Auth {email.partition('@')[0]}",
        "role": role,
        "is_active": active,
    }
    async with engine.begin() as conn:
        user_id = int((await conn.execute(insert(User).returning(User.id), [row])).scalar_one())
    return user_id, email


async def login(client: httpx.AsyncClient, email: str, password: str = PASSWORD) -> dict[str, Any]:
    body = await gql(client, LOGIN, {"input": {"email": email, "password": password}})
    assert "errors" not in body, body
    payload: dict[str, Any] = body["data"]["login"]
    return payload


async def refresh(client: httpx.AsyncClient, token: str) -> dict[str, Any]:
    body = await gql(client, REFRESH, {"t": token})
    assert "errors" not in body, body
    payload: dict[str, Any] = body["data"]["refreshToken"]
    return payload


async def audit_rows(engine: AsyncEngine, action: str) -> list[AuditLog]:
    async with engine.connect() as conn:
        rows = (
            await conn.execute(
                select(AuditLog).where(AuditLog.action == action).order_by(AuditLog.id)
            )
        ).all()
    return list(rows)  # type: ignore[arg-type]  # SQLAlchemy types rows loosely
