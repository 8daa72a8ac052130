"""Spans cheap enough for the request path, handed to the SDK's span processors (issue 13).

Why not the SDK's own `Span`: creating and ending one costs ~24 us of CPU (its attribute
validation, locks, limits, a sampler call per child), five per sampled announcements page,
and the page itself costs ~500 us: 10 % sampling could not stay under 10 % of throughput.
These spans cost ~5 us and are `ReadableSpan`s, so the SDK still does everything else: the
sampler, resource and id generator come from the SDK `TracerProvider` (OTEL_* variables), and
an ended span goes to that provider's span processors (BatchSpanProcessor and the OTLP/HTTP
exporter, or a test's in-memory exporter) as the SDK's own spans do.

What is dropped on purpose: attribute validation and limits (our attributes and the
maintained instrumentations' are plain strings and numbers; `None` is skipped), and
`on_start` calls (the batch, simple and in-memory processors do nothing there). Sampling: a
root or a child of a remote parent asks the configured sampler; a child of a local span
follows its parent, which is what the parent-based samplers (the default) decide anyway.
"""

from __future__ import annotations

import traceback
from collections.abc import Mapping, Sequence
from time import time_ns
from types import TracebackType
from typing import Any, cast

from opentelemetry import context as context_api
from opentelemetry import trace as trace_api
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import Event, ReadableSpan
from opentelemetry.sdk.trace import Tracer as SdkTracer
from opentelemetry.sdk.trace import TracerProvider as SdkTracerProvider
from opentelemetry.sdk.trace.sampling import Decision
from opentelemetry.sdk.util.instrumentation import InstrumentationScope
from opentelemetry.trace import (
    Link,
    NonRecordingSpan,
    SpanContext,
    SpanKind,
    Status,
    StatusCode,
    TraceFlags,
)
from opentelemetry.util import types

_UNSET = Status(StatusCode.UNSET)
# (sampled, random trace id) -> the span's flags, made once.
_FLAGS = {
    (sampled, random_ids): TraceFlags(
        (TraceFlags.SAMPLED if sampled else TraceFlags.DEFAULT)
        | (TraceFlags.RANDOM_TRACE_ID if random_ids else 0)
    )
    for sampled in (False, True)
    for random_ids in (False, True)
}


class HashedResource(Resource):
    """A resource whose hash is computed once: the OTLP encoder groups spans by resource and
    hashes it for every span (a JSON dump of its attributes, ~11 us per span)."""

    def __init__(self, attributes: types.Attributes, schema_url: str | None = None) -> None:
        super().__init__(attributes or {}, schema_url)
        self._hash = super().__hash__()

    def __hash__(self) -> int:
        return self._hash


