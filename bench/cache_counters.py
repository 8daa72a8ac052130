"""The response cache's counters, read from a running server's /health/ready (issue 12).

`bench/read_api.py --cached` reads them before and after each scenario and the whole run:
the hit rate is hits / (hits + misses + bypasses), every query that reached the cache.
The counters are per server process (one process: the whole server).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from urllib.parse import urlparse

COUNTED = ("hits", "misses", "bypasses", "coalesced", "stores", "invalidations", "evictions")


@dataclass(frozen=True)
class Counters:
    values: dict[str, int]

    def __sub__(self, before: Counters) -> Counters:
        return Counters({k: self.values.get(k, 0) - before.values.get(k, 0) for k in COUNTED})

    @property
    def hit_rate(self) -> float | None:
        served = sum(self.values.get(k, 0) for k in ("hits", "misses", "bypasses"))
        return None if served == 0 else self.values.get("hits", 0) / served

    def summary(self) -> str:
        rate = self.hit_rate
        shown = "n/a" if rate is None else f"{rate * 100:.2f} %"
        counts = " ".join(f"{k} {self.values.get(k, 0)}" for k in COUNTED)
        return f"hit rate {shown} ({counts})"


def ready_request(graphql_url: str) -> bytes:
    parsed = urlparse(graphql_url)
    lines = ["GET /health/ready HTTP/1.1", f"Host: {parsed.netloc}", "Accept: application/json"]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def parse_counters(body: bytes) -> Counters | None:
    """The `responseCache` counters of a /health/ready body; None when the cache is off."""
    try:
        found = json.loads(body).get("responseCache")
    except (ValueError, AttributeError):
        return None
    if not isinstance(found, dict):
        return None
    return Counters({k: int(v) for k, v in found.items() if isinstance(v, int)})
