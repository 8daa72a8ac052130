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

from opentelemetry import context, propagate
from opentelemetry.instrumentation.utils import suppress_instrumentation
from opentelemetry.trace import Span, SpanKind, Status, StatusCode, Tracer, set_span_in_context
from starlette.types import ASGIApp, Message, Receive, Scope, Send


class ServerSpan:
    def __init__(self, app: ASGIApp, tracer: Tracer) -> None:
        self.app = app
        self.tracer = tracer
        # traceparent, tracestate, baggage (whatever OTEL_PROPAGATORS configured).
        self._fields = frozenset(f.encode() for f in propagate.get_global_textmap().fields)
        # The context of an unsampled request without a caller's context, less its span:
        # made once, so such a request attaches one context instead of two.
        token = context.attach(context.Context())
        try:
            with suppress_instrumentation():
                self._suppressed = context.get_current()
        finally:
            context.detach(token)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        carrier: dict[str, str] | None = None
        for key, value in scope["headers"]:
            if key in self._fields:
                carrier = carrier or {}
                carrier[key.decode("latin-1")] = value.decode("latin-1")
        parent = propagate.extract(carrier) if carrier else None
        method = scope["method"]
        span = self.tracer.start_span(f"{method} {scope['path']}", parent, SpanKind.SERVER)
        if span.is_recording():
            token = context.attach(set_span_in_context(span, parent))
            try:
                await self._recorded(span, scope, receive, send)
            finally:
                context.detach(token)
            return
        if parent is None:
            token = context.attach(set_span_in_context(span, self._suppressed))
            try:
                await self.app(scope, receive, send)
            finally:
                context.detach(token)
            return
        token = context.attach(set_span_in_context(span, parent))
        try:
            with suppress_instrumentation():
                await self.app(scope, receive, send)
        finally:
            context.detach(token)

    async def _recorded(self, span: Span, scope: Scope, receive: Receive, send: Send) -> None:
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

        async def send_and_note(message: Message) -> None:
            if message["type"] == "http.response.start":
                status = message["status"]
                span.set_attribute("http.response.status_code", status)
                if status >= 500:
                    span.set_status(Status(StatusCode.ERROR))
            await send(message)

        try:
            await self.app(scope, receive, send_and_note)
        except Exception as exc:
            span.record_exception(exc)
            span.set_status(Status(StatusCode.ERROR))
            raise
        finally:
            span.end()
