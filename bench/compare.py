"""Side by side: our server and another GraphQL server on the same database, same pages.

    python bench/compare.py --ours http://127.0.0.1:8100/graphql \\
        --other http://127.0.0.1:5100/graphql --dialect postgraphile \\
        --db-pid "$(head -1 /tmp/bench-home/postgres/postmaster.pid)" --rounds 3

First it checks that both servers return the same rows and columns for every scenario (IDs
compared by primary key, cursors ignored), then it runs each scenario against one server
at a time with the same client and concurrency (bench/read_api.py's), alternating which
server goes first in each round, and prints a Markdown table: for each server and scenario
the round with the median req/s. See bench/RESULTS.md for how to start both servers.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import json
import os
import statistics
import sys
from datetime import datetime
from typing import Any

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from read_api import (
    DIALECTS,
    HEADER,
    SCENARIOS,
    CpuProbe,
    Measurement,
    add_common_arguments,
    check_loopback,
    format_row,
    graphql_once,
    listening_pid,
    measure,
)


def primary_key(global_id: str) -> Any:
    """The primary key in our IDs (base64 "Type:pk") and PostGraphile's (base64 JSON)."""
    raw = base64.urlsafe_b64decode(global_id + "=" * (-len(global_id) % 4)).decode()
    if raw.startswith("["):
        return json.loads(raw)[-1]
    return int(raw.rpartition(":")[2])


def normalise(value: Any, key: str = "") -> Any:
    if isinstance(value, dict):
        return {k: normalise(v, k) for k, v in value.items() if k != "endCursor"}
    if isinstance(value, list):
        return [normalise(v) for v in value]
    if key == "id" and isinstance(value, str):
        return primary_key(value)
    if isinstance(value, str) and len(value) >= 19 and value[4:5] == "-" and value[10:11] == "T":
        with contextlib.suppress(ValueError):
            return datetime.fromisoformat(value.replace("Z", "+00:00"))
    return value


def differences(a: Any, b: Any, path: str = "data") -> list[str]:
    if isinstance(a, dict) and isinstance(b, dict):
        found = [f"{path}.{k}: only on one side" for k in sorted(set(a) ^ set(b))]
        for k in sorted(set(a) & set(b)):
            found += differences(a[k], b[k], f"{path}.{k}")
        return found
    if isinstance(a, list) and isinstance(b, list):
        found = [f"{path}: {len(a)} vs {len(b)} items"] if len(a) != len(b) else []
        for i, (x, y) in enumerate(zip(a, b, strict=False)):
            found += differences(x, y, f"{path}[{i}]")
        return found
    return [] if a == b else [f"{path}: {a!r} vs {b!r}"]


async def same_rows(ours: str, other: str, dialect: str, name: str) -> list[str]:
    mine = await graphql_once(ours, SCENARIOS[name], None)
    theirs = await graphql_once(other, DIALECTS[dialect][name], None)
    for label, answer in (("ours", mine), (dialect, theirs)):
        if answer.get("errors") or not answer.get("data"):
            return [f"{label} answered with errors: {json.dumps(answer.get('errors'))[:300]}"]
    return differences(normalise(mine["data"]), normalise(theirs["data"]))


