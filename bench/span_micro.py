"""Per-span CPU of the SDK's spans against ours, and of the library's OTLP encoder against
ours (issue 13; bench/RESULTS.md). No server, no database:

    python bench/span_micro.py [N]

Prints microseconds of CPU per span, best of three rounds of N (default 20,000) spans with the
attributes of an asyncpg SQL span.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Sequence

from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExporter, SpanExportResult
from opentelemetry.trace import SpanKind, Tracer
from opentelemetry.util.types import AttributeValue

from graphql_api.core.telemetry import otlp, spans
from graphql_api.core.telemetry.spans import HashedResource

ATTRIBUTES: dict[str, AttributeValue] = {
    "db.system": "postgresql",
    "db.name": "graphql_api",
    "db.user": "postgres",
    "net.peer.name": "127.0.0.1",
    "net.peer.port": 5432,
    "net.transport": "ip_tcp",
    "db.statement": "SELECT businesses.id, businesses.name FROM businesses "
    "WHERE businesses.id = ANY ($1::BIGINT[])",
}


class Keep(SpanExporter):
    def __init__(self) -> None:
        self.spans: list[ReadableSpan] = []

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        self.spans.extend(spans)
        return SpanExportResult.SUCCESS


def per_call(work: Callable[[], None], count: int) -> float:
    best = float("inf")
    for _ in range(3):
        start = time.process_time()
        work()
        best = min(best, (time.process_time() - start) / count * 1e6)
    return best


def main(count: int) -> None:
    resource = Resource.create()
    provider = TracerProvider(resource=HashedResource(resource.attributes, resource.schema_url))
    kept = Keep()
    provider.add_span_processor(SimpleSpanProcessor(kept))
    tracers: dict[str, Tracer] = {
        "SDK span": provider.get_tracer("bench"),
        "our span": spans.TracerProvider(provider).get_tracer("bench"),
    }
    for label, tracer in tracers.items():

        def make(tracer: Tracer = tracer) -> None:
            for _ in range(count):
                with tracer.start_as_current_span(
                    "SELECT", kind=SpanKind.CLIENT, attributes=ATTRIBUTES
                ):
                    pass

        print(f"{label}, start to end (simple processor): {per_call(make, count):.1f} us")
    batch = kept.spans[:5000]
    encoder = otlp.Encoder()

    def library() -> None:
        for i in range(0, len(batch), 500):
            encode_spans(batch[i : i + 500]).SerializeToString()

    def ours() -> None:
        for i in range(0, len(batch), 500):
            encoder.request(batch[i : i + 500])

    print(f"library OTLP encoder: {per_call(library, len(batch)):.1f} us per span")
    print(f"our OTLP encoder: {per_call(ours, len(batch)):.1f} us per span")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 20_000)
