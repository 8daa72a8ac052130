"""Who is calling: resolved once per HTTP request and once per WebSocket connection (R6, R7).

Credentials:
- HTTP: `Authorization: Bearer <access JWT>` for users, `X-API-Key: <key>` for services.
- WebSocket: the `connection_init` payload, `{"authorization": "Bearer ..."}` or
  `{"apiKey": "..."}` (keys matched case-insensitively; `x-api-key` works too), stored by the
  view as `websocket.state.connection_params`. With no credential in the payload, the
  handshake's headers are used (for non-browser clients that can set them).

No credential at all: ANONYMOUS. A credential that is present but bad (malformed, expired,
unknown, revoked, of an inactive user, or both kinds at once): `Unauthenticated`, never a
silent downgrade to anonymous.

The user's role and `is_active` come from the database, not from the token, so a role
change or a deactivation applies to tokens already issued. Looking the user up on every
request would cost a round trip, so each process keeps the answer for
`PRINCIPAL_CACHE_SECONDS` (5 s): a change takes effect within 5 seconds on every replica,
at once on the replica that made it (`Context.principals.forget`).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from typing import Any, Final

from sqlalchemy import select
from starlette.datastructures import State
from starlette.requests import HTTPConnection, Request
from starlette.websockets import WebSocket

from graphql_api.core.auth.principal import ANONYMOUS, Principal
from graphql_api.core.auth.revocations import RevokedSessions
from graphql_api.core.auth.tokens import INVALID_ACCESS_TOKEN, MAX_TOKEN_LENGTH, decode_access_token
from graphql_api.core.db.models import User
from graphql_api.core.errors import Unauthenticated

log = logging.getLogger(__name__)

PRINCIPAL_CACHE_SECONDS: Final = 5.0
PRINCIPAL_CACHE_SIZE: Final = 10_000

_AUTHORIZATION_KEYS: Final = frozenset({"authorization"})
_API_KEY_KEYS: Final = frozenset({"apikey", "api_key", "x-api-key"})


class PrincipalCache:
    """user id -> Principal (None: no such active user), each entry for `ttl_seconds`."""

    def __init__(
        self,
        ttl_seconds: float = PRINCIPAL_CACHE_SECONDS,
        *,
        max_entries: int = PRINCIPAL_CACHE_SIZE,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.ttl_seconds = ttl_seconds
        self.max_entries = max_entries
        self._clock = clock
        self._entries: dict[int, tuple[float, Principal | None]] = {}

    def get(self, user_id: int) -> tuple[bool, Principal | None]:
        """(found, principal); `found` is False when absent or expired."""
        entry = self._entries.get(user_id)
        if entry is None:
            return False, None
        if entry[0] <= self._clock():
            self._entries.pop(user_id, None)
            return False, None
        return True, entry[1]

    def put(self, user_id: int, principal: Principal | None) -> None:
        if self.ttl_seconds <= 0:
            return
        if len(self._entries) >= self.max_entries:
            # Oldest insertions first (dicts keep insertion order): drop a tenth at once.
            for key in list(self._entries)[: max(1, self.max_entries // 10)]:
                del self._entries[key]
        self._entries.pop(user_id, None)
        self._entries[user_id] = (self._clock() + self.ttl_seconds, principal)

    def forget(self, user_id: int) -> None:
        self._entries.pop(user_id, None)

    def clear(self) -> None:
        self._entries.clear()


def _single_header(connection: HTTPConnection, name: str) -> str | None:
    values = connection.headers.getlist(name)
    if not values:
        return None
    if len(values) > 1:
        raise Unauthenticated(f"Send one {name} header.")
    return values[0]


def _from_params(params: Mapping[str, Any]) -> tuple[str | None, str | None]:
    authorization: str | None = None
    api_key: str | None = None
    for key, value in params.items():
        name = key.lower() if isinstance(key, str) else ""
        if name in _AUTHORIZATION_KEYS or name in _API_KEY_KEYS:
            if not isinstance(value, str):
                raise Unauthenticated("Credentials in connection_init must be strings.")
            if name in _AUTHORIZATION_KEYS:
                authorization = value
            else:
                api_key = value
    return authorization, api_key


def credentials(connection: Request | WebSocket) -> tuple[str | None, str | None]:
    """(Authorization value, API key) presented by the caller, either possibly None."""
    if isinstance(connection, WebSocket):
        params = getattr(connection.state, "connection_params", None)
        if isinstance(params, Mapping):
            found = _from_params(params)
            if found != (None, None):
                return found
    return (
        _single_header(connection, "authorization"),
        _single_header(connection, "x-api-key"),
    )


def bearer_token(authorization: str) -> str:
    scheme, _, token = authorization.strip().partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token or " " in token:
        raise Unauthenticated("Use `Authorization: Bearer <access token>`.")
    if len(token) > MAX_TOKEN_LENGTH:
        raise Unauthenticated(INVALID_ACCESS_TOKEN)
    return token


async def _user_principal(state: State, user_id: int) -> Principal:
    cache = getattr(state, "principal_cache", None)
    if isinstance(cache, PrincipalCache):
        found, principal = cache.get(user_id)
        if found:
            if principal is None:
                raise Unauthenticated(INVALID_ACCESS_TOKEN)
            return principal
    async with state.db.read() as session:
        row = (
            await session.execute(select(User.role, User.is_active).where(User.id == user_id))
        ).first()
    principal = Principal(user_id=user_id, role=row.role) if row and row.is_active else None
    if isinstance(cache, PrincipalCache):
        cache.put(user_id, principal)
    if principal is None:
        log.info("access token of a missing or inactive user", extra={"user_id": user_id})
        raise Unauthenticated(INVALID_ACCESS_TOKEN)
    return principal


async def _service_principal(state: State, raw_key: str) -> Principal:
    try:
        from graphql_api.core.auth.api_keys import authenticate_api_key
    except ImportError:  # pragma: no cover - until API keys land (issue 4)
        raise Unauthenticated("API keys are not accepted.") from None
    principal: Principal = await authenticate_api_key(
        db=state.db, redis=state.redis, raw_key=raw_key
    )
    return principal


async def authenticate(request: Request | WebSocket) -> Principal:
    """The caller of this request or connection (see the module docstring)."""
    state = request.app.state
    # An empty value is no credential (some clients always send the header).
    authorization, api_key = (v if v and v.strip() else None for v in credentials(request))
    if authorization is not None and api_key is not None:
        raise Unauthenticated("Send either a bearer token or an API key, not both.")
    if api_key is not None:
        return await _service_principal(state, api_key)
    if authorization is None:
        return ANONYMOUS
    claims = decode_access_token(state.settings, bearer_token(authorization))
    revoked = getattr(state, "revoked_sessions", None)
    if isinstance(revoked, RevokedSessions) and revoked.is_revoked(claims.session):
        # Logged out, or its refresh token was reused: the session's tokens stop at once.
        raise Unauthenticated(INVALID_ACCESS_TOKEN)
    return await _user_principal(state, claims.user_id)
