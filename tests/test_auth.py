"""Sign-up, sign-in, refresh rotation, reuse detection, logout, roles (R6, R7, R9)."""

from __future__ import annotations

import asyncio
import logging

import httpx
import pytest
from argon2 import PasswordHasher
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.applications import Starlette

from graphql_api.core.auth.authenticate import PrincipalCache
from graphql_api.core.auth.masking import mask_email
from graphql_api.core.auth.tokens import decode_access_token, hash_refresh_token
from graphql_api.core.db.enums import Role
from graphql_api.core.db.models import RefreshToken, User
from graphql_api.core.ids import encode_id
from tests.auth_helpers import (
    LOGIN,
    LOGOUT,
    ME,
    PASSWORD,
    REFRESH,
    REGISTER,
    SET_ROLE,
    audit_rows,
    bearer,
    login,
    make_account,
    refresh,
)
from tests.graphql_client import error_codes, gql


async def _count(engine: AsyncEngine, model: type[User] | type[RefreshToken]) -> int:
    async with engine.connect() as conn:
        return int((await conn.execute(select(func.count()).select_from(model))).scalar_one())


async def _tokens(engine: AsyncEngine) -> list[RefreshToken]:
    async with engine.connect() as conn:
        rows = (await conn.execute(select(RefreshToken).order_by(RefreshToken.id))).all()
    return list(rows)  # type: ignore[arg-type]  # SQLAlchemy types rows loosely


def _codes(payload: dict[str, object]) -> list[str]:
    errors = payload["errors"]
    assert isinstance(errors, list)
    return [e["code"] for e in errors]


# --- register ---------------------------------------------------------------------------


async def test_register_signs_in_a_member(
    client: httpx.AsyncClient, engine: AsyncEngine, app: Starlette
) -> None:
    body = await gql(
        client,
        REGISTER,
        {"input": {"email": " New.User@Example.COM ", "password": PASSWORD, "displayName": "N"}},
    )
    payload = body["data"]["register"]
    assert payload["errors"] == []
    assert payload["user"]["role"] == "MEMBER"
    claims = decode_access_token(app.state.settings, payload["accessToken"])
    assert payload["user"]["id"] == encode_id("User", claims.user_id)
    assert claims.role == "MEMBER"
    me = await gql(client, ME, headers=bearer(payload["accessToken"]))
    assert me == {
        "data": {
            "me": {"id": payload["user"]["id"], "email": "new.user@example.com", "role": "MEMBER"}
        }
    }
    async with engine.connect() as conn:
        stored = (await conn.execute(select(User.password_hash))).scalar_one()
    assert stored.startswith("$argon2id$")
    assert PASSWORD not in stored
    [row] = await audit_rows(engine, "auth.register")
    assert row.actor_user_id == claims.user_id


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({"password": "short"}, [("input.password", "WEAK_PASSWORD")]),
        ({"password": "x" * 129}, [("input.password", "TOO_LONG")]),
        ({"password": " " * 12}, [("input.password", "REQUIRED")]),
        ({"email": "not-an-email"}, [("input.email", "INVALID_FORMAT")]),
        ({"displayName": "  "}, [("input.displayName", "REQUIRED")]),
        (
            {"email": "", "password": "123"},
            [("input.email", "REQUIRED"), ("input.password", "WEAK_PASSWORD")],
        ),
    ],
)
async def test_register_rejects_bad_input_and_writes_nothing(
    client: httpx.AsyncClient,
    engine: AsyncEngine,
    fields: dict[str, str],
    expected: list[tuple[str, str]],
) -> None:
    data = {"email": "someone@example.com", "password": PASSWORD, "displayName": "S", **fields}
    body = await gql(client, REGISTER, {"input": data})
    payload = body["data"]["register"]
    assert [(e["field"], e["code"]) for e in payload["errors"]] == expected
    assert payload["accessToken"] is None
    assert payload["refreshToken"] is None
    assert payload["user"] is None
    assert await _count(engine, User) == 0
    assert await _count(engine, RefreshToken) == 0


