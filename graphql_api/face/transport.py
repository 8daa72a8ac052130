"""HTTP transport concerns around every route (issue 14): body limit, CORS, gzip, JSON errors.

`ApiApp` hands /graphql straight to the view (no Starlette middleware stack on the hot
path), so the same layers are built twice from one description: `wrap_graphql` around the
view, `middleware` for Starlette's stack (health, unknown paths). Layers that are off are
not built at all, so a request pays only for what is configured:

- `BodyLimit` (always): a body larger than `MAX_BODY_BYTES` is refused with 413 as soon as
  Content-Length says so, or as soon as the bytes received pass the limit when the length
  is absent or lies, so the body is never held whole.
- CORS (`CORS_ALLOW_ORIGINS`, none by default): Starlette's CORSMiddleware, preflights
  answered for the allowed origins.
- gzip (`GZIP_MIN_BYTES`, 1 KiB by default, 0 off): `Gzip` for responses at least that
  large when the client accepts gzip, JSON and GraphiQL alike.

Errors Starlette itself answers (unknown path, method not allowed on a route, unhandled
exceptions) are in GraphQL's JSON shape with a code, like the view's own.
"""

from __future__ import annotations

import logging
import zlib
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import orjson
from starlette.datastructures import Headers
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from graphql_api.core.config import Settings
from graphql_api.core.errors import INTERNAL_MESSAGE, ErrorCode

log = logging.getLogger(__name__)

_JSON = "application/json"
# gzip costs CPU per response; level 1 keeps most of the saving on JSON for a fraction of it.
GZIP_LEVEL = 1
_BODY_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


def error_body(message: str, code: str) -> bytes:
    return orjson.dumps({"errors": [{"message": message, "extensions": {"code": code}}]})


def json_error(
    message: str, code: str, status: int, headers: Mapping[str, str] | None = None
) -> Response:
    return Response(error_body(message, code), status, headers=headers, media_type=_JSON)


class BodyTooLarge(Exception):
    """Raised by the limited `receive` once a body passes the limit (caught by BodyLimit)."""


def too_large(limit: int) -> Response:
    # No `connection: close`: closing with the body unread makes the kernel reset the
    # connection, and clients then lose the 413 itself. uvicorn discards the rest of an
    # answered request's body as it arrives, holding none of it.
    return json_error(
        f"The request body is larger than {limit} bytes.", ErrorCode.BAD_REQUEST.value, 413
    )


