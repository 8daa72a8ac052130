"""Per-request observability (R18, issue 13): one log line, metrics, and the operation span.

Wiring (`install`, called by create_app): the /graphql HTTP view is wrapped by
`RequestObserver`, which also opens and closes the server span when tracing is on
(continuing an incoming `traceparent`: face/server_span.py); the app's
`Operations` get their `prepare`, `execute` and `subscribe` wrapped, so the engine knows
nothing of telemetry and pays nothing for it beyond one extra call. With tracing off no
span object is ever made: the wrappers check one attribute.
"""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncGenerator, Callable, Mapping
from contextlib import AbstractContextManager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

from graphql import ExecutionResult, GraphQLError
from opentelemetry.trace import Status, StatusCode, Tracer, format_trace_id, get_current_span
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.types import ASGIApp, Receive, Scope, Send

from graphql_api.core.config import Settings
from graphql_api.core.db.engine import statement_counter
from graphql_api.core.errors import ApiError, ErrorCode
from graphql_api.core.logging_setup import write_json_line
from graphql_api.core.telemetry import tracing
from graphql_api.core.telemetry.masking import mask_variables
from graphql_api.engine.operations import Operations, Prepared, RateLimited, RequestError
from graphql_api.face.graphql_view import request_id_of
from graphql_api.face.metrics import UNKNOWN, Metrics
from graphql_api.face.server_span import ServerSpan
from graphql_api.face.transport import StatusNote

log = logging.getLogger("graphql_api.request")


@dataclass(slots=True)
class Observed:
    """What one HTTP request learned about itself on the way through the view."""

    operation: str | None = None  # the name the client gave (None: anonymous)
    label: str = UNKNOWN  # the bounded metric label of `operation`
    kind: str = "-"  # query, mutation, subscription; "-" before a document was read
    outcome: str | None = None
    codes: list[str] | None = None
    request_id: str | None = None
    user_id: int | None = None
    sql: int | None = None
    variables: Mapping[str, Any] | None = None


_current: ContextVar[Observed | None] = ContextVar("observed_request", default=None)


def error_code(error: GraphQLError) -> str:
    """The code the client sees (core/errors.classify's rule, without its logging)."""
    original = error.original_error
    if isinstance(original, ApiError):
        code = (original.extensions or {}).get("code")
    elif original is None or isinstance(original, GraphQLError):
        code = (error.extensions or {}).get("code") or ErrorCode.GRAPHQL_VALIDATION_FAILED
    elif isinstance(original, TimeoutError):
        code = ErrorCode.TIMEOUT
    else:
        code = ErrorCode.INTERNAL_SERVER_ERROR
    return str(code or ErrorCode.INTERNAL_SERVER_ERROR)


def _outcome_of_status(status: int) -> str:
    if status < 400:
        return "ok"
    if status == 401:
        return "unauthenticated"
    if status == 429:
        return "rate_limited"
    return "bad_request" if status < 500 else "internal"


class RequestObserver:
    """Wraps the /graphql HTTP view: times it, then counts and logs the request once."""

    def __init__(
        self, app: ASGIApp, metrics: Metrics, settings: Settings, spans: ServerSpan | None
    ) -> None:
        self.app = app
        self.metrics = metrics
        self.tracing = settings.tracing
        # The server span is made here rather than by a layer around this one: every
        # layer costs each resumption of the request's coroutines a frame.
        self.spans = spans

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        record = Observed()
        token = _current.set(record)
        start = time.perf_counter()
        opened = self.spans.open(scope) if self.spans is not None else None
        noted = StatusNote(send)
        error: BaseException | None = None
        try:
            await self.app(scope, receive, noted)
        except BaseException as exc:
            error = exc
            raise
        finally:
            _current.reset(token)
            # No response started: what the server answers then.
            status = 500 if noted.status is None else noted.status
            self._finish(record, scope, status, time.perf_counter() - start)
            if opened is not None:
                assert self.spans is not None
                self.spans.close(opened, status, error)

    def _finish(self, record: Observed, scope: Scope, status: int, seconds: float) -> None:
        outcome = record.outcome or _outcome_of_status(status)
        if status >= 500:
            outcome = "internal"
        self.metrics.observe(record.label, record.kind, outcome, seconds, record.sql, record.codes)
        if not log.isEnabledFor(logging.INFO):
            return
        fields: dict[str, Any] = {
            # Requests refused before the view built a context get their id here.
            "request_id": record.request_id or request_id_of(Request(scope)),
            # Also for unsampled requests (it correlates with the caller's logs);
            # `sampled` says whether the trace was recorded.
            "trace_id": None,
            "user_id": record.user_id,
            "operation": record.operation,
            "operation_type": record.kind,
            "duration_ms": round(seconds * 1000, 2),
            "sql": record.sql,
            "outcome": outcome,
            "status": status,
        }
        if self.tracing:
            span = get_current_span().get_span_context()
            if span.is_valid:
                fields["trace_id"] = format_trace_id(span.trace_id)
                fields["sampled"] = span.trace_flags.sampled
        if record.codes:
            fields["error_codes"] = record.codes
        if record.variables and log.isEnabledFor(logging.DEBUG):
            # Only at DEBUG, and masked (the formatter masks shapes again).
            fields["variables"] = mask_variables(record.variables)
        write_json_line(log, "request", fields)


