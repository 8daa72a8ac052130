"""Read-API benchmark: typical frontend page queries at a fixed concurrency.

Run against a running server (start it with EXPOSE_SQL_COUNT=true to see statements per
request; RATE_LIMIT=false, since one client address spends an anonymous budget within a
second):

    RATE_LIMIT=false EXPOSE_SQL_COUNT=true graphql-api serve &
    BENCH_TOKEN=<access token of a member> python bench/read_api.py --concurrency 32 --duration 10

The response cache is off by default. Start a server with RESPONSE_CACHE=true and pass
--cached to run the same scenarios against it (anonymous or per user, as they are): the
cache's counters are read from /health/ready before and after each scenario, and the hit
rate of each scenario (warm-up included) and of the whole run is printed.

With --dialect postgraphile it sends PostGraphile v4's dialect of the same page queries
(same rows, same columns, same response shape) to another endpoint on the same database;
bench/compare.py runs both servers side by side and checks the rows match first.

The client is a minimal keep-alive HTTP/1.1 client on asyncio streams (uvloop when
installed) so that on a small machine it costs the server as little CPU as possible.
Each scenario reports req/s, p50/p95/p99 latency, errors, SQL statements per request (our
server's x-sql-statements header), and CPU per request: of the server process (found by the
port it listens on, or --server-pid), of PostgreSQL (--db-pid, the postmaster: its backends
are summed) and of this client. Server RSS is printed after the run. Only loopback URLs.
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
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlparse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from cache_counters import Counters, parse_counters, ready_request

# Our dialect. `announcements_page` is the query that earlier runs (bench/RESULTS.md, before
# 2026-11-29) called `announcements_with_business`; that name is still accepted.
SCENARIOS: dict[str, str] = {
    "announcements_page": """
query AnnouncementsPage {
  announcements(first: 20) {
    edges { node { id title organization category closesAt status
                   business { id name region } } }
    pageInfo { hasNextPage endCursor }
  }
}""",
    "businesses_page": """
query BusinessesPage {
  businesses(first: 20) {
    edges { node { id name region
                   announcements(first: 3) { edges { node { id title } } } } }
  }
}""",
    "flat_list_50": """
