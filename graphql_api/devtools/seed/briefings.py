"""Daily market briefings ending today, over a random-walk market, and their glossary links."""

from __future__ import annotations

import datetime as dt
import random
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final

from graphql_api.core.db.enums import BriefingStatus
from graphql_api.devtools.seed.common import KEYWORDS, Ctx, at
from graphql_api.devtools.seed.glossary import GLOSSARY
from graphql_api.services.briefings import mention_pattern

_NARRATIVE_SENTENCES: Final = (
    "Market participants focused on {term} as {kw} headlines dominated the session.",
    "Strategists noted that {term} remains the key variable for {kw} exposure.",
    "The move in {kw} names was read through the lens of {term}.",
    "Desks reported that {term} drove positioning in {kw} stocks into the close.",
    "With {term} in view, investors trimmed risk in {kw} and rotated elsewhere.",
    "Several brokers revised their {kw} outlook, citing {term}.",
)


@dataclass(slots=True)
class _Market:
    kospi: float = 2550.0
    kosdaq: float = 820.0
    sp500: float = 5200.0
    usd_krw: float = 1330.0
    kr_3y: float = 3.30
    us_10y: float = 4.20
    wti: float = 78.0
    gold: float = 2300.0

    def step(self, rng: random.Random) -> dict[str, Any]:
        def move(value: float, vol: float) -> tuple[float, float]:
            change = rng.gauss(0.0, vol)
            return value * (1 + change), change * 100

        self.kospi, kospi_pct = move(self.kospi, 0.011)
        self.kosdaq, kosdaq_pct = move(self.kosdaq, 0.015)
        self.sp500, sp_pct = move(self.sp500, 0.009)
        self.usd_krw, _ = move(self.usd_krw, 0.004)
        self.wti, _ = move(self.wti, 0.02)
        self.gold, _ = move(self.gold, 0.008)
        self.kr_3y = max(0.5, self.kr_3y + rng.gauss(0.0, 0.03))
        self.us_10y = max(0.5, self.us_10y + rng.gauss(0.0, 0.04))
        return {
            "indices": {
                "kospi": {"close": round(self.kospi, 2), "change_pct": round(kospi_pct, 2)},
                "kosdaq": {"close": round(self.kosdaq, 2), "change_pct": round(kosdaq_pct, 2)},
                "sp500": {"close": round(self.sp500, 2), "change_pct": round(sp_pct, 2)},
            },
            "fx": {"usd_krw": round(self.usd_krw, 2)},
            "rates": {"kr_3y": round(self.kr_3y, 3), "us_10y": round(self.us_10y, 3)},
            "commodities": {"wti": round(self.wti, 2), "gold": round(self.gold, 2)},
        }


def _mid_sentence(term: str) -> str:
    """Lower-case a glossary term's capital for use inside a sentence; keep acronyms."""
    return term if term[:2].isupper() else term[0].lower() + term[1:]


def make_briefings(ctx: Ctx) -> list[dict[str, Any]]:
    rng = ctx.rng
    total = 90 * ctx.scale
    market = _Market()
    base_terms = [term for term, _ in GLOSSARY]
    rows: list[dict[str, Any]] = []
    # Themes persist for a while, as real market narratives do.
    themes = rng.sample(KEYWORDS, 4)
    for n in range(total):
        day = ctx.today - dt.timedelta(days=total - 1 - n)
        if rng.random() < 0.2:
            themes[rng.randrange(len(themes))] = rng.choice(KEYWORDS)
        others = [k for k in KEYWORDS if k not in themes]
        chosen = list(dict.fromkeys(themes + rng.sample(others, rng.randint(3, 6))))
        chosen = chosen[: rng.randint(5, 8)]
        scores = sorted((round(rng.uniform(0.25, 1.0), 3) for _ in chosen), reverse=True)
        top_keywords = dict(zip(chosen, scores, strict=True))
        snapshot = market.step(rng)
        kospi = snapshot["indices"]["kospi"]
        direction = "rises" if kospi["change_pct"] >= 0 else "falls"
        lead = chosen[0]
        title = f"KOSPI {direction} {abs(kospi['change_pct']):.2f}% as {lead} leads the tape"
        terms = rng.sample(base_terms, rng.randint(2, 5))
        summary = (
            f"KOSPI closed at {kospi['close']:,.2f} ({kospi['change_pct']:+.2f}%) with the won "
            f"at {snapshot['fx']['usd_krw']:,.2f} per dollar. {lead.capitalize()} and "
            f"{chosen[1]} drew the most attention; {terms[0]} was the theme of the day."
        )
        paragraphs = []
        for p in range(rng.randint(3, 5)):
            sentences = [
                rng.choice(_NARRATIVE_SENTENCES).format(
                    term=_mid_sentence(terms[(p + s) % len(terms)]),
                    kw=chosen[(p + s) % len(chosen)],
                )
                for s in range(rng.randint(2, 3))
            ]
            paragraphs.append(" ".join(sentences))
        paragraphs.append(
            f"Rates: Korea 3-year {snapshot['rates']['kr_3y']:.3f}%, US 10-year "
            f"{snapshot['rates']['us_10y']:.3f}%. WTI ${snapshot['commodities']['wti']:.2f}."
        )
        status = BriefingStatus.DRAFT if rng.random() < 0.07 else BriefingStatus.PUBLISHED
        # The pipeline writes at 06:30 KST and publishes by 07:00 KST (before midnight UTC
        # of the same date, so even today's briefing is in the past).
        written = at(day, 6, 30)
        rows.append(
            {
                "date": day,
                "title": title,
                "summary": summary,
                "narrative": "\n\n".join(paragraphs),
                "top_keywords": top_keywords,
                "market_snapshot": snapshot,
                "status": status,
                "published_at": at(day, 7) if status is BriefingStatus.PUBLISHED else None,
                "content_hash": None,
                "created_at": written,
                "updated_at": written,
            }
        )
    return rows


def _term_patterns(terms: Sequence[str]) -> list[re.Pattern[str]]:
    # The service's rule, so seeded links agree with what saving a briefing computes.
    return [mention_pattern(term) for term in terms]


def briefing_terms(briefings: list[dict[str, Any]], terms: list[str]) -> list[tuple[int, int]]:
    """(briefing position, term position) for every term found in a briefing's text."""
    patterns = _term_patterns(terms)
    lowered = [term.lower() for term in terms]
    pairs: list[tuple[int, int]] = []
    for b, briefing in enumerate(briefings):
        text = "\n".join((briefing["title"], briefing["summary"], briefing["narrative"]))
        folded = text.lower()
        # A substring test first: most terms are absent, and it is far cheaper than a regex.
        pairs.extend(
            (b, t)
            for t, pattern in enumerate(patterns)
            if lowered[t] in folded and pattern.search(text)
        )
    return pairs
