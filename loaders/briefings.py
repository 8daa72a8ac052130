"""Briefing, historical case and glossary loaders: one statement per batch (R14)."""

from __future__ import annotations

from datetime import date
from typing import Any

from aiodataloader import DataLoader

from graphql_api.db.engine import Database
from graphql_api.db.models import Briefing, GlossaryTerm, HistoricalCase
from graphql_api.db.queries.briefings import (
    briefings_by_dates,
    briefings_by_ids,
    glossary_terms_by_briefing_ids,
    glossary_terms_by_ids,
    historical_cases_by_ids,
    related_cases_by_briefing_ids,
)
from loaders.base import ByIdLoader, ordered


class BriefingByIdLoader(ByIdLoader[Briefing]):
    fetch = staticmethod(briefings_by_ids)


class HistoricalCaseByIdLoader(ByIdLoader[HistoricalCase]):
    fetch = staticmethod(historical_cases_by_ids)


class GlossaryTermByIdLoader(ByIdLoader[GlossaryTerm]):
    fetch = staticmethod(glossary_terms_by_ids)


class BriefingByDateLoader(DataLoader[date, Briefing | None]):
    """The briefing of a day, drafts included (the resolver decides visibility)."""

    def __init__(self, db: Database, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.db = db

    async def batch_load_fn(self, keys: list[date]) -> list[Briefing | None]:
        async with self.db.read() as session:
            rows = await briefings_by_dates(session, dates=keys)
        return ordered(rows, keys, key=lambda row: row.date)


class RelatedCasesByBriefingIdLoader(DataLoader[tuple[int, int], list[HistoricalCase]]):
    """Key (briefing id, limit) -> the briefing's best-ranked related cases.

    Keys with different limits in one batch (aliases asking for different `first`) still
    cost one statement: it fetches the largest limit and each key is cut to its own.
    """

    def __init__(self, db: Database, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.db = db

    async def batch_load_fn(self, keys: list[tuple[int, int]]) -> list[list[HistoricalCase]]:
        briefing_ids = list(dict.fromkeys(bid for bid, _ in keys))
        limit = max(n for _, n in keys)
        async with self.db.read() as session:
            cases = await related_cases_by_briefing_ids(
                session, briefing_ids=briefing_ids, limit=limit
            )
        return [cases[bid][:n] for bid, n in keys]


class GlossaryTermsByBriefingIdLoader(DataLoader[int, list[GlossaryTerm]]):
    """Briefing id -> the glossary terms its text mentions, alphabetically."""

    def __init__(self, db: Database, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.db = db

    async def batch_load_fn(self, keys: list[int]) -> list[list[GlossaryTerm]]:
        async with self.db.read() as session:
            terms = await glossary_terms_by_briefing_ids(session, briefing_ids=keys)
        return [terms[k] for k in keys]