query SecuritiesPage {
  securities(first: 50) {
    edges { node { id symbol name market currency lastPrice priceUpdatedAt } }
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

# PostGraphile v4 (postgraphile@4 --dynamic-json --append-plugins
# postgraphile-plugin-connection-filter) on the same database: the same rows in the same
# order and the same columns, aliased so the response has our shape. Our defaults made
# explicit: announcements newest published first (published_at desc, id desc) without
# DRAFT rows (anonymous callers never see drafts: the connection-filter plugin's
# notEqualTo; `condition` only does equality); businesses by name (ours sorts on
# lower(name), which gives the same order on the seed data: bench/compare.py checks);
# securities by symbol. `nodeId` is PostGraphile's opaque global ID, the counterpart of
# our `id`.
_NOT_DRAFT = '{status: {notEqualTo: "DRAFT"}}'
POSTGRAPHILE_SCENARIOS: dict[str, str] = {
    "announcements_page": f"""
query AnnouncementsPage {{
  announcements: allAnnouncements(first: 20, orderBy: [PUBLISHED_AT_DESC, ID_DESC],
                                  filter: {_NOT_DRAFT}) {{
    edges {{ node {{ id: nodeId title organization category closesAt status
                   business: businessByBusinessId {{ id: nodeId name region }} }} }}
    pageInfo {{ hasNextPage endCursor }}
  }}
}}""",
    "businesses_page": f"""
query BusinessesPage {{
  businesses: allBusinesses(first: 20, orderBy: [NAME_ASC, ID_ASC]) {{
    edges {{ node {{ id: nodeId name region
                   announcements: announcementsByBusinessId(
                     first: 3, orderBy: [PUBLISHED_AT_DESC, ID_DESC], filter: {_NOT_DRAFT}
                   ) {{ edges {{ node {{ id: nodeId title }} }} }} }} }}
  }}
}}""",
    "flat_list_50": """
query SecuritiesPage {
  securities: allSecurities(first: 50, orderBy: [SYMBOL_ASC]) {
    edges { node { id: nodeId symbol name market currency lastPrice priceUpdatedAt } }
  }
}""",
}

DIALECTS: dict[str, dict[str, str]] = {"ours": SCENARIOS, "postgraphile": POSTGRAPHILE_SCENARIOS}
ALIASES = {"announcements_with_business": "announcements_page"}

DISCOVERY: dict[str, tuple[str, Callable[[dict[str, Any]], dict[str, Any]]]] = {
    "business_detail": ("{ businesses(first: 1) { edges { node { id } } } }",
                        lambda d: {"id": d["businesses"]["edges"][0]["node"]["id"]}),
    "briefing_of_the_day": ("{ briefings(first: 1) { edges { node { date } } } }",
                            lambda d: {"date": d["briefings"]["edges"][0]["node"]["date"]}),
    "portfolio_with_holdings": ("{ me { portfolios { id } } }",
                                lambda d: {"id": d["me"]["portfolios"][0]["id"]}),
}  # fmt: skip

LOOPBACK = {"127.0.0.1", "localhost", "::1"}


@dataclass
class Result:
    latencies: list[float] = field(default_factory=list)
    errors: int = 0
    statements: list[int] = field(default_factory=list)


@dataclass
class Measurement:
    """One scenario's figures; CPU figures are None when the process could not be read."""

    name: str
    requests: int
    rate: float
    p50_ms: float
    p95_ms: float
    p99_ms: float
    errors: int
    sql_per_request: float | None
    server_cpu_ms: float | None
    db_cpu_ms: float | None
    client_cpu_ms: float


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
        if "content-length" not in headers:
            raise OSError("response without Content-Length (chunked bodies are not supported)")
        body = await self.reader.readexactly(int(headers["content-length"]))
        return status, headers, body

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()


def check_loopback(url: str) -> None:
    host = urlparse(url).hostname or ""
    if host not in LOOPBACK:
        raise SystemExit(f"refusing {url}: this benchmark only targets 127.0.0.1")


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


async def graphql_once(
    url: str, query: str, token: str | None, variables: dict[str, Any] | None = None
) -> dict[str, Any]:
    parsed = urlparse(url)
    conn = Connection(parsed.hostname or "127.0.0.1", parsed.port or 80)
    try:
        _, _, body = await conn.request(build_request(url, query, variables or {}, token))
    finally:
        conn.close()
    result: dict[str, Any] = json.loads(body)
    return result


async def run_scenario(url: str, raw: bytes, concurrency: int, duration: float,
                       warmup: float, on_measure_start: Callable[[], None] | None = None,
                       ) -> Result:  # fmt: skip
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
                except (OSError, asyncio.IncompleteReadError, ValueError, IndexError):
                    conn.close()
                    conn = Connection(parsed.hostname or "127.0.0.1", parsed.port or 80)
                    result.errors += 1
                    await asyncio.sleep(0.01)
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

    async def mark_start() -> None:
        await asyncio.sleep(max(0.0, measure_from - time.perf_counter()))
        if on_measure_start is not None:
            on_measure_start()

    await asyncio.gather(mark_start(), *(worker() for _ in range(concurrency)))
    return result


def percentile(values: list[float], pct: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * pct))]


# --- server-side CPU and memory (psutil) ------------------------------------------------


def listening_pid(url: str) -> int | None:
    """The process listening on the URL's port on loopback or any address, if readable."""
    try:
        import psutil
    except ImportError:
        return None
    port = urlparse(url).port or 80
    with contextlib.suppress(psutil.Error, OSError):
        for conn in psutil.net_connections(kind="tcp"):
            if (
                conn.status == psutil.CONN_LISTEN
                and conn.laddr
                and conn.laddr.port == port
                and conn.laddr.ip in {"127.0.0.1", "0.0.0.0", "::1", "::"}
                and conn.pid
            ):
                return int(conn.pid)
    return None


