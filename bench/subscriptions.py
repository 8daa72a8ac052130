"""Subscription fan-out benchmark: N subscribers on one instance, one event (R17).

Self-contained: starts a throwaway PostgreSQL and redis-server (graphql_api.devtools.embedded, the
same code as the test suite), migrates, inserts one published announcement, starts ONE
server (`python -m uvicorn --factory graphql_api.face.app:create_app`), opens N raw
graphql-transport-ws clients (websockets library) that each subscribe to
`announcementPublished`, then publishes the event to Redis the way a writer does after its
commit. It reports:

- delivery latency per subscriber: from just before the PUBLISH to the moment that
  client's `next` message is received (p50/p90/p99/max), over all subscribers and events;
- the server's RSS (psutil on the uvicorn pid): before any client, with N idle
  subscriptions, and the peak sampled every 5 ms during delivery.

Clients and server share the machine (and the clients one event loop), so the client-side
cost of reading N frames is part of the measured latency.

    python bench/subscriptions.py                     # 1,000 subscribers, one event
    python bench/subscriptions.py --subscribers 5000 --events 3
    python bench/subscriptions.py --results bench/RESULTS.md   # also write the section

`--results` replaces only the "## Subscriptions" section of that file (appending it when
missing); other sections are left as they are.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import platform
import re
import resource
import shlex
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import orjson
import psutil
import redis.asyncio as aioredis
from sqlalchemy import insert
from sqlalchemy.ext.asyncio import create_async_engine
from websockets.asyncio.client import ClientConnection, connect
from websockets.typing import Subprotocol

from graphql_api.core.db.enums import AnnouncementStatus
from graphql_api.core.db.migrate import upgrade
from graphql_api.core.db.models import Announcement
from graphql_api.core.events import ANNOUNCEMENT_PUBLISHED, CHANNEL_PREFIX
from graphql_api.devtools.embedded import free_port, start_postgres, start_redis

REPO = Path(__file__).resolve().parent.parent
QUERY = "subscription { announcementPublished { id title organization category closesAt } }"
SECTION = "## Subscriptions"


@dataclass
class Run:
    subscribers: int
    events: int
    latencies_ms: list[float] = field(default_factory=list)
    errors: int = 0
    missing: int = 0
    connect_seconds: float = 0.0
    rss_start_mb: float = 0.0
    rss_idle_mb: float = 0.0
    rss_peak_mb: float = 0.0
    server_cpu_ms: float = 0.0  # server CPU (user + system) spent delivering, all events


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    index = min(len(ordered) - 1, max(0, round(q / 100 * len(ordered)) - 1))
    return ordered[index]


def rss_mb(process: psutil.Process) -> float:
    return float(process.memory_info().rss) / 2**20


async def wait_ready(base: str, subscriptions: int | None = None, within: float = 60.0) -> None:
    deadline = time.monotonic() + within
    async with httpx.AsyncClient(base_url=base, timeout=5) as http:
        while True:
            with contextlib.suppress(httpx.HTTPError):
                response = await http.get("/health/ready")
                body = response.json()
                if response.status_code == 200 and (
                    subscriptions is None or body.get("subscriptions") == subscriptions
                ):
                    return
            if time.monotonic() > deadline:
                raise TimeoutError(f"server at {base} not ready ({subscriptions} subscribers)")
            await asyncio.sleep(0.05)


async def receive(ws: ClientConnection) -> dict[str, Any]:
    while True:
        message: dict[str, Any] = orjson.loads(await ws.recv())
        if message.get("type") not in {"ping", "ka"}:
            return message


async def subscriber(url: str, ready: asyncio.Semaphore) -> ClientConnection:
    async with ready:
        ws = await connect(
            url,
            subprotocols=[Subprotocol("graphql-transport-ws")],
            ping_interval=None,
            max_queue=64,
        )
        await ws.send(json.dumps({"type": "connection_init", "payload": {}}))
        ack = await receive(ws)
        assert ack == {"type": "connection_ack"}, ack
        await ws.send(json.dumps({"id": "1", "type": "subscribe", "payload": {"query": QUERY}}))
        return ws


async def sample_peak(process: psutil.Process, run: Run, stop: asyncio.Event) -> None:
    while not stop.is_set():
        run.rss_peak_mb = max(run.rss_peak_mb, rss_mb(process))
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(0.005):
                await stop.wait()


async def deliver(
    clients: list[ClientConnection], redis_url: str, announcement_id: int, run: Run
) -> None:
    async def one(ws: ClientConnection, t0: float) -> None:
        message = await receive(ws)
        elapsed = (time.perf_counter() - t0) * 1000
        payload = message.get("payload") or {}
        if message.get("type") != "next" or payload.get("errors"):
            run.errors += 1
            return
        run.latencies_ms.append(elapsed)

    redis = aioredis.Redis.from_url(redis_url)
    try:
        t0 = time.perf_counter()
        waiting = [asyncio.create_task(one(ws, t0)) for ws in clients]
        await redis.publish(
            CHANNEL_PREFIX + ANNOUNCEMENT_PUBLISHED, orjson.dumps({"id": announcement_id})
        )
        done, pending = await asyncio.wait(waiting, timeout=60)
        run.missing += len(pending)
        for task in pending:
            task.cancel()
        for task in done:
            task.result()
    finally:
        await redis.aclose()


async def seed(database_url: str, events: int) -> list[int]:
    """One published announcement per event (the rows the events announce)."""
    engine = create_async_engine(database_url)
    now = datetime.now(UTC)
    rows = [
        {
            "title": f"Benchmark call {n}",
            "body": "Body",
            "organization": "Ministry of SMEs",
            "category": "funding",
            "status": AnnouncementStatus.PUBLISHED,
            "opens_at": now,
            "closes_at": now + timedelta(days=30),
            "published_at": now,
        }
        for n in range(events)
    ]
    try:
        async with engine.begin() as conn:
            result = await conn.execute(insert(Announcement).returning(Announcement.id), rows)
            return [row[0] for row in result]
    finally:
        await engine.dispose()


def start_server(
    port: int, env: dict[str, str], log_path: Path, extra: list[str]
) -> subprocess.Popen[bytes]:
    command = [sys.executable, "-m", "uvicorn", "--factory", "graphql_api.face.app:create_app",
               "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning",
               *extra]  # fmt: skip
    with open(log_path, "wb") as log:
        return subprocess.Popen(command, env=env, cwd=REPO, stdout=log, stderr=log)


async def bench(args: argparse.Namespace, work: Path) -> Run:
    postgres = start_postgres(
        data_dir=work / "postgres", cache_dir=work, durable=False, log_file=work / "postgres.log"
    )
    redis_server = None
    server: subprocess.Popen[bytes] | None = None
    clients: list[ClientConnection] = []
    try:
        admin = await asyncpg.connect(postgres.url().replace("postgresql+asyncpg", "postgresql"))
        try:
            await admin.execute('CREATE DATABASE "bench"')
        finally:
            await admin.close()
        database_url = postgres.url("bench")
        await upgrade(url=database_url)
        announcement_ids = await seed(database_url, args.events)
        redis_server = start_redis(data_dir=work / "redis", log_file=work / "redis.log")

        port = free_port()
        env = {
            **os.environ,
            "ENV": "test",
            "DATABASE_URL": database_url,
            "REDIS_URL": redis_server.url,
            "JWT_SECRET": "bench-" + "x" * 40,
            "AUTO_MIGRATE": "false",
            "SEED_DEMO_DATA": "false",
            "GRAPHIQL": "false",
            # 1,000 subscribers from one address would spend an anonymous budget: this
            # measures fan-out, not the limiter.
            "RATE_LIMIT": "false",
        }
        server = start_server(port, env, work / "server.log", shlex.split(args.uvicorn_args))
        base = f"http://127.0.0.1:{port}"
        await wait_ready(base)
        process = psutil.Process(server.pid)
        run = Run(subscribers=args.subscribers, events=args.events)
        run.rss_start_mb = rss_mb(process)

        started = time.perf_counter()
        gate = asyncio.Semaphore(args.connect_concurrency)
        url = f"ws://127.0.0.1:{port}/graphql"
        clients = list(
            await asyncio.gather(*(subscriber(url, gate) for _ in range(args.subscribers)))
        )
        await wait_ready(base, subscriptions=args.subscribers)
        run.connect_seconds = time.perf_counter() - started
        await asyncio.sleep(1.0)  # let the server settle before measuring
        run.rss_idle_mb = rss_mb(process)
        run.rss_peak_mb = run.rss_idle_mb

        stop = asyncio.Event()
        sampler = asyncio.create_task(sample_peak(process, run, stop))
        try:
            for announcement_id in announcement_ids:
                before = process.cpu_times()
                await deliver(clients, redis_server.url, announcement_id, run)
                after = process.cpu_times()
                run.server_cpu_ms += (
                    after.user + after.system - before.user - before.system
                ) * 1000
                await asyncio.sleep(0.5)
        finally:
            stop.set()
            await sampler
        return run
    finally:
        await asyncio.gather(*(ws.close() for ws in clients), return_exceptions=True)
        if server is not None and server.poll() is None:
            server.send_signal(signal.SIGTERM)
            try:
                server.wait(timeout=20)
            except subprocess.TimeoutExpired:
                server.kill()
        if redis_server is not None:
            redis_server.stop()
        postgres.stop()


def machine() -> str:
    model = platform.processor() or platform.machine()
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    memory = psutil.virtual_memory().total / 2**30
    return (
        f"{os.cpu_count()} cores ({model}), {memory:.0f} GB RAM, "
        f"{platform.system()} {platform.release()}, Python {platform.python_version()}"
    )


def report(run: Run, command: str) -> str:
    values = run.latencies_ms
    deliveries = run.subscribers * run.events

    def ms(value: float) -> str:
        return f"{value:.1f} ms"

    per_subscriber_kb = (run.rss_idle_mb - run.rss_start_mb) * 1024 / max(1, run.subscribers)
    lines = [
        SECTION,
        "",
        f"Run on {datetime.now(UTC).date().isoformat()} with:",
        "",
        "```",
        command,
        "```",
        "",
        f"Machine: {machine()}. Server, PostgreSQL, Redis and the clients share it.",
        "",
        "| measure | value |",
        "|---|---|",
        f"| subscribers (graphql-transport-ws, one instance) | {run.subscribers:,} |",
        f"| events | {run.events} |",
        f"| deliveries received | {len(values):,} of {deliveries:,} |",
        f"| errors / missing | {run.errors} / {run.missing} |",
        f"| latency p50 | {ms(statistics.median(values)) if values else '-'} |",
        f"| latency p90 | {ms(percentile(values, 90))} |",
        f"| latency p99 | {ms(percentile(values, 99))} |",
        f"| latency max | {ms(max(values)) if values else '-'} |",
        f"| server CPU per event (all {run.subscribers:,} deliveries) | "
        f"{run.server_cpu_ms / max(1, run.events):.0f} ms |",
        f"| connect + subscribe all | {run.connect_seconds:.2f} s |",
        f"| server RSS before clients | {run.rss_start_mb:.1f} MB |",
        f"| server RSS with all subscribed (idle) | {run.rss_idle_mb:.1f} MB |",
        f"| server RSS peak during delivery | {run.rss_peak_mb:.1f} MB |",
        f"| RSS per idle subscriber | {per_subscriber_kb:.1f} KB |",
        "",
        "Latency: from just before the event's PUBLISH to Redis to each client's receipt of "
        "its `next` message (`announcementPublished { id title organization category "
        "closesAt }`, no filter: one shared SQL read per event, resolved per subscriber with "
        "its own fresh loaders).",
        "",
    ]
    return "\n".join(lines)


def write_section(path: Path, section: str) -> None:
    text = path.read_text() if path.exists() else "# Benchmark results\n"
    pattern = re.compile(rf"^{re.escape(SECTION)}\n.*?(?=^## |\Z)", re.DOTALL | re.MULTILINE)
    if pattern.search(text):
        text = pattern.sub(lambda _: section + "\n", text, count=1)
    else:
        text = text.rstrip("\n") + "\n\n" + section + "\n"
    path.write_text(text.rstrip("\n") + "\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--subscribers", type=int, default=1000)
    parser.add_argument("--events", type=int, default=1, help="events, one after the other")
    parser.add_argument("--connect-concurrency", type=int, default=100)
    parser.add_argument("--results", type=Path, help="write the Subscriptions section here")
    parser.add_argument(
        "--uvicorn-args",
        default="",
        help="extra uvicorn options, e.g. '--ws-per-message-deflate false'",
    )
    args = parser.parse_args()
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = min(hard, max(soft, 2 * args.subscribers + 256))
    resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))  # inherited by the server

    with contextlib.suppress(ImportError):
        import uvloop

        uvloop.install()
    work = Path(tempfile.mkdtemp(prefix="bench-subscriptions-"))
    try:
        run = asyncio.run(bench(args, work))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    command = "python " + " ".join(shlex.quote(a) for a in [str(Path(sys.argv[0])), *sys.argv[1:]])
    section = report(run, command)
    print(section)
    if args.results is not None:
        write_section(args.results, section)


if __name__ == "__main__":
    main()