def median_run(runs: list[Measurement]) -> Measurement:
    return sorted(runs, key=lambda m: m.rate)[len(runs) // 2]


def _cell(value: float | None, spec: str) -> str:
    return "n/a" if value is None else format(value, spec)


async def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--ours", default="http://127.0.0.1:8100/graphql", help="our server")
    parser.add_argument("--other", default="http://127.0.0.1:5100/graphql", help="the other")
    parser.add_argument(
        "--dialect",
        choices=sorted(DIALECTS),
        default="postgraphile",
        help="query dialect of the other server (ours: an A/B of two of our servers, e.g. "
        "with and without the protection layer)",
    )
    parser.add_argument("--ours-label", default="ours", help="name of --ours in the output")
    parser.add_argument("--other-label", default=None, help="default: the dialect's name")
    add_common_arguments(parser)
    parser.add_argument("--rounds", type=int, default=1, help="runs per server and scenario")
    parser.add_argument("--ours-pid", type=int, default=None, help="default: by its port")
    parser.add_argument("--other-pid", type=int, default=None, help="default: by its port")
    parser.add_argument("--scenario", action="append", help="only these (repeatable)")
    parser.add_argument(
        "--server",
        action="append",
        metavar="LABEL=URL",
        help="instead of --ours/--other: two or more of our servers (repeatable), rounds "
        "rotating which goes first (e.g. tracing off, 10 %% sampling, an older build)",
    )
    args = parser.parse_args()
    if args.server:
        return await _several(args)
    check_loopback(args.ours)
    check_loopback(args.other)

    names = args.scenario or list(DIALECTS[args.dialect])
    unknown = [n for n in names if n not in DIALECTS[args.dialect]]
    if unknown:
        raise SystemExit(f"not in the {args.dialect} dialect: {', '.join(unknown)}")
    other_label = args.other_label or args.dialect
    if other_label == args.ours_label:
        raise SystemExit("give the two servers different labels (--other-label)")
    sides = {
        args.ours_label: (
            args.ours,
            "ours",
            CpuProbe(args.ours_pid or listening_pid(args.ours)),
        ),
        other_label: (
            args.other,
            args.dialect,
            CpuProbe(args.other_pid or listening_pid(args.other)),
        ),
    }
    db = CpuProbe(args.db_pid, include_children=True)
    print(f"# {' '.join(sys.argv)}")
    print(f"# load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    for label, (_, _, probe) in sides.items():
        print(f"# {label} server pid {probe.pid or 'not found (no CPU figures)'}")

    checks: dict[str, bool] = {}
    for name in names:
        found = await same_rows(args.ours, args.other, args.dialect, name)
        checks[name] = not found
        print(f"# same rows and columns, {name}: {'yes' if not found else 'NO'}")
        for line in found[:5]:
            print(f"#   {line}")

    runs: dict[tuple[str, str], list[Measurement]] = {}
    print(f"{'server':13} {HEADER}")
    for round_no in range(args.rounds):
        order = list(sides) if round_no % 2 == 0 else list(reversed(sides))
        for name in names:
            for label in order:
                url, dialect, probe = sides[label]
                m = await measure(
                    url,
                    name,
                    DIALECTS[dialect][name],
                    {},
                    token=None,
                    concurrency=args.concurrency,
                    duration=args.duration,
                    warmup=args.warmup,
                    server=probe,
                    db=db,
                )
                if m is None:
                    print(f"{label:13} {name:24} no successful requests", flush=True)
                    continue
                runs.setdefault((name, label), []).append(m)
                print(f"{label:13} {format_row(m)}", flush=True)
    print(f"# load average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")

    print()
    print(
        "| scenario | server | req/s | p50 ms | p95 ms | p99 ms | errors "
        "| server CPU ms/req | PostgreSQL CPU ms/req | same rows |"
    )
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|---|")
    for name in names:
        for label in sides:
            if (name, label) not in runs:
                continue
            m = median_run(runs[(name, label)])
            print(
                f"| {name} | {label} | {m.rate:.0f} | {m.p50_ms:.1f} | {m.p95_ms:.1f} "
                f"| {m.p99_ms:.1f} | {m.errors} | {_cell(m.server_cpu_ms, '.2f')} "
                f"| {_cell(m.db_cpu_ms, '.2f')} | {'yes' if checks[name] else 'no'} |"
            )
    print()
    for label, (_, _, probe) in sides.items():
        print(f"{label} server RSS after the run: {_cell(probe.rss_mb(), '.1f')} MB")
    return 0


async def _several(args: argparse.Namespace) -> int:
    """--server LABEL=URL ...: an A/B/C of our own servers (same dialect, same rows)."""
    servers = dict(entry.split("=", 1) for entry in args.server)
    if len(servers) < 2:
        raise SystemExit("give two or more --server LABEL=URL with different labels")
    for url in servers.values():
        check_loopback(url)
    names = args.scenario or list(DIALECTS["ours"])
    probes = {label: CpuProbe(listening_pid(url)) for label, url in servers.items()}
    db = CpuProbe(args.db_pid, include_children=True)
    print(f"# {' '.join(sys.argv)}")
    print(f"# load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    labels = list(servers)
    runs: dict[tuple[str, str], list[Measurement]] = {}
    print(f"{'server':13} {HEADER}")
    for round_no in range(args.rounds):
        shift = round_no % len(labels)
        for name in names:
            for label in labels[shift:] + labels[:shift]:
                m = await measure(
                    servers[label],
                    name,
                    DIALECTS["ours"][name],
                    {},
                    token=None,
                    concurrency=args.concurrency,
                    duration=args.duration,
                    warmup=args.warmup,
                    server=probes[label],
                    db=db,
                )
                if m is not None:
                    runs.setdefault((name, label), []).append(m)
                    print(f"{label:13} {format_row(m)}", flush=True)
    print(f"# load average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    print()
    print(
        "| scenario | server | req/s (median round) | against the first | rounds (req/s) "
        "| server CPU ms/req (median) |"
    )
    print("|---|---|---:|---:|---|---:|")
    for name in names:
        first: float | None = None
        for label in labels:
            done = runs.get((name, label))
            if not done:
                continue
            rate = statistics.median(m.rate for m in done)
            cpu = [m.server_cpu_ms for m in done if m.server_cpu_ms is not None]
            first = rate if first is None else first
            rounds = ", ".join(f"{m.rate:.0f}" for m in done)
            print(
                f"| {name} | {label} | {rate:.0f} | {(rate / first - 1) * 100:+.1f} % "
                f"| {rounds} | {_cell(statistics.median(cpu) if cpu else None, '.2f')} |"
            )
    return 0


if __name__ == "__main__":
    with contextlib.suppress(ImportError):
        import uvloop

        uvloop.install()
    sys.exit(asyncio.run(main()))
