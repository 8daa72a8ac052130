"""Tracing's cost at several sampling ratios in one process, rounds interleaved (issue 13).

Separate processes differ by more than the effect measured (bench/inproc_cpu.py: up to
~10 % between runs), so this builds one app with tracing on, exporting over OTLP/HTTP like
`graphql-api serve` does (run `bench/otlp_sink.py` or a collector at the endpoint), and
switches the sampler's ratio between rounds: every ratio sees the same process, heap and
machine weather. Tracing off (no OTEL_* at all) is a different process: compare it with
bench/inproc_cpu.py, interleaved.

    python bench/otlp_sink.py --port 4318 &
    OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:4318 python bench/tracing_ab.py 100 off 0 0.1 1

Modes: `off` (the server span unwrapped and the libraries unpatched between its rounds, as
without OTEL_*), `bare` (also without face/observe.py's request line, metrics and operation
observer: the build before issue 13, roughly), or a sampling ratio. Prints, per mode, the
median and the best CPU microseconds per announcements page over the rounds (REPEATS,
default 8, rounds of N x 8 concurrent requests per mode).
"""

from __future__ import annotations

import asyncio
import os
import statistics
import sys
from collections.abc import Sequence

from inproc_cpu import cpu_per_request, one
from opentelemetry import context, trace
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult
from opentelemetry.sdk.trace.sampling import (
    ParentBased,
    Sampler,
    SamplingResult,
    TraceIdRatioBased,
)
from opentelemetry.trace import Link, SpanKind, TraceState
from opentelemetry.util.types import Attributes

from graphql_api.core.config import Settings
from graphql_api.core.telemetry import tracing
from graphql_api.face.app import create_app


class Switch(Sampler):
    """parentbased_traceidratio whose ratio the benchmark sets between rounds."""

    def __init__(self) -> None:
        self.current: Sampler = ParentBased(TraceIdRatioBased(0.0))

    def set(self, ratio: float) -> None:
        self.current = ParentBased(TraceIdRatioBased(ratio))

    def should_sample(
        self,
        parent_context: context.Context | None,
        trace_id: int,
        name: str,
        kind: SpanKind | None = None,
        attributes: Attributes = None,
        links: Sequence[Link] | None = None,
        trace_state: TraceState | None = None,
    ) -> SamplingResult:
        return self.current.should_sample(
            parent_context, trace_id, name, kind, attributes, links, trace_state
        )

    def get_description(self) -> str:
        return "Switch"


class NoExport(SpanExporter):
    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        return SpanExportResult.SUCCESS


def _unobserve(operations: object) -> dict[str, object]:
    """Take the observer's wrappers off an Operations instance; returns them."""
    names = ("prepare", "execute", "subscribe")
    return {name: vars(operations).pop(name) for name in names}


async def main(rounds: int, modes: list[str], repeats: int) -> None:
    switch = Switch()
    # EXPORTER=none: spans are batched and dropped, to see what encoding and sending cost.
    exporter = NoExport() if os.environ.get("EXPORTER") == "none" else None
    provider = tracing.build(sampler=switch, exporter=exporter)
    # The app takes the SDK provider already set, as under `opentelemetry-instrument`.
    trace.set_tracer_provider(provider)
    settings = Settings.from_env()
    assert settings.tracing, "set OTEL_EXPORTER_OTLP_ENDPOINT"
    app = create_app(settings)
    figures: dict[str, list[float]] = {mode: [] for mode in modes}
    observer = app.graphql  # type: ignore[attr-defined]
    async with app.router.lifespan_context(app):
        for _ in range(200):
            await one(app)
        for _ in range(repeats):
            for mode in modes:
                if mode in ("off", "bare"):
                    # As without OTEL_*: no server span, libraries unpatched (the operation
                    # observer's one is_recording() check per request stays).
                    spans, observer.spans = observer.spans, None
                    tracing.uninstrument()
                if mode == "bare":
                    # Nor the request line, metrics or operation observer (face/observe.py).
                    app.graphql = observer.app  # type: ignore[attr-defined]
                    observed = _unobserve(observer.app.operations)
                if mode not in ("off", "bare"):
                    switch.set(float(mode))
                figures[mode].append(await cpu_per_request(app, rounds))
                if mode == "bare":
                    vars(observer.app.operations).update(observed)
                    app.graphql = observer  # type: ignore[attr-defined]
                if mode in ("off", "bare"):
                    observer.spans = spans
                    tracing.instrument(provider)
    provider.shutdown()
    medians = {mode: statistics.median(values) for mode, values in figures.items()}
    base = medians[modes[0]]
    for mode, values in figures.items():
        label = {"off": "tracing off", "bare": "no observability"}.get(mode, f"ratio {mode}")
        change = (medians[mode] / base - 1) * 100
        print(
            f"{label}: median {medians[mode]:.1f} us CPU/request ({change:+.1f} % against "
            f"{modes[0]}), best {min(values):.1f}, rounds {len(values)}"
        )


if __name__ == "__main__":
    arguments = sys.argv[1:]
    count = int(arguments[0]) if arguments else 100
    chosen = arguments[1:] or ["off", "0", "0.1", "1"]
    asyncio.run(main(count, chosen, int(os.environ.get("REPEATS", "8"))))
