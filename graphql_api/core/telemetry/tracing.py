"""OpenTelemetry traces, configured only by the standard OTEL_* variables (R18, issue 13).

Off unless an OTLP endpoint is set (`Settings.tracing`): then nothing here is installed and
the request path does no span work at all. On, a process-wide SDK `TracerProvider` exports
over OTLP/HTTP in batches (the spans are spans.py's, the encoding otlp.py's, the server span
face/server_span.py's), and the maintained instrumentations patch asyncpg (every SQL
statement of the ORM and the lean read path, without parameters) and redis-py (each command,
arguments sanitized). DataLoader batches get a span each from a wrapper around
aiodataloader's batch dispatch; no span is ever made per field.
"""

from __future__ import annotations

import threading
from collections.abc import Awaitable, Callable
from typing import Any

import aiodataloader
import wrapt
from opentelemetry import trace
from opentelemetry.instrumentation.asyncpg import AsyncPGInstrumentor
from opentelemetry.instrumentation.redis import RedisInstrumentor
from opentelemetry.instrumentation.utils import unwrap
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter
from opentelemetry.sdk.trace.sampling import Sampler
from opentelemetry.trace import Tracer

from graphql_api.core.telemetry import otlp, spans
from graphql_api.core.telemetry.spans import HashedResource

TRACER_NAME = "graphql_api"

_lock = threading.Lock()
_users = 0  # apps in this process that traced; instrumentation stays while one is alive


def provider() -> TracerProvider:
    """The process's SDK provider: the global one if something already configured it (tests
    with an in-memory exporter, `opentelemetry-instrument`), else one exporting over OTLP/HTTP.

    The SDK reads OTEL_SERVICE_NAME, OTEL_RESOURCE_ATTRIBUTES, OTEL_TRACES_SAMPLER(_ARG) and
    the exporter reads OTEL_EXPORTER_OTLP_(TRACES_)ENDPOINT/HEADERS/TIMEOUT: nothing of ours.
    """
    with _lock:
        current = trace.get_tracer_provider()
        if isinstance(current, TracerProvider):
            return current
        built = build()
        trace.set_tracer_provider(built)
        return built


def build(sampler: Sampler | None = None, exporter: SpanExporter | None = None) -> TracerProvider:
    """An SDK provider with the SDK's resource (OTEL_SERVICE_NAME, OTEL_RESOURCE_ATTRIBUTES)
    hashed once, batching to `exporter` (default: OTLP/HTTP, otlp.py); the sampler is the
    SDK's from OTEL_TRACES_SAMPLER unless given (bench/tracing_ab.py switches its own)."""
    resource = Resource.create()
    built = TracerProvider(
        sampler=sampler, resource=HashedResource(resource.attributes, resource.schema_url)
    )
    built.add_span_processor(BatchSpanProcessor(exporter or otlp.SpanExporter()))
    return built


def tracer(tracer_provider: TracerProvider) -> Tracer:
    """Our spans' tracer (spans.py: cheaper spans for the same SDK pipeline)."""
    return spans.TracerProvider(tracer_provider).get_tracer(TRACER_NAME)


def instrument(tracer_provider: TracerProvider) -> None:
    """Patch asyncpg, redis-py and aiodataloader (once per process, counted per app)."""
    global _users
    with _lock:
        _users += 1
        if _users > 1:
            return
        lean = spans.TracerProvider(tracer_provider)
        AsyncPGInstrumentor().instrument(tracer_provider=lean)  # type: ignore[no-untyped-call]
        RedisInstrumentor().instrument(tracer_provider=lean)
        _wrap_loader_batches(tracer(tracer_provider))


def uninstrument() -> None:
    """Undo `instrument` when the last app that traced stops (tests start many apps)."""
    global _users
    with _lock:
        if _users == 0:
            return
        _users -= 1
        if _users:
            return
        AsyncPGInstrumentor().uninstrument()  # type: ignore[no-untyped-call]
        RedisInstrumentor().uninstrument()
        unwrap(aiodataloader, "dispatch_queue_batch")


def _wrap_loader_batches(batches: Tracer) -> None:
    """A span per DataLoader batch, named after the loader class.

    aiodataloader looks `dispatch_queue_batch` up as a module global when it dispatches, so
    wrapping it covers every loader without touching them. The batch runs in a task created
    from the resolver that asked first, so the span's parent is the operation span (SQL
    spans of the batch nest under it).
    """

    def traced(
        wrapped: Callable[..., Awaitable[None]],
        instance: object,
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
    ) -> Awaitable[None]:
        # aiodataloader hands the coroutine to ensure_future: an unsampled request gets the
        # library's own coroutine back, no extra frame.
        if not trace.get_current_span().is_recording():
            return wrapped(*args, **kwargs)
        return recorded(wrapped, args[0], args, kwargs)

    async def recorded(
        wrapped: Callable[..., Awaitable[None]],
        loader: object,
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
    ) -> None:
        name = type(loader).__name__
        with batches.start_as_current_span(
            f"dataloader {name}",
            attributes={"dataloader.name": name, "dataloader.keys": len(args[1])},
        ):
            await wrapped(*args, **kwargs)

    wrapt.wrap_function_wrapper(aiodataloader, "dispatch_queue_batch", traced)