class OperationObserver:
    """Replaces `prepare`, `execute` and `subscribe` of one `Operations` with observed ones."""

    def __init__(self, operations: Operations, metrics: Metrics, tracer: Tracer | None) -> None:
        self.metrics = metrics
        self.tracer = tracer
        self._prepare = operations.prepare
        self._execute = operations.execute
        self._subscribe = operations.subscribe
        # Instance attributes shadow the methods; the engine stays unaware of telemetry.
        operations.prepare = self.prepare  # type: ignore[method-assign]
        operations.execute = self.execute  # type: ignore[method-assign]
        operations.subscribe = self.subscribe  # type: ignore[method-assign]
        if tracer is not None:
            operations.engine.on_event = self._delivery_span

    def prepare(
        self, query: object, operation_name: str | None, variables: Mapping[str, Any] | None = None
    ) -> Prepared:
        try:
            return self._prepare(query, operation_name, variables)
        except RequestError as exc:
            record = _current.get()
            if record is not None:
                record.operation = operation_name
                record.outcome = "rejected"
                record.codes = [error_code(error) for error in exc.errors]
            raise

    def _note(self, prepared: Prepared, context: Any, variables: Any) -> Observed | None:
        record = _current.get()
        if record is not None:
            record.operation = _name(prepared)
            record.label = self.metrics.names.label(record.operation)
            record.kind = prepared.operation_type.value
            record.request_id = getattr(context, "request_id", None)
            principal = getattr(context, "principal", None)
            record.user_id = getattr(principal, "user_id", None)
            record.variables = variables
        return record

    async def execute(
        self,
        prepared: Prepared,
        *,
        context: Any,
        variables: dict[str, Any] | None,
        root_value: Any = None,
        extensions: dict[str, Any] | None = None,
    ) -> ExecutionResult:
        record = self._note(prepared, context, variables)
        start = time.perf_counter() if record is None else 0.0
        outcome = "internal"
        codes: list[str] | None = None
        try:
            if self.tracer is None or not get_current_span().is_recording():
                result = await self._execute(
                    prepared,
                    context=context,
                    variables=variables,
                    root_value=root_value,
                    extensions=extensions,
                )
            else:
                result = await self._traced(prepared, context, variables, root_value, extensions)
            if result.errors:
                outcome = "error"
                codes = [error_code(error) for error in result.errors]
            else:
                outcome = "ok"
            return result
        except RateLimited:
            outcome, codes = "rate_limited", [ErrorCode.RATE_LIMITED.value]
            self.metrics.rate_limited.inc()
            raise
        finally:
            counter = statement_counter.get()
            if record is not None:
                record.outcome, record.codes = outcome, codes
                record.sql = counter[0] if counter is not None else None
            else:
                # Not an HTTP request (a WebSocket query or mutation): counted here.
                label = self.metrics.names.label(_name(prepared))
                seconds = time.perf_counter() - start
                kind = prepared.operation_type.value
                self.metrics.observe(label, kind, outcome, seconds, None, codes)

    async def _traced(
        self,
        prepared: Prepared,
        context: Any,
        variables: dict[str, Any] | None,
        root_value: Any,
        extensions: dict[str, Any] | None,
    ) -> ExecutionResult:
        assert self.tracer is not None
        kind = prepared.operation_type.value
        name = _name(prepared)
        with self.tracer.start_as_current_span(
            f"{kind} {name}" if name else kind,
            attributes=_span_attributes(prepared),
        ) as span:
            result = await self._execute(
                prepared,
                context=context,
                variables=variables,
                root_value=root_value,
                extensions=extensions,
            )
            if result.errors:
                span.set_status(Status(StatusCode.ERROR))
                span.set_attribute("graphql.errors", len(result.errors))
            return result

    def _delivery_span(self, name: str | None) -> AbstractContextManager[object]:
        """A span around one subscription event's execution (its SQL and loader spans nest
        under it). WebSocket connections have no server span, so each delivery is the root
        of its own trace, sampled like a request."""
        assert self.tracer is not None
        attributes = {"graphql.operation.type": "subscription"}
        if name:
            attributes["graphql.operation.name"] = name
        return self.tracer.start_as_current_span(
            f"subscription {name} event" if name else "subscription event",
            attributes=attributes,
        )

    async def subscribe(
        self,
        prepared: Prepared,
        *,
        context: Any,
        variables: dict[str, Any] | None,
        root_value: Any = None,
    ) -> AsyncGenerator[ExecutionResult, None] | ExecutionResult:
        label = self.metrics.names.label(_name(prepared))
        start = time.perf_counter()
        outcome = "internal"
        try:
            stream = await self._subscribe(
                prepared, context=context, variables=variables, root_value=root_value
            )
            outcome = "error" if isinstance(stream, ExecutionResult) else "ok"
            return stream
        except RateLimited:
            outcome = "rate_limited"
            self.metrics.rate_limited.inc()
            raise
        finally:
            seconds = time.perf_counter() - start
            self.metrics.observe(label, "subscription", outcome, seconds, None)


