"""Shared plumbing for DataLoaders: one statement per batch, never a shared session."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Hashable, Iterable, Sequence
from operator import attrgetter
from typing import Any, Generic, TypeVar

from aiodataloader import DataLoader

from graphql_api.core.db.engine import Database

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


def ordered(rows: Iterable[V], keys: Sequence[K], key: Callable[[V], K]) -> list[V | None]:
    """Results in the order of `keys`, None for keys with no row (DataLoader's contract)."""
    found = {key(row): row for row in rows}
    return [found.get(k) for k in keys]


def grouped(rows: Iterable[V], keys: Sequence[K], key: Callable[[V], K]) -> list[list[V]]:
    """Rows grouped per key, in the order of `keys` (one-to-many relations)."""
    groups: dict[K, list[V]] = {k: [] for k in keys}
    for row in rows:
        groups[key(row)].append(row)
    return [groups[k] for k in keys]


_ID = attrgetter("id")


class ByIdLoader(DataLoader[int, V | None], Generic[V]):
    """Loads rows by primary key with one query per batch: `fetch(db, ids=keys)`."""

    fetch: Callable[..., Awaitable[Sequence[V]]]

    def __init__(self, db: Database, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.db = db

    async def batch_load_fn(self, keys: list[int]) -> list[V | None]:
        rows = await type(self).fetch(self.db, ids=keys)
        return ordered(rows, keys, key=_ID)
