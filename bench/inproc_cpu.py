"""CPU per request of the announcements page through the whole ASGI app, in process.

No sockets, no load generator, no other process on the CPU: the figure still moves by up
to ~10 % between runs on this 2-core machine (HTTP benchmarks: 15-40 %), so interleave the
variants and repeat them; an A/B about per-request overhead (tracing on/off, a wrapper)
then takes a minute.
Settings come from the environment, as for `graphql-api serve` (DATABASE_URL, REDIS_URL,
JWT_SECRET, OTEL_*):

    LABEL=off python bench/inproc_cpu.py 100
    LABEL=10pct OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:4318 \\
      OTEL_TRACES_SAMPLER=parentbased_traceidratio OTEL_TRACES_SAMPLER_ARG=0.1 \\
      python bench/inproc_cpu.py 100

Prints the best of five rounds of N x 8 concurrent requests (after 200 to warm up).
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import time
from typing import Any

from graphql_api.core.config import Settings
from graphql_api.face.app import create_app

PAGE = (
    "query AnnouncementsPage { announcements(first: 20) { edges { node { id title "
    "organization category status closesAt business { id name } } } "
    "pageInfo { hasNextPage endCursor } } }"
)
BODY = json.dumps({"query": PAGE}).encode()
SCOPE: dict[str, Any] = {
    "type": "http",
    "asgi": {"version": "3.0"},
    "http_version": "1.1",
    "method": "POST",
    "scheme": "http",
    "path": "/graphql",
    "raw_path": b"/graphql",
    "query_string": b"",
    "root_path": "",
    "headers": [(b"content-type", b"application/json"), (b"host", b"x")],
    "client": ("127.0.0.1", 1),
    "server": ("127.0.0.1", 80),
}


async def one(app: Any) -> None:
    """One announcements page through the app, as uvicorn would call it."""
    sent = False

    async def receive() -> dict[str, Any]:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": BODY, "more_body": False}
        await asyncio.sleep(3600)
        raise AssertionError("the app read past the body")

    out: list[dict[str, Any]] = []

    async def send(message: dict[str, Any]) -> None:
        out.append(message)

    await app({**SCOPE, "state": {}}, receive, send)
    assert out[0]["status"] == 200, out


async def cpu_per_request(app: Any, rounds: int) -> float:
    """CPU microseconds per request over `rounds` x 8 concurrent requests."""
    start = time.process_time()
    for _ in range(rounds):
        await asyncio.gather(*(one(app) for _ in range(8)))
    return (time.process_time() - start) / (rounds * 8) * 1e6


async def main(rounds: int) -> None:
    app = create_app(Settings.from_env())
    async with app.router.lifespan_context(app):
        for _ in range(200):
            await one(app)
        best = min([await cpu_per_request(app, rounds) for _ in range(5)])
        print(f"{os.environ.get('LABEL', '?')}: {best:.1f} us CPU/request (best of 5)")


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1]) if len(sys.argv) > 1 else 200))
