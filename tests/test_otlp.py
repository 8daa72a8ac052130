"""Our OTLP span encoder against the library's (issue 13): the same ExportTraceServiceRequest
once decoded, for our spans and the SDK's, with every kind of field; and the exporter's
bytes as a real OTLP/HTTP receiver gets them."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace import TracerProvider as SdkTracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExportResult
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import (
    NonRecordingSpan,
    SpanContext,
    SpanKind,
    Status,
    StatusCode,
    TraceFlags,
    TraceState,
    set_span_in_context,
)

from graphql_api.core.telemetry import otlp, spans

ATTRIBUTES: dict[str, Any] = {
    "db.system": "postgresql",
    "db.statement": "SELECT id FROM announcements WHERE id = ANY($1)",
    "net.peer.port": 5432,
    "negative": -7,
    "big": 2**40,
    "ratio": 0.25,
    "flag": True,
    "off": False,
    "empty": "",
    "zero": 0,
    "names": ["a", "b"],
    "numbers": (1, 2, 3),
    "unicode": "Ünïcødé ✓",
}


def _finished(sdk: bool) -> list[ReadableSpan]:
    """The same spans made by the SDK's tracer or by ours: a root with every attribute
    type, an exception, a link and a trace state under a remote parent; a child; scopes."""
    resource = Resource.create({"service.name": "test", "deployment.environment": "ci"})
    provider = SdkTracerProvider(resource=resource)
    memory = InMemorySpanExporter()
    provider.add_span_processor(SimpleSpanProcessor(memory))
    source = provider if sdk else spans.TracerProvider(provider)
    tracer = source.get_tracer("one", "1.2.3")
    other = source.get_tracer("two")
    remote = SpanContext(
        0x4BF92F3577B34DA6A3CE929D0E0E4736,
        0x00F067AA0BA902B7,
        is_remote=True,
        trace_flags=TraceFlags(TraceFlags.SAMPLED),
        trace_state=TraceState([("vendor", "x1"), ("other", "y")]),
    )
    linked = SpanContext(0x1, 0x2, is_remote=False, trace_flags=TraceFlags(1))
    parent = set_span_in_context(NonRecordingSpan(remote))

    def run() -> None:
        with tracer.start_as_current_span(
            "POST /graphql", context=parent, kind=SpanKind.SERVER, attributes=ATTRIBUTES
        ) as root:
            root.add_link(linked, {"why": "batch"})
            root.add_event("note", {"n": 1}, timestamp=1_700_000_000_000_000_000)
            with other.start_as_current_span("SELECT", kind=SpanKind.CLIENT) as child:
                child.set_status(Status(StatusCode.OK))
            raise ValueError("bad")

    with pytest.raises(ValueError, match="bad"):
        run()
    return list(memory.get_finished_spans())


def _decoded(data: bytes) -> ExportTraceServiceRequest:
    request = ExportTraceServiceRequest()
    request.ParseFromString(data)
    return request


def _without_times(request: ExportTraceServiceRequest, ids: bool) -> ExportTraceServiceRequest:
    """Times (and, between two tracers' runs, ids) differ by construction."""
    copy = ExportTraceServiceRequest()
    copy.CopyFrom(request)
    for resource_spans in copy.resource_spans:
        for scope_spans in resource_spans.scope_spans:
            for span in scope_spans.spans:
                span.start_time_unix_nano = span.end_time_unix_nano = 0
                for event in span.events:
                    if event.name == "exception":
                        event.time_unix_nano = 0
                        for kv in event.attributes:
                            if kv.key == "exception.stacktrace":
                                kv.value.string_value = "-"
                if not ids:
                    span.span_id = b""
                    if not span.parent_span_id.startswith(b"\x00\xf0"):
                        span.parent_span_id = b""
    return copy


@pytest.mark.parametrize("sdk", [True, False], ids=["sdk spans", "our spans"])
def test_our_bytes_decode_to_what_the_library_builds(sdk: bool) -> None:
    finished = _finished(sdk)
    assert len(finished) == 2
    ours = _decoded(otlp.Encoder().request(finished))
    library = encode_spans(finished)
    assert ours == library
    # Twice through one encoder (its memo of attributes in use): the same again.
    encoder = otlp.Encoder()
    encoder.request(finished)
    assert _decoded(encoder.request(finished)) == library


def test_our_spans_encode_like_the_sdks() -> None:
    ours = _without_times(encode_spans(_finished(sdk=False)), ids=False)
    theirs = _without_times(encode_spans(_finished(sdk=True)), ids=False)
    assert ours == theirs


def test_values_the_library_refuses_are_skipped_not_fatal() -> None:
    provider = SdkTracerProvider()
    memory = InMemorySpanExporter()
    provider.add_span_processor(SimpleSpanProcessor(memory))
    tracer = spans.TracerProvider(provider).get_tracer("t")
    with tracer.start_as_current_span("x", attributes={"ok": 1, "odd": object()}):  # type: ignore[dict-item]
        pass
    (span,) = (
        _decoded(otlp.Encoder().request(memory.get_finished_spans()))
        .resource_spans[0]
        .scope_spans[0]
        .spans
    )
    assert [kv.key for kv in span.attributes] == ["ok"]


class _Receiver(BaseHTTPRequestHandler):
    bodies: list[tuple[str, bytes]] = []

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["content-length"]))
        self.bodies.append((self.path, body))
        self.send_response(200)
        self.send_header("content-type", "application/x-protobuf")
        self.send_header("content-length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def receiver() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Receiver)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    _Receiver.bodies = []
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/v1/traces"
    finally:
        server.shutdown()


def test_the_exporter_sends_our_encoding_over_otlp_http(receiver: str) -> None:
    finished = _finished(sdk=False)
    exporter = otlp.SpanExporter(endpoint=receiver)
    assert exporter.export(finished) is SpanExportResult.SUCCESS
    ((path, body),) = _Receiver.bodies
    assert path == "/v1/traces"
    assert _decoded(body) == encode_spans(finished)
    exporter.shutdown()  # type: ignore[no-untyped-call]
