"""The typed per-request context every resolver receives as ``info.context``."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime

from redis.asyncio import Redis
from starlette.requests import Request
from starlette.responses import Response
from starlette.websockets import WebSocket

from graphql_api.core.actor import Actor
from graphql_api.core.auth.authenticate import PrincipalCache
from graphql_api.core.auth.principal import Principal
from graphql_api.core.auth.revocations import RevokedSessions
from graphql_api.core.broker import Broker
from graphql_api.core.config import Settings
from graphql_api.core.db.engine import Database
from loaders import Loaders

# Resolves the caller of a request or connection (app.state.authenticate; tests swap it).
Authenticate = Callable[[Request | WebSocket], Awaitable[Principal]]


@dataclass(slots=True)
class Context:
    request: Request | WebSocket
    response: Response | WebSocket | None
    settings: Settings
    db: Database
    redis: Redis
    principal: Principal
    loaders: Loaders
    request_id: str
    # One clock reading per request, so every row of a response agrees on "now".
    now: datetime
    # Process-wide services a resolver may need, so none reaches into `app.state`.
    broker: Broker
    authenticate: Authenticate
    principals: PrincipalCache
    revoked_sessions: RevokedSessions

    @property
    def client_ip(self) -> str | None:
        """The caller's address for the audit log (uvicorn resolves X-Forwarded-For from
        trusted proxies into `client`, see FORWARDED_ALLOW_IPS)."""
        client = self.request.client
        return client.host if client else None

    @property
    def actor(self) -> Actor:
        """The caller as services see it: principal, request id, client IP and clock."""
        return Actor(self.principal, self.request_id, self.client_ip, self.now)