async def test_register_taken_email_case_insensitive(
    client: httpx.AsyncClient, engine: AsyncEngine
) -> None:
    await make_account(engine, email="taken@example.com")
    body = await gql(
        client,
        REGISTER,
        {"input": {"email": "TAKEN@example.com", "password": PASSWORD, "displayName": "T"}},
    )
    payload = body["data"]["register"]
    assert _codes(payload) == ["EMAIL_TAKEN"]
    assert payload["user"] is None
    assert await _count(engine, User) == 1
    assert await _count(engine, RefreshToken) == 0


async def test_concurrent_registrations_of_one_email_create_one_user(
    client: httpx.AsyncClient, engine: AsyncEngine
) -> None:
    variables = {"input": {"email": "race@example.com", "password": PASSWORD, "displayName": "R"}}
    bodies = await asyncio.gather(*(gql(client, REGISTER, variables) for _ in range(4)))
    outcomes = sorted(
        "ok" if b["data"]["register"]["accessToken"] else _codes(b["data"]["register"])[0]
        for b in bodies
    )
    assert outcomes == ["EMAIL_TAKEN", "EMAIL_TAKEN", "EMAIL_TAKEN", "ok"]
    assert await _count(engine, User) == 1


# --- login ------------------------------------------------------------------------------


async def test_login_success(
    client: httpx.AsyncClient, engine: AsyncEngine, app: Starlette
) -> None:
    user_id, email = await make_account(engine, role=Role.EDITOR)
    payload = await login(client, email.upper())
    assert payload["errors"] == []
    assert payload["user"]["role"] == "EDITOR"
    claims = decode_access_token(app.state.settings, payload["accessToken"])
    assert (claims.user_id, claims.role) == (user_id, "EDITOR")
    assert len(payload["refreshToken"]) >= 43
    me = await gql(client, ME, headers=bearer(payload["accessToken"]))
    assert me["data"]["me"]["email"] == email
    [row] = await audit_rows(engine, "auth.login")
    assert row.success is True
    assert row.actor_user_id == user_id
    assert row.details == {"email": mask_email(email)}
    async with engine.connect() as conn:
        last_login = (
            await conn.execute(select(User.last_login_at).where(User.id == user_id))
        ).scalar_one()
    assert last_login is not None
    # Only the hash of the refresh token is stored.
    [token] = await _tokens(engine)
    assert token.token_hash == hash_refresh_token(payload["refreshToken"])
    assert payload["refreshToken"] not in token.token_hash


async def test_login_failures_are_indistinguishable_and_audited(
    client: httpx.AsyncClient, engine: AsyncEngine
) -> None:
    _, email = await make_account(engine)
    _, inactive = await make_account(engine, active=False)
    seen = []
    for address, password in (
        (email, "wrong password!"),
        ("nobody@example.com", PASSWORD),
        (inactive, PASSWORD),
    ):
        body = await gql(client, LOGIN, {"input": {"email": address, "password": password}})
        payload = body["data"]["login"]
        assert payload["accessToken"] is None
        assert payload["user"] is None
        seen.append(payload["errors"])
    assert seen[0] == seen[1] == seen[2]
    assert [e["code"] for e in seen[0]] == ["INVALID_CREDENTIALS"]
    assert seen[0][0]["field"] is None
    rows = await audit_rows(engine, "auth.login")
    assert [r.success for r in rows] == [False, False, False]
    assert [r.details["reason"] for r in rows] == ["wrong_password", "unknown_email", "inactive"]
    assert rows[1].details["email"] == "n***@example.com"
    for row in rows:
        assert PASSWORD not in str(row.details)
        assert email not in str(row.details)
        assert inactive not in str(row.details)
    assert await _count(engine, RefreshToken) == 0


async def test_login_with_seed_placeholder_hash_fails(
    client: httpx.AsyncClient, engine: AsyncEngine
) -> None:
    _, email = await make_account(engine)
    async with engine.begin() as conn:
        await conn.execute(update(User).values(password_hash="!"))
    body = await gql(client, LOGIN, {"input": {"email": email, "password": PASSWORD}})
    assert _codes(body["data"]["login"]) == ["INVALID_CREDENTIALS"]


