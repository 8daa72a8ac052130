"""Our own spans (graphql_api/core/telemetry/spans.py, issue 13) against the SDK's: what the
span processors and the OTLP encoder receive. Each test builds its own SDK provider; the
global tracer provider is left alone (tests/test_tracing.py sets it)."""

from __future__ import annotations

import asyncio

import pytest
from opentelemetry import trace
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.trace.v1.trace_pb2 import Span as PbSpan
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace import TracerProvider as SdkTracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.sdk.trace.sampling import (
    ALWAYS_OFF,
    ALWAYS_ON,
    ParentBased,
    Sampler,
    TraceIdRatioBased,
)
from opentelemetry.trace import (
    NonRecordingSpan,
    SpanContext,
    SpanKind,
    Status,
    StatusCode,
    TraceFlags,
    Tracer,
)
from opentelemetry.util.types import AttributeValue

from graphql_api.core.telemetry import spans

RESOURCE = spans.HashedResource({"service.name": "spans-test"}, "https://example.com/schema")
TRACE_ID = 0x4BF92F3577B34DA6A3CE929D0E0E4736
SPAN_ID = 0x00F067AA0BA902B7


def _setup(sampler: Sampler = ALWAYS_ON) -> tuple[SdkTracerProvider, Tracer, InMemorySpanExporter]:
    sdk = SdkTracerProvider(sampler=sampler, resource=RESOURCE)
    memory = InMemorySpanExporter()
    sdk.add_span_processor(SimpleSpanProcessor(memory))
    return sdk, spans.TracerProvider(sdk).get_tracer("test"), memory


def _one(memory: InMemorySpanExporter) -> ReadableSpan:
    finished = memory.get_finished_spans()
    assert len(finished) == 1
    return finished[0]


def test_root_span_is_exported_once_with_its_fields() -> None:
    sdk, tracer, memory = _setup()
    span = tracer.start_span("root", kind=SpanKind.SERVER, attributes={"a": 1, "gone": None})
    assert isinstance(span, spans.RecordedSpan)
    assert span.is_recording()
    span.set_attribute("b", "x")
    span.set_attribute("none", None)
    span.set_attributes({"c": 2.5, "also_none": None})
    assert memory.get_finished_spans() == ()
    span.end()
    span.end()
    span.set_attribute("late", True)
    span.set_attributes({"later": True})
    assert not span.is_recording()
    got = _one(memory)
    assert got.name == "root"
    assert got.kind is SpanKind.SERVER
    assert dict(got.attributes or {}) == {"a": 1, "b": "x", "c": 2.5}
    assert got.start_time is not None
    assert got.end_time is not None
    assert got.start_time <= got.end_time
    assert got.parent is None
    assert got.context is not None
    assert got.context.trace_flags.sampled
    assert got.context.is_valid
    assert not got.context.is_remote
    assert got.resource is sdk.resource
    assert got.instrumentation_scope is not None
    assert got.instrumentation_scope.name == "test"
    assert got.status.status_code is StatusCode.UNSET


def test_nesting_follows_the_current_span_and_restores_it() -> None:
    _, tracer, memory = _setup()
    before = trace.get_current_span()
    with tracer.start_as_current_span("outer") as outer:
        assert trace.get_current_span() is outer
        with tracer.start_as_current_span("inner") as inner:
            assert trace.get_current_span() is inner
        assert trace.get_current_span() is outer
        explicit = tracer.start_span("explicit", trace.set_span_in_context(inner))
        explicit.end()
    assert trace.get_current_span() is before
    by_name = {s.name: s for s in memory.get_finished_spans()}
    assert set(by_name) == {"outer", "inner", "explicit"}
    outer_ctx, inner_ctx = outer.get_span_context(), inner.get_span_context()
    assert inner_ctx.trace_id == outer_ctx.trace_id
    assert inner_ctx.span_id != outer_ctx.span_id
    assert by_name["inner"].parent == outer_ctx
    assert by_name["explicit"].parent == inner_ctx
    assert by_name["explicit"].context.trace_id == outer_ctx.trace_id
    assert by_name["outer"].parent is None


def test_exception_is_recorded_and_reraised() -> None:
    _, tracer, memory = _setup()
    with pytest.raises(ValueError, match="bad input"), tracer.start_as_current_span("fails"):
        raise ValueError("bad input")
    got = _one(memory)
    assert got.status.status_code is StatusCode.ERROR
    assert got.status.description == "ValueError: bad input"
    assert [e.name for e in got.events] == ["exception"]
    fields = got.events[0].attributes or {}
    assert fields["exception.type"] == "ValueError"
    assert fields["exception.message"] == "bad input"
    stacktrace = fields["exception.stacktrace"]
    assert isinstance(stacktrace, str)
    assert "ValueError: bad input" in stacktrace
    assert "Traceback" in stacktrace


