"""Briefing, historical case and glossary loaders: one statement per batch (R14)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from operator import attrgetter
from typing import Any

from aiodataloader import DataLoader

from graphql_api.core.db.engine import Database
from graphql_api.core.db.queries.briefings import (
    AnyBriefing,
    GlossaryTermRow,
    HistoricalCaseRow,
    briefing_rows_by_ids,
    briefings_by_dates,
    glossary_terms_by_briefing_ids,
    glossary_terms_by_ids,
    historical_cases_by_ids,
    related_cases_by_briefing_ids,
)
from loaders.base import ByIdLoader, ordered

_DATE = attrgetter("date")


# Writes and the subscription prime it with ORM instances; reads fill it with rows.
class BriefingByIdLoader(ByIdLoader[AnyBriefing]):
    fetch = staticmethod(briefing_rows_by_ids)


class HistoricalCaseByIdLoader(ByIdLoader[HistoricalCaseRow]):
    fetch = staticmethod(historical_cases_by_ids)


class GlossaryTermByIdLoader(ByIdLoader[GlossaryTermRow]):
    fetch = staticmethod(glossary_terms_by_ids)


class BriefingByDateLoader(DataLoader[date, AnyBriefing | None]):
    """The briefing of a day, drafts included (the resolver decides visibility)."""

    def __init__(self, db: Database, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.db = db

    async def batch_load_fn(self, keys: list[date]) -> list[AnyBriefing | None]:
        rows: Sequence[AnyBriefing] = await briefings_by_dates(self.db, dates=keys)
        return ordered(rows, keys, key=_DATE)


class RelatedCasesByBriefingIdLoader(DataLoader[tuple[int, int], list[HistoricalCaseRow]]):
    """Key (briefing id, limit) -> the briefing's best-ranked related cases.

    Keys with different limits in one batch (aliases asking for different `first`) still
    cost one statement: it fetches the largest limit and each key is cut to its own.
    """

    def __init__(self, db: Database, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.db = db

    async def batch_load_fn(self, keys: list[tuple[int, int]]) -> list[list[HistoricalCaseRow]]:
        briefing_ids = list(dict.fromkeys(bid for bid, _ in keys))
        limit = max(n for _, n in keys)
        cases = await related_cases_by_briefing_ids(self.db, briefing_ids=briefing_ids, limit=limit)
        return [list(cases[bid][:n]) for bid, n in keys]


class GlossaryTermsByBriefingIdLoader(DataLoader[int, list[GlossaryTermRow]]):
    """Briefing id -> the glossary terms its text mentions, alphabetically."""

    def __init__(self, db: Database, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.db = db

    async def batch_load_fn(self, keys: list[int]) -> list[list[GlossaryTermRow]]:
        terms = await glossary_terms_by_briefing_ids(self.db, briefing_ids=keys)
        return [list(terms[k]) for k in keys]