class CpuProbe:
    """User+system CPU seconds of a process (with include_children: plus its children's).

    For PostgreSQL pass the postmaster: every backend is its child. Deltas are taken per
    PID, so a backend started inside the window counts from zero, and one that exits inside
    it loses its share (an undercount, noted in bench/RESULTS.md).
    """

    def __init__(self, pid: int | None, *, include_children: bool = False) -> None:
        self.pid = pid
        self.include_children = include_children
        self.process: Any = None
        if pid is not None:
            with contextlib.suppress(ImportError, Exception):
                import psutil

                self.process = psutil.Process(pid)

    def sample(self) -> dict[int, float] | None:
        """CPU seconds per PID, or None when the process cannot be read."""
        if self.process is None:
            return None
        import psutil

        try:
            processes = [self.process]
            if self.include_children:
                processes += self.process.children(recursive=True)
        except psutil.Error:
            return None
        times: dict[int, float] = {}
        for proc in processes:
            with contextlib.suppress(psutil.Error):
                cpu = proc.cpu_times()
                times[proc.pid] = cpu.user + cpu.system
        return times

    @staticmethod
    def delta(before: dict[int, float] | None, after: dict[int, float] | None) -> float | None:
        if before is None or after is None:
            return None
        return sum(value - before.get(pid, 0.0) for pid, value in after.items())

    def rss_mb(self) -> float | None:
        if self.process is None:
            return None
        with contextlib.suppress(Exception):
            return float(self.process.memory_info().rss) / 1e6
        return None


async def cache_counters(url: str) -> Counters | None:
    """The server's response cache counters (bench/cache_counters.py); None if it has none."""
    parsed = urlparse(url)
    conn = Connection(parsed.hostname or "127.0.0.1", parsed.port or 80)
    try:
        _, _, body = await conn.request(ready_request(url))
    except (OSError, asyncio.IncompleteReadError):
        return None
    finally:
        conn.close()
    return parse_counters(body)


async def discover_variables(url: str, name: str, token: str | None) -> dict[str, Any] | None:
    if name not in DISCOVERY:
        return {}
    query, pick = DISCOVERY[name]
    try:
        found = await graphql_once(url, query, token)
        variables: dict[str, Any] = pick(found["data"])
    except (KeyError, IndexError, TypeError):
        return None
    return variables


async def measure(
    url: str,
    name: str,
    query: str,
    variables: dict[str, Any],
    *,
    token: str | None,
    concurrency: int,
    duration: float,
    warmup: float,
    server: CpuProbe,
    db: CpuProbe,
) -> Measurement | None:
    """Run one scenario; CPU is sampled at the start and end of the measured window only."""
    raw = build_request(url, query, variables, token)
    before: dict[str, dict[int, float] | None] = {}
    client_before = [0.0]

    def start_window() -> None:
        before["server"] = server.sample()
        before["db"] = db.sample()
        client_before[0] = time.process_time()

    result = await run_scenario(url, raw, concurrency, duration, warmup, start_window)
    after_server, after_db, after_client = server.sample(), db.sample(), time.process_time()
    if not result.latencies:
        return None
    count = len(result.latencies)

    def per_request(seconds: float | None) -> float | None:
        return None if seconds is None else seconds * 1000 / count

    return Measurement(
        name=name,
        requests=count,
        rate=count / duration,
        p50_ms=percentile(result.latencies, 0.5) * 1000,
        p95_ms=percentile(result.latencies, 0.95) * 1000,
        p99_ms=percentile(result.latencies, 0.99) * 1000,
        errors=result.errors,
        sql_per_request=statistics.mean(result.statements) if result.statements else None,
        server_cpu_ms=per_request(CpuProbe.delta(before.get("server"), after_server)),
        db_cpu_ms=per_request(CpuProbe.delta(before.get("db"), after_db)),
        client_cpu_ms=(after_client - client_before[0]) * 1000 / count,
    )


def _fmt(value: float | None, spec: str) -> str:
    return "n/a" if value is None else format(value, spec)


HEADER = (
    f"{'scenario':24} {'req/s':>7} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8} {'errors':>6} "
    f"{'sql/req':>7} {'cpu ms/req':>10} {'db cpu ms':>9} {'client ms':>9}"
)


def format_row(m: Measurement) -> str:
    return (
        f"{m.name:24} {m.rate:7.0f} {m.p50_ms:8.2f} {m.p95_ms:8.2f} {m.p99_ms:8.2f} "
        f"{m.errors:6d} {_fmt(m.sql_per_request, '.1f'):>7} {_fmt(m.server_cpu_ms, '.2f'):>10} "
        f"{_fmt(m.db_cpu_ms, '.2f'):>9} {m.client_cpu_ms:9.2f}"
    )


