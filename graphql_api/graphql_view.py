"""The Strawberry ASGI view: builds the typed context and encodes responses with orjson."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime
from typing import Any

import orjson
from cross_web import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Receive, Scope, Send
from starlette.websockets import WebSocket
from strawberry.asgi import GraphQL

from graphql_api.context import Context
from loaders import create_loaders

_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{8,64}$")


def request_id_of(request: Request | WebSocket) -> str:
    """The caller's X-Request-ID when it is well-formed (for log correlation), else a new one."""
    supplied = request.headers.get("x-request-id", "")
    return supplied if _REQUEST_ID.match(supplied) else uuid.uuid4().hex


class GraphQLView(GraphQL[Context, None]):
    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await super().__call__(scope, receive, send)
            return
        request = Request(scope=scope, receive=receive)
        try:
            response = await self.run(request)
        except HTTPException as exc:
            # Transport-level problems (bad JSON, wrong method) still answer in GraphQL's shape.
            body = {"errors": [{"message": exc.reason, "extensions": {"code": "BAD_REQUEST"}}]}
            response = Response(
                orjson.dumps(body), status_code=exc.status_code, media_type="application/json"
            )
        await response(scope, receive, send)

    async def get_context(
        self, request: Request | WebSocket, response: Response | WebSocket
    ) -> Context:
        state = request.app.state
        return Context(
            request=request,
            response=response,
            settings=state.settings,
            db=state.db,
            redis=state.redis,
            principal=await state.authenticate(request),
            loaders=create_loaders(state.db),
            request_id=request_id_of(request),
            now=datetime.now(UTC),
        )

    def decode_json(self, data: str | bytes) -> object:
        return orjson.loads(data)

    def encode_json(self, data: object) -> bytes:
        return orjson.dumps(data, default=_default)


def _default(value: Any) -> Any:
    raise TypeError(f"cannot encode {type(value).__name__}")