async def test_login_rehashes_outdated_hash(client: httpx.AsyncClient, engine: AsyncEngine) -> None:
    user_id, email = await make_account(engine)
    old_hash = PasswordHasher(time_cost=1, memory_cost=8192, parallelism=1).hash(PASSWORD)
    async with engine.begin() as conn:
        await conn.execute(update(User).values(password_hash=old_hash))
    await login(client, email)
    async with engine.connect() as conn:
        new_hash = (
            await conn.execute(select(User.password_hash).where(User.id == user_id))
        ).scalar_one()
    assert new_hash != old_hash
    assert new_hash.startswith("$argon2id$v=19$m=19456,t=2,p=1$")
    await login(client, email)  # still the same password


# --- refresh ----------------------------------------------------------------------------


async def test_refresh_rotates(client: httpx.AsyncClient, engine: AsyncEngine) -> None:
    user_id, email = await make_account(engine)
    first = await login(client, email)
    second = await refresh(client, first["refreshToken"])
    assert second["errors"] == []
    assert second["refreshToken"] != first["refreshToken"]
    assert second["accessToken"] != first["accessToken"]
    assert second["user"]["id"] == encode_id("User", user_id)
    me = await gql(client, ME, headers=bearer(second["accessToken"]))
    assert me["data"]["me"]["id"] == encode_id("User", user_id)
    third = await refresh(client, second["refreshToken"])
    assert third["errors"] == []
    tokens = await _tokens(engine)
    assert len(tokens) == 3
    assert len({t.family_id for t in tokens}) == 1
    assert [t.parent_id for t in tokens] == [None, tokens[0].id, tokens[1].id]
    assert [t.used_at is not None for t in tokens] == [True, True, False]
    assert all(t.revoked_at is None for t in tokens)


async def test_reused_refresh_token_revokes_the_family(
    client: httpx.AsyncClient, engine: AsyncEngine
) -> None:
    user_id, email = await make_account(engine)
    first = await login(client, email)
    other_session = await login(client, email)  # another device: a separate family
    second = await refresh(client, first["refreshToken"])
    # The rotated token is presented again (stolen copy): rejected, family revoked.
    reused = await refresh(client, first["refreshToken"])
    assert _codes(reused) == ["INVALID_TOKEN"]
    assert reused["accessToken"] is None
    # ... so the newer token of the same family is dead too.
    newer = await refresh(client, second["refreshToken"])
    assert _codes(newer) == ["INVALID_TOKEN"]
    # The other device's session is untouched.
    assert (await refresh(client, other_session["refreshToken"]))["errors"] == []
    # One reuse (the stolen copy); the newer token was revoked, not reused.
    rows = await audit_rows(engine, "auth.refresh_reuse")
    assert len(rows) == 1
    assert rows[0].actor_user_id == user_id
    assert rows[0].success is False
    assert rows[0].details == {"revoked_tokens": 2}
    tokens = await _tokens(engine)
    reused_family = str(tokens[0].family_id)
    assert rows[0].target_type == "RefreshTokenFamily"
    assert rows[0].target_id == reused_family
    for token in tokens:
        if str(token.family_id) == reused_family:
            assert token.revoked_reason == "reuse"
        else:
            assert token.revoked_at is None


async def test_concurrent_refreshes_of_one_token_do_not_both_succeed(
    client: httpx.AsyncClient, engine: AsyncEngine
) -> None:
    _, email = await make_account(engine)
    token = (await login(client, email))["refreshToken"]
    results = await asyncio.gather(*(refresh(client, token) for _ in range(5)))
    winners = [r for r in results if r["errors"] == []]
    assert len(winners) == 1
    assert all(_codes(r) == ["INVALID_TOKEN"] for r in results if r not in winners)
    # Every loser is a reuse: the family is revoked, the winner's new token included.
    for winner in winners:
        assert _codes(await refresh(client, winner["refreshToken"])) == ["INVALID_TOKEN"]
    assert await audit_rows(engine, "auth.refresh_reuse")