class RecordedSpan(trace_api.Span, ReadableSpan):
    """A sampled span: `ReadableSpan`'s fields, set directly, and the API's setters."""

    def __init__(
        self,
        tracer: Tracer,
        name: str,
        context: SpanContext,
        parent: SpanContext | None,
        kind: SpanKind,
        attributes: types.Attributes,
        links: Sequence[Link] | None,
        start_time: int | None,
        record_exception: bool = True,
        set_status_on_exception: bool = True,
    ) -> None:
        # No ReadableSpan.__init__: it would build a Resource when given none.
        self._tracer = tracer
        self._name = name
        self._context = context
        self._parent = parent
        self._kind = kind
        self._attributes: dict[str, Any] = (
            {k: v for k, v in attributes.items() if v is not None} if attributes else {}
        )
        self._events: list[Event] = []
        self._links: Sequence[Link] = tuple(links) if links else ()
        self._resource = tracer.resource
        self._instrumentation_scope = tracer.scope
        self._instrumentation_info = None
        self._status = _UNSET
        self._start_time = time_ns() if start_time is None else start_time
        self._end_time: int | None = None
        self._record_exception = record_exception
        self._set_status_on_exception = set_status_on_exception

    def get_span_context(self) -> SpanContext:
        return cast(SpanContext, self._context)  # ReadableSpan's type allows None; ours never

    def is_recording(self) -> bool:
        return self._end_time is None

    def set_attribute(self, key: str, value: types.AnyValue) -> None:
        if self._end_time is None and value is not None:
            self._attributes[key] = value

    def set_attributes(self, attributes: Mapping[str, types.AnyValue]) -> None:
        if self._end_time is None:
            for key, value in attributes.items():
                if value is not None:
                    self._attributes[key] = value

    def add_event(
        self, name: str, attributes: types.Attributes = None, timestamp: int | None = None
    ) -> None:
        if self._end_time is None:
            when = time_ns() if timestamp is None else timestamp
            self._events.append(Event(name, dict(attributes or {}), when))

    def add_link(self, context: SpanContext, attributes: types.Attributes = None) -> None:
        if self._end_time is None and context.is_valid:
            self._links = (*self._links, Link(context, attributes))

    def update_name(self, name: str) -> None:
        if self._end_time is None:
            self._name = name

    def set_status(self, status: Status | StatusCode, description: str | None = None) -> None:
        # OK is final (the API's rule); an ERROR keeps its description.
        if self._end_time is not None or self._status.status_code is StatusCode.OK:
            return
        self._status = status if isinstance(status, Status) else Status(status, description)

    def record_exception(
        self,
        exception: BaseException,
        attributes: types.Attributes = None,
        timestamp: int | None = None,
        escaped: bool = False,
    ) -> None:
        kind = type(exception)
        module = kind.__module__
        fields: dict[str, Any] = {
            "exception.type": f"{module}.{kind.__qualname__}"
            if module and module != "builtins"
            else kind.__qualname__,
            "exception.message": str(exception),
            "exception.stacktrace": "".join(traceback.format_exception(exception)),
            "exception.escaped": str(escaped),
        }
        if attributes:
            fields.update(attributes)
        self.add_event("exception", fields, timestamp)

    def end(self, end_time: int | None = None) -> None:
        if self._end_time is not None:
            return
        self._end_time = time_ns() if end_time is None else end_time
        self._tracer.processor.on_end(self)

    def __exit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        # `with tracer.start_span(...)`: the SDK span's rules (any exception, escaped).
        if exc is not None and self._end_time is None:
            self.failed(exc, self._record_exception, self._set_status_on_exception, True)
        self.end()

    def failed(self, exc: BaseException, record: bool, set_status: bool, escaped: bool) -> None:
        """An exception left the span's block: its event and ERROR status, as asked."""
        if record:
            self.record_exception(exc, escaped=escaped)
        if set_status:
            self.set_status(Status(StatusCode.ERROR, f"{type(exc).__name__}: {exc}"))


class Current:
    """`start_as_current_span`'s context manager, with `use_span`'s rules: an `Exception`
    (not a BaseException such as a cancellation) is recorded and sets the status."""

    __slots__ = ("end_on_exit", "record", "set_status", "span", "token")

    def __init__(
        self, span: trace_api.Span, end_on_exit: bool, record: bool, set_status: bool
    ) -> None:
        self.span = span
        self.end_on_exit = end_on_exit
        self.record = record
        self.set_status = set_status

    def __enter__(self) -> trace_api.Span:
        self.token = context_api.attach(trace_api.set_span_in_context(self.span))
        return self.span

    def __exit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        context_api.detach(self.token)
        span = self.span
        # Only our tracer makes these, so a recording span is a RecordedSpan.
        if isinstance(exc, Exception) and isinstance(span, RecordedSpan) and span.is_recording():
            span.failed(exc, self.record, self.set_status, False)
        if self.end_on_exit:
            span.end()