def add_common_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--duration", type=float, default=10.0, help="seconds per scenario")
    parser.add_argument("--warmup", type=float, default=2.0, help="unmeasured seconds first")
    parser.add_argument(
        "--db-pid",
        type=int,
        default=None,
        help="PostgreSQL postmaster PID (first line of <data dir>/postmaster.pid): "
        "also report database CPU per request, summed over its backends",
    )


def resolve_names(requested: list[str] | None, dialect: str) -> list[str]:
    available = DIALECTS[dialect]
    names = [ALIASES.get(n, n) for n in requested] if requested else list(available)
    unknown = [n for n in names if n not in available]
    if unknown:
        raise SystemExit(f"not in the {dialect} dialect: {', '.join(unknown)}")
    return names


async def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--url", default="http://127.0.0.1:8000/graphql")
    parser.add_argument(
        "--dialect",
        choices=sorted(DIALECTS),
        default="ours",
        help="query dialect: ours, or PostGraphile v4's for the same pages",
    )
    add_common_arguments(parser)
    parser.add_argument("--scenario", action="append",
                        choices=sorted({*SCENARIOS, *POSTGRAPHILE_SCENARIOS, *ALIASES}),
                        help="run only these (repeatable); default all of the dialect")  # fmt: skip
    parser.add_argument(
        "--server-pid",
        type=int,
        default=None,
        help="PID of the server process; default the process listening on the URL's port",
    )
    parser.add_argument(
        "--token",
        default=os.environ.get("BENCH_TOKEN"),
        help="Bearer token (portfolio scenario); default $BENCH_TOKEN. Never printed.",
    )
    parser.add_argument(
        "--cached",
        action="store_true",
        help="the server runs with RESPONSE_CACHE=true: report its cache hit rate",
    )
    parser.add_argument(
        "--print-body",
        metavar="SCENARIO",
        help="print that scenario's JSON request body (for hey -D) and exit",
    )
    args = parser.parse_args()
    if args.print_body:
        name = resolve_names([args.print_body], args.dialect)[0]
        print(json.dumps({"query": DIALECTS[args.dialect][name], "variables": {}}))
        return 0
    check_loopback(args.url)

    names = resolve_names(args.scenario, args.dialect)
    server_pid = args.server_pid or listening_pid(args.url)
    server = CpuProbe(server_pid)
    db = CpuProbe(args.db_pid, include_children=True)
    shown = ["<token>" if arg == args.token else arg for arg in sys.argv]
    print(f"# {' '.join(shown)}")
    print(f"# server pid {server_pid or 'not found (no CPU figures)'}")
    print(HEADER)
    run_before = await cache_counters(args.url) if args.cached else None
    if args.cached and run_before is None:
        raise SystemExit("--cached: /health/ready shows no responseCache (RESPONSE_CACHE=true?)")
    for name in names:
        before = await cache_counters(args.url) if args.cached else None
        variables = await discover_variables(args.url, name, args.token)
        if variables is None:
            print(f"{name:24} skipped: no data to address it (needs auth or seed data)")
            continue
        m = await measure(
            args.url,
            name,
            DIALECTS[args.dialect][name],
            variables,
            token=args.token,
            concurrency=args.concurrency,
            duration=args.duration,
            warmup=args.warmup,
            server=server,
            db=db,
        )
        print(format_row(m) if m else f"{name:24} no successful requests", flush=True)
        after = await cache_counters(args.url) if before is not None else None
        if before is not None and after is not None:
            print(f"#   {name} cache: {(after - before).summary()}", flush=True)
    if run_before is not None:
        run_after = await cache_counters(args.url)
        if run_after is not None:
            print(f"# response cache over the run: {(run_after - run_before).summary()}")
    print(f"# server RSS after the run: {_fmt(server.rss_mb(), '.1f')} MB")
    return 0


if __name__ == "__main__":
    with contextlib.suppress(ImportError):
        import uvloop

        uvloop.install()
    sys.exit(asyncio.run(main()))
