"""The HTTP server span of each request (R18, issue 13), sampling decided first.

Why not opentelemetry-instrumentation-asgi: it builds every attribute (and its metrics'
attributes) before the sampler decides, about 60 us of CPU per request even when the
request is not sampled, 8 % of this server's 0.7 ms per announcements page. Here the
sampler decides on an attribute-less span; unsampled requests then only carry their
(non-recording) span in the context, for the trace id in the log line, and run with
instrumentation suppressed, so the asyncpg and Redis instrumentations (and ours) return at
their first check. Sampled requests get the semantic-convention attributes.

Only HTTP: a WebSocket connection lives for minutes and is not one request.
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from contextvars import Token
from dataclasses import dataclass

from opentelemetry import context, propagate
from opentelemetry.context import Context
from opentelemetry.instrumentation.utils import suppress_instrumentation
from opentelemetry.trace import Span, SpanKind, Status, StatusCode, Tracer, set_span_in_context
from starlette.types import ASGIApp, Receive, Scope, Send

from graphql_api.face.transport import StatusNote


@dataclass(slots=True)
class Opened:
    """A request's server span, current until `ServerSpan.close`."""

    span: Span
    token: Token[Context]
    suppressing: AbstractContextManager[None] | None = None


class ServerSpan:
    """The server span of each HTTP request: `open`/`close` for the /graphql observer (one
    layer there, face/observe.py), or this as a middleware for the other routes."""

    def __init__(self, app: ASGIApp | None, tracer: Tracer) -> None:
        self.app = app
        self.tracer = tracer
        # traceparent, tracestate, baggage (whatever OTEL_PROPAGATORS configured).
        self._fields = frozenset(f.encode() for f in propagate.get_global_textmap().fields)
        # The context of an unsampled request without a caller's context, less its span:
        # made once, so such a request attaches one context instead of two.
        self._empty = context.Context()
        token = context.attach(self._empty)
        try:
            with suppress_instrumentation():
                self._suppressed = context.get_current()
        finally:
            context.detach(token)

    def open(self, scope: Scope) -> Opened:
        """Start the request's span (the sampler decides first) and make it current; an
        unsampled request runs with the instrumentations suppressed."""
        carrier: dict[str, str] | None = None
        for key, value in scope["headers"]:
            if key in self._fields:
                carrier = carrier or {}
                carrier[key.decode("latin-1")] = value.decode("latin-1")
        # Without a caller's context the span is a root: an empty context spares the tracer
        # and the sampler looking up the current one.
        parent = propagate.extract(carrier) if carrier else self._empty
        span = self.tracer.start_span(f"{scope['method']} {scope['path']}", parent, SpanKind.SERVER)
        if span.is_recording():
            client = scope.get("client")
            span.set_attributes(
                {
                    "http.request.method": scope["method"],
                    "url.path": scope["path"],
                    "url.scheme": scope.get("scheme", "http"),
                    "http.route": scope["path"],
                    "network.protocol.version": scope.get("http_version", "1.1"),
                    **({"client.address": client[0]} if client else {}),
                }
            )
            return Opened(span, context.attach(set_span_in_context(span, parent)))
        if carrier is None:
            return Opened(span, context.attach(set_span_in_context(span, self._suppressed)))
        opened = Opened(span, context.attach(set_span_in_context(span, parent)))
        opened.suppressing = suppress_instrumentation()
        opened.suppressing.__enter__()
        return opened

    def close(self, opened: Opened, status: int | None, error: BaseException | None) -> None:
        """End the span with the response's status (or the error), and leave its context."""
        if opened.suppressing is not None:
            opened.suppressing.__exit__(None, None, None)
        context.detach(opened.token)
        span = opened.span
        if not span.is_recording():
            return
        if status is not None:
            span.set_attribute("http.response.status_code", status)
        if isinstance(error, Exception):
            span.record_exception(error)
            span.set_status(Status(StatusCode.ERROR))
        elif status is not None and status >= 500:
            span.set_status(Status(StatusCode.ERROR))
        span.end()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        assert self.app is not None
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        opened = self.open(scope)
        noted = StatusNote(send)
        error: BaseException | None = None
        try:
            await self.app(scope, receive, noted)
        except BaseException as exc:
            error = exc
            raise
        finally:
            self.close(opened, noted.status, error)