class Tracer(trace_api.Tracer):
    """Makes `RecordedSpan`s with the sampler, resource, id generator and span processor of
    an SDK tracer."""

    def __init__(self, sdk: SdkTracer, scope: InstrumentationScope) -> None:
        self.sampler = sdk.sampler
        self.resource = sdk.resource
        self.processor = sdk.span_processor
        self.ids = sdk.id_generator
        self.random_ids = sdk.id_generator.is_trace_id_random()
        self.scope = scope

    def start_span(
        self,
        name: str,
        context: context_api.Context | None = None,
        kind: SpanKind = SpanKind.INTERNAL,
        attributes: types.Attributes = None,
        links: Sequence[Link] | None = (),
        start_time: int | None = None,
        record_exception: bool = True,
        set_status_on_exception: bool = True,
    ) -> trace_api.Span:
        span_context, parent, attributes, recording = self._place(
            name, context, kind, attributes, links
        )
        if not recording:
            return NonRecordingSpan(span_context)
        return RecordedSpan(
            self,
            name,
            span_context,
            parent,
            kind,
            attributes,
            links,
            start_time,
            record_exception,
            set_status_on_exception,
        )

    def _place(
        self,
        name: str,
        context: context_api.Context | None,
        kind: SpanKind,
        attributes: types.Attributes,
        links: Sequence[Link] | None,
    ) -> tuple[SpanContext, SpanContext | None, types.Attributes, bool]:
        """The new span's context, its parent's, its attributes, and whether it records."""
        parent = trace_api.get_current_span(context)
        if type(parent) is RecordedSpan and parent._end_time is None:
            # The common child, of a recording span of ours: its context is valid, local and
            # sampled. (A SpanContext is a tuple; unpacking it skips six property calls.)
            trace_id, _, _, flags, state, _ = cast(tuple[Any, ...], parent._context)
            child = SpanContext(trace_id, self.ids.generate_span_id(), False, flags, state)
            return child, parent._context, attributes, True
        parent_context = parent.get_span_context()
        if parent_context.is_valid and not parent_context.is_remote:
            # A child of a span of this process follows its parent.
            child = SpanContext(
                parent_context.trace_id,
                self.ids.generate_span_id(),
                False,
                parent_context.trace_flags,
                parent_context.trace_state,
            )
            return child, parent_context, attributes, parent_context.trace_flags.sampled
        if parent_context.is_valid:
            trace_id = parent_context.trace_id
            random_ids = parent_context.trace_flags.random_trace_id
            parent_or_none: SpanContext | None = parent_context
        else:
            trace_id = self.ids.generate_trace_id()
            random_ids = self.random_ids
            parent_or_none = None
        decision = self.sampler.should_sample(context, trace_id, name, kind, attributes, links)
        flags = _FLAGS[decision.decision is Decision.RECORD_AND_SAMPLE, bool(random_ids)]
        root = SpanContext(
            trace_id, self.ids.generate_span_id(), False, flags, decision.trace_state
        )
        if decision.attributes:
            attributes = {**decision.attributes, **(attributes or {})}
        return root, parent_or_none, attributes, decision.decision is not Decision.DROP

    def start_as_current_span(  # type: ignore[override]
        self,
        name: str,
        context: context_api.Context | None = None,
        kind: SpanKind = SpanKind.INTERNAL,
        attributes: types.Attributes = None,
        links: Sequence[Link] | None = (),
        start_time: int | None = None,
        record_exception: bool = True,
        set_status_on_exception: bool = True,
        end_on_exit: bool = True,
    ) -> Current:
        span = self.start_span(
            name,
            context,
            kind,
            attributes,
            links,
            start_time,
            record_exception,
            set_status_on_exception,
        )
        return Current(span, end_on_exit, record_exception, set_status_on_exception)


class TracerProvider(trace_api.TracerProvider):
    """Hands out `Tracer`s over an SDK provider: what the instrumentations are given as
    `tracer_provider`, so their spans are these too."""

    def __init__(self, sdk: SdkTracerProvider) -> None:
        self.sdk = sdk

    def get_tracer(
        self,
        instrumenting_module_name: str,
        instrumenting_library_version: str | None = None,
        schema_url: str | None = None,
        attributes: types.Attributes = None,
    ) -> trace_api.Tracer:
        sdk = self.sdk.get_tracer(
            instrumenting_module_name, instrumenting_library_version, schema_url, attributes
        )
        if not isinstance(sdk, SdkTracer):  # OTEL_SDK_DISABLED: the SDK's no-op tracer
            return sdk
        scope = InstrumentationScope(
            instrumenting_module_name, instrumenting_library_version, schema_url, attributes
        )
        return Tracer(sdk, scope)