def test_exception_not_recorded_when_asked() -> None:
    _, tracer, memory = _setup()
    with pytest.raises(KeyError), tracer.start_as_current_span("quiet", record_exception=False):
        raise KeyError("k")
    got = _one(memory)
    assert got.events == ()
    assert got.status.status_code is StatusCode.ERROR


def test_cancellation_is_not_an_error_but_ends_the_span() -> None:
    _, tracer, memory = _setup()
    before = trace.get_current_span()
    with pytest.raises(asyncio.CancelledError), tracer.start_as_current_span("cancelled"):
        raise asyncio.CancelledError
    got = _one(memory)
    assert got.events == ()
    assert got.status.status_code is StatusCode.UNSET
    assert got.end_time is not None
    assert trace.get_current_span() is before


def test_set_status_ok_is_final_and_both_forms_accepted() -> None:
    _, tracer, memory = _setup()
    first = tracer.start_span("error-then-ok")
    first.set_status(StatusCode.ERROR, "broken")
    assert isinstance(first, spans.RecordedSpan)
    assert first.status.status_code is StatusCode.ERROR
    assert first.status.description == "broken"
    first.set_status(Status(StatusCode.OK))
    first.set_status(StatusCode.ERROR, "too late")
    first.end()
    second = tracer.start_span("error-object")
    second.set_status(Status(StatusCode.ERROR, "described"))
    second.end()
    second.set_status(StatusCode.OK)  # after end: ignored
    by_name = {s.name: s for s in memory.get_finished_spans()}
    assert by_name["error-then-ok"].status.status_code is StatusCode.OK
    assert by_name["error-object"].status.status_code is StatusCode.ERROR
    assert by_name["error-object"].status.description == "described"


def test_unsampled_root_and_its_children_record_nothing() -> None:
    _, tracer, memory = _setup(ALWAYS_OFF)
    with tracer.start_as_current_span("root") as root:
        assert not root.is_recording()
        ctx = root.get_span_context()
        assert ctx.is_valid
        assert ctx.trace_id != 0
        assert not ctx.trace_flags.sampled
        child = tracer.start_span("child")
        assert not child.is_recording()
        assert child.get_span_context().trace_id == ctx.trace_id
        child.end()
    assert memory.get_finished_spans() == ()


def test_child_of_unsampled_local_parent_follows_it_even_with_always_on() -> None:
    _, tracer, memory = _setup(ALWAYS_ON)
    local = SpanContext(TRACE_ID, SPAN_ID, is_remote=False, trace_flags=TraceFlags(0))
    child = tracer.start_span("child", trace.set_span_in_context(NonRecordingSpan(local)))
    assert not child.is_recording()
    child.end()
    assert memory.get_finished_spans() == ()


def test_remote_sampled_parent_with_parent_based_sampler() -> None:
    _, tracer, memory = _setup(ParentBased(ALWAYS_OFF))
    remote = SpanContext(TRACE_ID, SPAN_ID, is_remote=True, trace_flags=TraceFlags(1))
    context = trace.set_span_in_context(NonRecordingSpan(remote))
    span = tracer.start_span("server", context, kind=SpanKind.SERVER)
    assert span.is_recording()
    span.end()
    got = _one(memory)
    assert got.context is not None
    assert got.context.trace_id == TRACE_ID
    assert got.context.span_id != SPAN_ID
    assert got.context.trace_flags.sampled
    assert got.parent == remote
    assert got.parent is not None
    assert got.parent.is_remote
    # And an unsampled remote parent: dropped.
    unsampled = SpanContext(TRACE_ID, SPAN_ID, is_remote=True, trace_flags=TraceFlags(0))
    dropped = tracer.start_span("x", trace.set_span_in_context(NonRecordingSpan(unsampled)))
    assert not dropped.is_recording()
    assert dropped.get_span_context().trace_id == TRACE_ID


def test_ratio_sampler_samples_about_half_of_roots() -> None:
    _, tracer, memory = _setup(TraceIdRatioBased(0.5))
    for _ in range(2000):
        tracer.start_span("r").end()
    assert 800 <= len(memory.get_finished_spans()) <= 1200


