"""bench/cache_counters.py: what `read_api.py --cached` reports as the run's hit rate."""

from __future__ import annotations

import dataclasses
import importlib.util
import json
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import httpx
import pytest

from graphql_api.core.config import Settings


def _load() -> ModuleType:
    # bench/ holds scripts, not a package: load the module from its file.
    path = Path(__file__).parent.parent / "bench" / "cache_counters.py"
    spec = importlib.util.spec_from_file_location("bench_cache_counters", path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


counters = _load()


def test_the_hit_rate_counts_hits_over_every_query_that_reached_the_cache() -> None:
    before = counters.parse_counters(
        json.dumps({"responseCache": {"hits": 10, "misses": 5, "bypasses": 1}}).encode()
    )
    after = counters.parse_counters(
        json.dumps({"responseCache": {"hits": 100, "misses": 6, "bypasses": 10}}).encode()
    )
    run = after - before
    assert run.values["hits"] == 90
    assert run.hit_rate == 90 / 100
    assert run.summary().startswith("hit rate 90.00 % (hits 90 misses 1 bypasses 9")


def test_no_counters_when_the_server_caches_nothing() -> None:
    assert counters.parse_counters(b'{"status": "ok"}') is None
    assert counters.parse_counters(b"not json") is None
    assert counters.Counters({}).hit_rate is None


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return dataclasses.replace(settings, response_cache=True)


async def test_the_counters_are_read_from_a_real_ready_body(client: httpx.AsyncClient) -> None:
    async def ready() -> Any:
        return counters.parse_counters((await client.get("/health/ready")).content)

    before = await ready()
    for _ in range(3):
        response = await client.post("/graphql", json={"query": "{ securities { totalCount } }"})
        assert response.status_code == 200
    run = await ready() - before
    assert (run.values["misses"], run.values["hits"]) == (1, 2)
    assert run.hit_rate == 2 / 3
