"""What every generator shares: the run's random stream and clock, and a few helpers."""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Final, TypeVar

KST: Final = dt.timezone(dt.timedelta(hours=9))

# Shared by announcements, briefings and historical cases so keyword searches connect them.
KEYWORDS: Final = (
    "semiconductor", "ai", "battery", "export", "interest-rate", "inflation", "won",
    "kospi", "exchange-rate", "supply-chain", "esg", "hydrogen", "biotech", "ev",
    "smart-factory", "carbon-neutrality", "startup", "r&d", "digital-transformation",
    "platform", "tourism", "k-content", "robotics", "shipbuilding", "defense", "nuclear",
    "data-center", "cloud", "fintech", "real-estate", "bond-yield", "oil-price", "fed",
    "china", "tariff", "hbm", "display", "steel", "chemicals", "gaming",
)  # fmt: skip

_T = TypeVar("_T")


def pick_weighted(rng: random.Random, pairs: Sequence[tuple[_T, int]]) -> _T:
    values = [value for value, _ in pairs]
    weights = [weight for _, weight in pairs]
    return rng.choices(values, weights=weights)[0]


def at(day: dt.date, hour: int, minute: int = 0) -> dt.datetime:
    """A KST wall-clock time on ``day``: the demo's calls open and close in Korean hours."""
    return dt.datetime.combine(day, dt.time(hour, minute), KST)


def between(rng: random.Random, start: dt.datetime, end: dt.datetime) -> dt.datetime:
    """A whole-second instant in [start, end]; whole seconds keep rows byte-identical."""
    span = max(0, int((end - start).total_seconds()))
    return start + dt.timedelta(seconds=rng.randint(0, span))


@dataclass(slots=True)
class Ctx:
    """One seeding run: the one random stream every generator draws from, in a fixed order."""

    rng: random.Random
    scale: int
    today: dt.date
    anchor: dt.datetime
    counts: dict[str, int] = field(default_factory=dict)