async def test_expired_revoked_and_unknown_refresh_tokens(
    client: httpx.AsyncClient, engine: AsyncEngine
) -> None:
    user_id, email = await make_account(engine)
    expired = (await login(client, email))["refreshToken"]
    async with engine.begin() as conn:
        await conn.execute(
            update(RefreshToken).values(expires_at=func.now() - func.make_interval(0, 0, 0, 1))
        )
    for token in (
        expired,
        "",
        "x" * 5000,
        "not-a-token",
        (await login(client, email))["accessToken"],
    ):
        assert _codes(await refresh(client, token)) == ["INVALID_TOKEN"]
    # A deactivated user's refresh token stops working.
    live = (await login(client, email))["refreshToken"]
    async with engine.begin() as conn:
        await conn.execute(update(User).where(User.id == user_id).values(is_active=False))
    assert _codes(await refresh(client, live)) == ["INVALID_TOKEN"]
    assert await audit_rows(engine, "auth.refresh_reuse") == []


# --- logout -----------------------------------------------------------------------------


async def test_logout_revokes_the_family(client: httpx.AsyncClient, engine: AsyncEngine) -> None:
    _, email = await make_account(engine)
    first = await login(client, email)
    second = await refresh(client, first["refreshToken"])
    body = await gql(client, LOGOUT, {"t": second["refreshToken"]})
    assert body == {"data": {"logout": {"loggedOut": True, "errors": []}}}
    assert _codes(await refresh(client, second["refreshToken"])) == ["INVALID_TOKEN"]
    assert all(t.revoked_reason == "logout" for t in await _tokens(engine))
    [row] = await audit_rows(engine, "auth.logout")
    assert row.details == {"revoked_tokens": 2}
    # Logging out again is harmless; an unknown token is an error.
    assert (await gql(client, LOGOUT, {"t": second["refreshToken"]}))["data"]["logout"]["loggedOut"]
    unknown = await gql(client, LOGOUT, {"t": "unknown-token"})
    assert unknown == {
        "data": {
            "logout": {
                "loggedOut": None,
                "errors": [{"field": "refreshToken", "code": "INVALID_TOKEN"}],
            }
        }
    }


# --- roles ------------------------------------------------------------------------------


async def test_admin_sets_a_role_and_it_applies_at_once(
    client: httpx.AsyncClient, engine: AsyncEngine
) -> None:
    admin_id, admin_email = await make_account(engine, role=Role.ADMIN)
    member_id, member_email = await make_account(engine)
    admin = await login(client, admin_email)
    member = await login(client, member_email)
    member_gid = encode_id("User", member_id)
    assert (await gql(client, ME, headers=bearer(member["accessToken"])))["data"]["me"][
        "role"
    ] == "MEMBER"

    body = await gql(
        client, SET_ROLE, {"id": member_gid, "role": "EDITOR"}, headers=bearer(admin["accessToken"])
    )
    assert body == {
        "data": {"setUserRole": {"user": {"id": member_gid, "role": "EDITOR"}, "errors": []}}
    }
    # The member's existing token (its `role` claim says MEMBER) now acts as an editor.
    me = await gql(client, ME, headers=bearer(member["accessToken"]))
    assert me["data"]["me"]["role"] == "EDITOR"
    [row] = await audit_rows(engine, "user.role_changed")
    assert row.actor_user_id == admin_id
    assert (row.target_type, row.target_id) == ("User", str(member_id))
    assert row.details == {"old_role": "MEMBER", "new_role": "EDITOR"}

    # No change, no audit row.
    await gql(
        client, SET_ROLE, {"id": member_gid, "role": "EDITOR"}, headers=bearer(admin["accessToken"])
    )
    assert len(await audit_rows(engine, "user.role_changed")) == 1