class BodyLimit:
    """Refuses request bodies over `max_bytes` with 413 before reading them whole."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in _BODY_METHODS:
            await self.app(scope, receive, send)
            return
        limit = self.max_bytes
        for name, value in scope["headers"]:
            if name == b"content-length":
                if not value.isdigit() or int(value) > limit:
                    # Nothing read yet: the client is told at once.
                    await too_large(limit)(scope, receive, send)
                    return
                break
        received = 0

        async def limited() -> Message:
            nonlocal received
            message = await receive()
            body = message.get("body")
            if body:
                received += len(body)
                if received > limit:
                    raise BodyTooLarge
            return message

        watched = StatusNote(send)
        try:
            await self.app(scope, limited, watched)
        except BodyTooLarge:
            # Nothing reads a body after answering.
            if watched.status is not None:  # pragma: no cover
                raise
            await too_large(limit)(scope, receive, send)


class StatusNote:
    """An ASGI `send` that passes messages on and remembers the response's status (None
    until the response starts): for the layers that act on how a request ended."""

    __slots__ = ("send", "status")

    def __init__(self, send: Send) -> None:
        self.send = send
        self.status: int | None = None

    async def __call__(self, message: Message) -> None:
        if message["type"] == "http.response.start":
            self.status = message["status"]
        await self.send(message)


class Cors(CORSMiddleware):
    """Starlette's CORS, with a refused preflight in GraphQL's JSON shape, not plain text."""

    def preflight_response(self, request_headers: Headers) -> Response:
        response = super().preflight_response(request_headers)
        if response.status_code == 200:
            return response
        headers = {
            name: value
            for name, value in response.headers.items()
            if name not in ("content-type", "content-length")
        }
        message = bytes(response.body).decode(errors="replace")
        return json_error(message, ErrorCode.BAD_REQUEST.value, response.status_code, headers)


class Gzip:
    """gzip for whole responses of at least `minimum_size` bytes when the client accepts it.

    Leaner than Starlette's GZipMiddleware (which costs ~7 us per request even when the
    client does not accept gzip): one scan of the raw headers decides, and only single-body
    responses (the view's JSON, GraphiQL's page) are compressed, in one zlib call. Streamed
    responses pass through as they are.
    """

    def __init__(self, app: ASGIApp, minimum_size: int, compresslevel: int = GZIP_LEVEL) -> None:
        self.app = app
        self.minimum_size = minimum_size
        self.level = compresslevel

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not _accepts_gzip(scope["headers"]):
            await self.app(scope, receive, send)
            return
        start: Message | None = None

        async def compressing(message: Message) -> None:
            nonlocal start
            kind = message["type"]
            if kind == "http.response.start":
                start = message
                return
            if kind != "http.response.body" or start is None:
                await send(message)
                return
            head, start = start, None
            body: bytes = message.get("body", b"")
            if (
                message.get("more_body")
                or len(body) < self.minimum_size
                or not _compressible(head["headers"])
            ):
                await send(head)
                await send(message)
                return
            compressor = zlib.compressobj(self.level, zlib.DEFLATED, 31)  # 31: gzip framing
            zipped = compressor.compress(body) + compressor.flush()
            headers = [
                (name, value)
                for name, value in head["headers"]
                if name not in (b"content-length", b"vary")
            ]
            headers += [
                (b"content-encoding", b"gzip"),
                (b"content-length", str(len(zipped)).encode()),
                (b"vary", b"Accept-Encoding"),
            ]
            await send({**head, "headers": headers})
            await send({"type": "http.response.body", "body": zipped})

        await self.app(scope, receive, compressing)


def _accepts_gzip(headers: list[tuple[bytes, bytes]]) -> bool:
    for name, value in headers:
        if name == b"accept-encoding":
            return b"gzip" in value.lower()
    return False


def _compressible(headers: list[tuple[bytes, bytes]]) -> bool:
    for name, value in headers:
        if name == b"content-encoding":
            return False
        if name == b"content-type" and not value.startswith((b"application/json", b"text/")):
            return False
    return True


def _layers(settings: Settings) -> list[tuple[Callable[..., ASGIApp], dict[str, Any]]]:
    """Outermost first: the body limit, then CORS (a preflight never reaches gzip), gzip."""
    layers: list[tuple[Callable[..., ASGIApp], dict[str, Any]]] = [
        (BodyLimit, {"max_bytes": settings.max_body_bytes})
    ]
    if settings.cors_allow_origins:
        layers.append(
            (
                Cors,
                {
                    "allow_origins": list(settings.cors_allow_origins),
                    "allow_methods": ["GET", "POST", "OPTIONS"],
                    "allow_headers": [
                        "authorization",
                        "content-type",
                        "x-api-key",
                        "x-request-id",
                        "x-cache-status",
                    ],
                    "expose_headers": [
                        "ratelimit-limit",
                        "ratelimit-remaining",
                        "ratelimit-reset",
                        "retry-after",
                        "etag",
                        "x-request-id",
                    ],
                    "max_age": 600,
                },
            )
        )
    if settings.gzip_min_bytes > 0:
        layers.append(
            (Gzip, {"minimum_size": settings.gzip_min_bytes, "compresslevel": GZIP_LEVEL})
        )
    return layers


def wrap_graphql(app: ASGIApp, settings: Settings) -> ASGIApp:
    """The /graphql fast path with the transport layers that are switched on."""
    for factory, options in reversed(_layers(settings)):
        app = factory(app, **options)
    return app


def middleware(settings: Settings) -> list[Middleware]:
    """The same layers for Starlette's stack (every other route)."""
    return [Middleware(factory, **options) for factory, options in _layers(settings)]


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    status = exc.status_code
    if status == 404:
        code = ErrorCode.NOT_FOUND.value
        message = f"Nothing is served at {request.url.path}; GraphQL is at /graphql."
    else:
        code = ErrorCode.BAD_REQUEST.value
        message = exc.detail or "Bad request."
    headers = dict(exc.headers or {})
    return json_error(message, code, status, headers)


async def _internal_error(request: Request, exc: Exception) -> Response:
    # ServerErrorMiddleware has logged nothing yet when a handler is set: log it here.
    log.error("unhandled error serving %s %s", request.method, request.url.path, exc_info=exc)
    return json_error(INTERNAL_MESSAGE, ErrorCode.INTERNAL_SERVER_ERROR.value, 500)


ExceptionHandler = Callable[[Request, Exception], Awaitable[Response]]

# Starlette's plain-text answers, in GraphQL's JSON shape (`exception_handlers=`).
EXCEPTION_HANDLERS: dict[Any, ExceptionHandler] = {
    HTTPException: _http_error,
    Exception: _internal_error,
}
