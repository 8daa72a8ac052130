"""Read-API benchmark: typical frontend page queries at a fixed concurrency.

Run against a running server (start it with EXPOSE_SQL_COUNT=true to see statements per
request):

    EXPOSE_SQL_COUNT=true graphql-api serve &
    BENCH_TOKEN=<access token of a member> python bench/read_api.py --concurrency 32 --duration 10

The client is a minimal keep-alive HTTP/1.1 client on asyncio streams (uvloop when
installed) so that on a small machine it costs the server as little CPU as possible.
Each scenario reports req/s, p50/p99 latency, errors and SQL statements per request.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import statistics
import sys
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlparse

SCENARIOS: dict[str, str] = {
    "announcements_with_business": """
query AnnouncementsPage {
  announcements(first: 20) {
    edges { node { id title organization category closesAt status
                   business { id name region } } }
    pageInfo { hasNextPage endCursor }
  }
}""",
    "business_detail": """
query BusinessDetail($id: ID!) {
  node(id: $id) {
    ... on Business {
      id name industry size region foundedOn employeeCount
      matchingAnnouncements(first: 10) { id title closesAt organization }
      announcements(first: 5) { edges { node { id title status } } }
      successRate
    }
  }
}""",
    "briefing_of_the_day": """
query BriefingOfTheDay($date: Date!) {
  briefing(date: $date) {
    id date title summary narrative
    topKeywords { keyword score }
    marketSnapshot
    relatedCases(first: 5) { id title occurredOn keywords }
    glossaryTerms { id term definition }
  }
}""",
    "portfolio_with_holdings": """
query PortfolioPage($id: ID!) {
  portfolio(id: $id) {
    id name cashBalance totalValue unrealizedPnl
    holdings { quantity averageCost marketValue security { symbol name lastPrice } }
    transactions(first: 10) { edges { node { side quantity price executedAt
                                             security { symbol } } } }
  }
}""",
}

DISCOVERY = {
    "business_detail": ("{ businesses(first: 1) { edges { node { id } } } }",
                        lambda d: {"id": d["businesses"]["edges"][0]["node"]["id"]}),
    "briefing_of_the_day": ("{ briefings(first: 1) { edges { node { date } } } }",
                            lambda d: {"date": d["briefings"]["edges"][0]["node"]["date"]}),
    "portfolio_with_holdings": ("{ me { portfolios { id } } }",
                                lambda d: {"id": d["me"]["portfolios"][0]["id"]}),
}  # fmt: skip


@dataclass
class Result:
    latencies: list[float] = field(default_factory=list)
    errors: int = 0
    statements: list[int] = field(default_factory=list)


class Connection:
    """One keep-alive HTTP/1.1 connection sending a prebuilt request."""

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def request(self, raw: bytes) -> tuple[int, dict[str, str], bytes]:
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        assert self.reader is not None
        self.writer.write(raw)
        head = await self.reader.readuntil(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split(" ", 2)[1])
        headers = {}
        for line in lines[1:]:
            if ":" in line:
                key, value = line.split(":", 1)
                headers[key.strip().lower()] = value.strip()
        body = await self.reader.readexactly(int(headers.get("content-length", "0")))
        return status, headers, body

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()


def build_request(url: str, query: str, variables: dict[str, Any], token: str | None) -> bytes:
    parsed = urlparse(url)
    body = json.dumps({"query": query, "variables": variables}).encode()
    headers = [
        f"POST {parsed.path or '/'} HTTP/1.1",
        f"Host: {parsed.netloc}",
        "Content-Type: application/json",
        f"Content-Length: {len(body)}",
    ]
    if token:
        headers.append(f"Authorization: Bearer {token}")
    return ("\r\n".join(headers) + "\r\n\r\n").encode() + body


async def graphql_once(url: str, query: str, token: str | None) -> dict[str, Any]:
    parsed = urlparse(url)
    conn = Connection(parsed.hostname or "127.0.0.1", parsed.port or 80)
    try:
        _, _, body = await conn.request(build_request(url, query, {}, token))
    finally:
        conn.close()
    result: dict[str, Any] = json.loads(body)
    return result


async def run_scenario(url: str, raw: bytes, concurrency: int, duration: float,
                       warmup: float) -> Result:  # fmt: skip
    parsed = urlparse(url)
    result = Result()
    start = time.perf_counter()
    measure_from = start + warmup
    stop_at = measure_from + duration

    async def worker() -> None:
        conn = Connection(parsed.hostname or "127.0.0.1", parsed.port or 80)
        try:
            while (now := time.perf_counter()) < stop_at:
                try:
                    status, headers, body = await conn.request(raw)
                except (OSError, asyncio.IncompleteReadError):
                    conn.close()
                    conn = Connection(parsed.hostname or "127.0.0.1", parsed.port or 80)
                    result.errors += 1
                    continue
                done = time.perf_counter()
                if now < measure_from:
                    continue
                result.latencies.append(done - now)
                if status != 200 or b'"errors"' in body:
                    result.errors += 1
                if "x-sql-statements" in headers:
                    result.statements.append(int(headers["x-sql-statements"]))
        finally:
            conn.close()

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return result


def percentile(values: list[float], pct: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * pct))]


async def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--url", default="http://127.0.0.1:8000/graphql")
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--duration", type=float, default=10.0, help="seconds per scenario")
    parser.add_argument("--warmup", type=float, default=2.0, help="unmeasured seconds first")
    parser.add_argument("--scenario", action="append", choices=sorted(SCENARIOS),
                        help="run only these (repeatable); default all")  # fmt: skip
    parser.add_argument(
        "--token",
        default=os.environ.get("BENCH_TOKEN"),
        help="Bearer token (portfolio scenario); default $BENCH_TOKEN. Never printed.",
    )
    args = parser.parse_args()

    names = args.scenario or list(SCENARIOS)
    shown = ["<token>" if arg == args.token else arg for arg in sys.argv]
    print(f"# {' '.join(shown)}")
    print(f"{'scenario':32} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'errors':>7} {'sql/req':>8}")
    for name in names:
        variables: dict[str, Any] = {}
        if name in DISCOVERY:
            query, pick = DISCOVERY[name]
            try:
                found = await graphql_once(args.url, query, args.token)
                variables = pick(found["data"])
            except (KeyError, IndexError, TypeError):
                print(f"{name:32} skipped: no data to address it (needs auth or seed data)")
                continue
        raw = build_request(args.url, SCENARIOS[name], variables, args.token)
        result = await run_scenario(args.url, raw, args.concurrency, args.duration, args.warmup)
        if not result.latencies:
            print(f"{name:32} no successful requests")
            continue
        rate = len(result.latencies) / args.duration
        sql = f"{statistics.mean(result.statements):.1f}" if result.statements else "n/a"
        print(
            f"{name:32} {rate:9.0f} {percentile(result.latencies, 0.5) * 1000:8.2f} "
            f"{percentile(result.latencies, 0.99) * 1000:8.2f} {result.errors:7d} {sql:>8}"
        )
    return 0


if __name__ == "__main__":
    with contextlib.suppress(ImportError):
        import uvloop

        uvloop.install()
    sys.exit(asyncio.run(main()))