async def test_set_user_role_is_for_admins_only(
    client: httpx.AsyncClient, engine: AsyncEngine
) -> None:
    target_id, _ = await make_account(engine)
    gid = encode_id("User", target_id)
    callers: list[dict[str, str]] = [{}]
    for role in (Role.MEMBER, Role.EDITOR):
        _, email = await make_account(engine, role=role)
        callers.append(bearer((await login(client, email))["accessToken"]))
    for headers in callers:
        body = await gql(client, SET_ROLE, {"id": gid, "role": "ADMIN"}, headers=headers)
        assert error_codes(body) == ["FORBIDDEN"], body
        assert body["errors"][0]["path"] == ["setUserRole"]
        assert body["data"] is None
    async with engine.connect() as conn:
        role = (await conn.execute(select(User.role).where(User.id == target_id))).scalar_one()
    assert role is Role.MEMBER
    assert await audit_rows(engine, "user.role_changed") == []


async def test_set_user_role_errors(client: httpx.AsyncClient, engine: AsyncEngine) -> None:
    admin_id, admin_email = await make_account(engine, role=Role.ADMIN)
    headers = bearer((await login(client, admin_email))["accessToken"])
    cases = [
        (encode_id("User", admin_id), "userId", "INVALID_VALUE"),  # own role
        (encode_id("User", 987654), "userId", "NOT_FOUND"),
        (encode_id("Portfolio", admin_id), "userId", "NOT_FOUND"),
        ("%%%", "userId", "INVALID_FORMAT"),
    ]
    for gid, field, code in cases:
        body = await gql(client, SET_ROLE, {"id": gid, "role": "MEMBER"}, headers=headers)
        payload = body["data"]["setUserRole"]
        assert payload["user"] is None
        assert [(e["field"], e["code"]) for e in payload["errors"]] == [(field, code)]
    assert await audit_rows(engine, "user.role_changed") == []


async def test_deactivation_applies_within_the_cache_window(
    client: httpx.AsyncClient, engine: AsyncEngine, app: Starlette
) -> None:
    clock = [1000.0]
    app.state.principal_cache = PrincipalCache(5.0, clock=lambda: clock[0])
    user_id, email = await make_account(engine)
    headers = bearer((await login(client, email))["accessToken"])
    assert (await gql(client, ME, headers=headers))["data"]["me"] is not None
    async with engine.begin() as conn:
        await conn.execute(update(User).where(User.id == user_id).values(is_active=False))
    clock[0] += 4.9  # still cached
    assert (await gql(client, ME, headers=headers))["data"]["me"] is not None
    clock[0] += 0.2  # past 5 s: looked up again
    body = await gql(client, ME, headers=headers, expect_status=401)
    assert error_codes(body) == ["UNAUTHENTICATED"]
    assert "data" not in body


# --- secrets stay out of the logs -------------------------------------------------------


async def test_secrets_are_never_logged(
    client: httpx.AsyncClient, engine: AsyncEngine, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    _, email = await make_account(engine)
    registered = (
        await gql(
            client,
            REGISTER,
            {"input": {"email": "fresh@example.com", "password": PASSWORD, "displayName": "F"}},
        )
    )["data"]["register"]
    await gql(client, LOGIN, {"input": {"email": email, "password": "wrong password!"}})
    first = await login(client, email)
    second = await refresh(client, first["refreshToken"])
    await gql(client, REFRESH, {"t": first["refreshToken"]})  # reuse
    await gql(client, LOGOUT, {"t": registered["refreshToken"]})
    bad = first["accessToken"][:-4] + "AAAA"
    await gql(client, ME, headers=bearer(bad), expect_status=401)
    await gql(client, ME, headers={"X-API-Key": "gak_notakey_" + "x" * 43}, expect_status=401)
    logged = caplog.text + " ".join(str(r.__dict__) for r in caplog.records)
    secrets = [
        PASSWORD,
        "wrong password!",
        registered["accessToken"],
        registered["refreshToken"],
        first["accessToken"],
        first["refreshToken"],
        second["refreshToken"],
        bad,
        "x" * 43,
        email,
        "fresh@example.com",
    ]
    assert caplog.records, "expected some log records (rejections are logged)"
    for secret in secrets:
        assert secret not in logged