def _decoded(span: ReadableSpan) -> tuple[ExportTraceServiceRequest, PbSpan]:
    request = ExportTraceServiceRequest.FromString(encode_spans([span]).SerializeToString())
    (resource_spans,) = request.resource_spans
    (scope_spans,) = resource_spans.scope_spans
    (pb_span,) = scope_spans.spans
    return request, pb_span


def test_otlp_encoding_matches_the_sdk_span() -> None:
    sdk, tracer, memory = _setup()
    attributes: dict[str, AttributeValue] = {"s": "x", "i": 3, "f": 1.5, "seq": ("a", "b")}
    for source in (tracer, sdk.get_tracer("test")):
        with (
            pytest.raises(RuntimeError),
            source.start_as_current_span("op", kind=SpanKind.CLIENT, attributes=attributes),
        ):
            raise RuntimeError("boom")
    ours, theirs = memory.get_finished_spans()
    assert isinstance(ours, spans.RecordedSpan)
    assert not isinstance(theirs, spans.RecordedSpan)
    ours_request, ours_pb = _decoded(ours)
    theirs_request, theirs_pb = _decoded(theirs)
    assert ours_pb.name == theirs_pb.name == "op"
    assert ours_pb.kind == theirs_pb.kind == PbSpan.SpanKind.SPAN_KIND_CLIENT
    assert ours_pb.attributes == theirs_pb.attributes
    assert len(ours_pb.attributes) == len(attributes)
    assert ours_pb.status == theirs_pb.status
    assert ours_pb.flags == theirs_pb.flags
    assert [e.name for e in ours_pb.events] == [e.name for e in theirs_pb.events]
    ours_event = {a.key: a.value for a in ours_pb.events[0].attributes}
    theirs_event = {a.key: a.value for a in theirs_pb.events[0].attributes}
    assert set(ours_event) == set(theirs_event)
    for key in ("exception.type", "exception.message", "exception.escaped"):
        assert ours_event[key] == theirs_event[key], key
    assert ours_request.resource_spans[0].resource == theirs_request.resource_spans[0].resource
    assert (
        ours_request.resource_spans[0].scope_spans[0].scope
        == theirs_request.resource_spans[0].scope_spans[0].scope
    )
    # Both in one request: one resource (the same object), spans grouped under it.
    both = encode_spans([ours, theirs])
    assert len(both.resource_spans) == 1


def test_hashed_resource_equals_a_plain_resource() -> None:
    attributes: dict[str, AttributeValue] = {"service.name": "svc", "n": 1}
    hashed = spans.HashedResource(attributes, "https://example.com/s")
    plain = Resource(attributes, "https://example.com/s")
    assert hashed == plain
    assert hash(hashed) == hash(plain)
    assert hash(hashed) == hash(hashed)
    assert hashed.attributes == plain.attributes
    assert hashed != Resource({"service.name": "other"}, "https://example.com/s")
    assert hash(spans.HashedResource(None)) == hash(Resource({}))
    assert len({hashed, plain}) == 1


def test_events_links_and_rename_are_exported() -> None:
    _, tracer, memory = _setup()
    span = tracer.start_span("before")
    span.add_event("cache.miss", {"key": "k"}, timestamp=123)
    span.add_event("plain")
    linked = SpanContext(TRACE_ID, SPAN_ID, is_remote=True, trace_flags=TraceFlags(1))
    span.add_link(linked, {"why": "batch"})
    span.add_link(trace.INVALID_SPAN_CONTEXT)
    span.update_name("after")
    span.end()
    span.update_name("too late")
    span.add_event("too late")
    span.add_link(linked)
    got = _one(memory)
    assert got.name == "after"
    assert [e.name for e in got.events] == ["cache.miss", "plain"]
    assert dict(got.events[0].attributes or {}) == {"key": "k"}
    assert got.events[0].timestamp == 123
    assert got.events[1].timestamp > 0
    assert len(got.links) == 1
    assert got.links[0].context == linked
    assert dict(got.links[0].attributes or {}) == {"why": "batch"}


def test_span_used_directly_as_context_manager_records_like_the_sdk() -> None:
    # The SDK Span's __exit__ records the exception and sets ERROR (record_exception and
    # set_status_on_exception of start_span); ours does the same.
    _, tracer, memory = _setup()
    with pytest.raises(ValueError, match="x"), tracer.start_span("direct"):
        raise ValueError("x")
    got = _one(memory)
    assert got.status.status_code is StatusCode.ERROR
    assert [e.name for e in got.events] == ["exception"]