def _name(prepared: Prepared) -> str | None:
    """The operation's name in its document (the client need not send `operationName`)."""
    return prepared.document.operation_name(prepared.operation_name)


def _span_attributes(prepared: Prepared) -> dict[str, Any]:
    attributes: dict[str, Any] = {
        "graphql.operation.type": prepared.operation_type.value,
        "graphql.document.hash": prepared.document.digest,
        "graphql.operation.cost": prepared.cost,
    }
    name = _name(prepared)
    if name:
        attributes["graphql.operation.name"] = name
    return attributes


class WebSocketGauge:
    """Counts open WebSocket connections (a Starlette middleware; HTTP passes straight on)."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "websocket":
            await self.app(scope, receive, send)
            return
        self.metrics.websockets.inc()
        try:
            await self.app(scope, receive, send)
        finally:
            self.metrics.websockets.dec()


def install(app: Starlette, operations: Operations, settings: Settings) -> Callable[[], None]:
    """Wrap the view and the operations, add the WebSocket gauge; returns `start`, to be
    called from the lifespan, which patches the libraries when tracing is on and returns
    the undo."""
    metrics = Metrics(app.state)
    app.state.metrics = metrics
    provider = tracing.provider() if settings.tracing else None
    tracer = tracing.tracer(provider) if provider is not None else None
    OperationObserver(operations, metrics, tracer)
    # The server span, continuing `traceparent`: made by the observer for /graphql, by a
    # middleware for the other routes.
    spans = ServerSpan(None, tracer) if tracer is not None else None
    graphql: ASGIApp = RequestObserver(app.graphql, metrics, settings, spans)  # type: ignore[attr-defined]
    if tracer is not None:
        app.add_middleware(ServerSpan, tracer=tracer)
    app.graphql = graphql  # type: ignore[attr-defined]
    app.add_middleware(WebSocketGauge, metrics=metrics)

    def start() -> None:
        if provider is not None:
            tracing.instrument(provider)

    return start


def stop(settings: Settings) -> None:
    """Undo what `start` patched (the last traced app of the process unpatches)."""
    if settings.tracing:
        tracing.uninstrument()
