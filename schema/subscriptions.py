"""What every subscription operation shares (R17): its event stream, who it is for, and a
fresh resolution context per delivered event.

A domain's subscription field is an `async def` that validates its arguments and checks
access with `LiveOperation.open(...)` (errors there reach the client as the protocol's
`error` message, before any event), then returns an async generator running
`async with live:` around its event loop:

    async with live:
        while True:
            event = await live.next_event()
            principal = await live.begin_delivery()
            ...  # authorise and load for this subscriber, then
            yield row

Per delivery, `begin_delivery` gives the context fresh DataLoaders and a fresh clock, so
nothing cached for an earlier event is ever served for a later one; it checks the access
token's `exp`, and for private data (`portfolioUpdated`) re-authenticates the connection's
credential with the auth module's own `authenticate`, so a deactivated user, a changed role
or a revoked API key stop the operation with an UNAUTHENTICATED error before anything is
sent. Public events (published announcements and briefings) skip that per-delivery lookup
(1,000 members on one event would otherwise cost up to 1,000 user lookups at once) and rely
on the periodic re-check. Between events, a timer ends every operation when the access
token expires and re-checks the credential every `RECHECK_SECONDS` (+-20 %, so that
subscribers do not all re-check at once).

Sessions: an access token carries its session (refresh-token family) id; when the session is
revoked (logout, refresh-token reuse) every instance hears it (`core.auth.revocations`) and
closes the session's operations at once with UNAUTHENTICATED.

The context is the connection's, shared by its operations; swapping in fresh loaders for
one operation's event can only hand another operation's in-flight event loaders that were
created after that event arrived, never older ones.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from types import TracebackType
from typing import Final

from starlette.websockets import WebSocket

from graphql_api.core.auth.authenticate import bearer_token, credentials
from graphql_api.core.auth.principal import Principal
from graphql_api.core.auth.tokens import AccessClaims, decode_access_token
from graphql_api.core.broker import Broker, Event, StreamEnded, Subscription
from graphql_api.core.errors import Unauthenticated
from loaders.lazy import create_lazy_loaders
from schema.context import Context
from schema.types import Info

# Re-validate the connection's credential at least this often while no events arrive.
RECHECK_SECONDS: Final = 30.0


def _next_recheck() -> float:
    return time.monotonic() + RECHECK_SECONDS * random.uniform(0.8, 1.2)  # noqa: S311


TOKEN_EXPIRED: Final = "The access token expired; subscribe again with a fresh one."  # noqa: S105
CREDENTIAL_REJECTED: Final = (
    "The connection's credential is no longer valid; reconnect with a fresh one."
)


def _access_token(context: Context) -> AccessClaims | None:
    """The claims of the connection's bearer token; None without one."""
    request = context.request
    if not isinstance(request, WebSocket):
        return None
    authorization, _ = credentials(request)
    if authorization is None or not authorization.strip():
        return None
    return decode_access_token(context.settings, bearer_token(authorization))


class LiveOperation:
    """One subscription operation: a broker subscription plus its subscriber's identity."""

    def __init__(
        self,
        info: Info,
        topics: Iterable[str],
        *,
        key: int | None,
        expires_at: float | None,
        session: str | None = None,
    ) -> None:
        self.context: Context = info.context
        self._broker: Broker = self.context.broker
        self._topics = frozenset(topics)
        self._key = key
        self._expires_at = expires_at
        # The access token's session: its revocation ends the operation at once.
        self._session = session
        self._stop_watching: Callable[[], None] | None = None
        self._next_recheck = _next_recheck()
        self._subscription: Subscription | None = None

    @classmethod
    async def open(
        cls, info: Info, topics: Iterable[str], *, key: int | None = None
    ) -> LiveOperation:
        """Authenticate the subscriber now (UNAUTHENTICATED when its credential is no
        longer valid) and give the context fresh loaders for the access checks."""
        try:
            claims = _access_token(info.context)
        except Unauthenticated:
            raise Unauthenticated(CREDENTIAL_REJECTED) from None
        live = cls(
            info,
            topics,
            key=key,
            expires_at=None if claims is None else float(claims.expires_at),
            session=None if claims is None else claims.session,
        )
        await live.begin_delivery()
        return live

    @property
    def principal(self) -> Principal:
        return self.context.principal

    async def __aenter__(self) -> LiveOperation:
        subscription = self._broker.subscribe(self._topics, key=self._key)
        self._subscription = subscription
        self._broker.operation_started()
        if self._session is not None:
            revoked = self.context.revoked_sessions

            def end() -> None:
                subscription.close(Unauthenticated(CREDENTIAL_REJECTED))

            if revoked.is_revoked(self._session):
                end()
            else:
                self._stop_watching = revoked.watch(self._session, end)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> bool:
        if self._stop_watching is not None:
            self._stop_watching()
            self._stop_watching = None
        if self._subscription is not None:
            self._subscription.close()
            self._subscription = None
            self._broker.operation_ended()
        # The server completed the stream (shutdown): end the operation without an error.
        return exc_type is StreamEnded

    def _check_expiry(self) -> None:
        if self._expires_at is not None and time.time() >= self._expires_at:
            raise Unauthenticated(TOKEN_EXPIRED)

    async def _reauthenticate(self) -> Principal:
        self._check_expiry()
        request = self.context.request
        try:
            principal: Principal = await self.context.authenticate(request)
        except Unauthenticated:
            raise Unauthenticated(CREDENTIAL_REJECTED) from None
        self.context.principal = principal
        self._next_recheck = _next_recheck()
        return principal

    async def next_event(self) -> Event:
        """The next event for this operation.

        Raises UNAUTHENTICATED when the access token expires (or the credential is
        rejected at a periodic re-check) while waiting, and `StreamEnded` at shutdown.
        """
        event = await self.next_event_within(None)
        assert event is not None
        return event

    async def next_event_within(self, seconds: float | None) -> Event | None:
        """Like `next_event`, but None when `seconds` pass first (None: no limit)."""
        assert self._subscription is not None, "use `async with live:` first"
        deadline = None if seconds is None else time.monotonic() + seconds
        while True:
            self._check_expiry()
            now_mono = time.monotonic()
            if now_mono >= self._next_recheck:
                await self._reauthenticate()
                now_mono = time.monotonic()
            waits = [self._next_recheck - now_mono]
            if self._expires_at is not None:
                waits.append(self._expires_at - time.time())
            if deadline is not None:
                waits.append(deadline - now_mono)
            event = await self._subscription.get(max(0.0, min(waits)))
            if event is not None:
                return event
            if deadline is not None and time.monotonic() >= deadline:
                return None

    async def begin_delivery(self, *, reauthenticate: bool = True) -> Principal:
        """Fresh loaders and clock for one event; re-authenticates the subscriber first
        (unless `reauthenticate` is False: public data, see the module docstring)."""
        if reauthenticate:
            principal = await self._reauthenticate()
        else:
            self._check_expiry()
            principal = self.context.principal
        # Built on first use: a delivery pays only for the loaders its fields need.
        self.context.loaders = create_lazy_loaders(self.context.db)
        self.context.now = datetime.now(UTC)
        return principal
