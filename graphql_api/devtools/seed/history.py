"""Historical market cases: famous episodes first, then generated ones (absolute dates)."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any, Final

from graphql_api.devtools.seed.common import KEYWORDS, Ctx

_CASE_EVENTS: Final = (
    "shock", "rally", "crash", "boom", "policy pivot", "export slump", "supply squeeze",
    "credit crunch", "bubble", "recovery", "sell-off", "short squeeze",
)  # fmt: skip
_FAMOUS_CASES: Final = (
    ("Asian financial crisis", dt.date(1997, 11, 21), ("won", "exchange-rate", "kospi")),
    ("Dot-com bubble burst", dt.date(2000, 3, 10), ("platform", "startup", "kospi")),
    ("Credit card debt crisis", dt.date(2003, 3, 17), ("fintech", "interest-rate")),
    ("Global financial crisis", dt.date(2008, 9, 15), ("fed", "real-estate", "bond-yield")),
    ("European sovereign debt crisis", dt.date(2011, 8, 5), ("bond-yield", "won")),
    ("Taper tantrum", dt.date(2013, 5, 22), ("fed", "bond-yield", "exchange-rate")),
    ("Oil price collapse", dt.date(2014, 11, 27), ("oil-price", "chemicals", "shipbuilding")),
    ("US-China trade war", dt.date(2018, 7, 6), ("tariff", "china", "semiconductor")),
    ("Japan export curbs on chip materials", dt.date(2019, 7, 4), ("semiconductor", "display")),
    ("COVID-19 market crash", dt.date(2020, 3, 19), ("kospi", "tourism", "oil-price")),
    ("Global chip shortage", dt.date(2021, 2, 1), ("semiconductor", "ev", "supply-chain")),
    ("Global rate-hike cycle", dt.date(2022, 6, 15), ("fed", "interest-rate", "inflation")),
    ("Secondary battery rally", dt.date(2023, 7, 26), ("battery", "ev", "kosdaq")),
    ("AI memory boom", dt.date(2024, 6, 18), ("hbm", "ai", "semiconductor")),
)


def make_historical_cases(ctx: Ctx) -> list[dict[str, Any]]:
    rng = ctx.rng
    rows: list[dict[str, Any]] = []
    total = 200 * ctx.scale
    for n in range(total):
        if n < len(_FAMOUS_CASES):
            name, occurred, base_keywords = _FAMOUS_CASES[n]
            title = f"{occurred.year} {name}"
            keywords = list(base_keywords) + rng.sample(
                [k for k in KEYWORDS if k not in base_keywords], rng.randint(0, 2)
            )
            slug = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")
            source_url: str | None = f"https://archive.example.org/market-history/{slug}"
        else:
            keywords = rng.sample(KEYWORDS, rng.randint(3, 6))
            occurred = dt.date(1990, 1, 1) + dt.timedelta(days=rng.randint(0, 365 * 35))
            title = f"{occurred.year} {keywords[0]} {rng.choice(_CASE_EVENTS)}"
            source_url = (
                f"https://archive.example.org/market-history/{occurred.isoformat()}-{n}"
                if rng.random() < 0.5
                else None
            )
        summary = (
            f"{title}: a period in which {', '.join(keywords[:-1])} and {keywords[-1]} moved "
            f"together. Over the following {rng.randint(2, 26)} weeks the KOSPI moved "
            f"{rng.uniform(-35, 40):+.1f}% and the won {rng.uniform(-15, 12):+.1f}% against the "
            "dollar; the episode is a reference point when the same themes return."
        )
        rows.append(
            {
                "title": title[:200],
                "summary": summary,
                "occurred_on": occurred,
                "keywords": keywords,
                "source_url": source_url,
                "created_at": ctx.anchor - dt.timedelta(days=rng.randint(30, 400)),
            }
        )
    return rows
