"""Loaders for per-parent relations that take arguments (nested connections, top-N lists).

A key names the parent plus the arguments of the field (`first`, `after`, ...). Keys that
differ only by parent are answered by ONE query over all their parents, so a list of 50
businesses each asking for `announcements(first: 3)` costs one statement, not 50. Keys with
different arguments (rare: aliases) form separate groups, one query each.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, Generic, Protocol, TypeVar

from aiodataloader import DataLoader

from graphql_api.db.engine import Database


class ParentKey(Protocol):
    """A hashable, frozen dataclass key with a `parent_id` field."""

    @property
    def parent_id(self) -> int: ...


K = TypeVar("K", bound=ParentKey)
R = TypeVar("R")


@dataclass(frozen=True, slots=True)
class PageKey:
    """One parent's page of a nested connection."""

    parent_id: int
    first: int
    after: str | None = None
    # Only relations over announcements use it; part of the key so it groups correctly.
    include_drafts: bool = False


@dataclass(frozen=True, slots=True)
class TopKey:
    """One parent's top-`first` list, ranked as of the request's clock."""

    parent_id: int
    first: int
    now: datetime


@dataclass(frozen=True, slots=True)
class ParentOnlyKey:
    """A per-parent value that depends on at most a visibility flag."""

    parent_id: int
    include_drafts: bool = False


class GroupedLoader(DataLoader[K, R], Generic[K, R]):
    """Groups keys by their arguments and runs one `fetch` per group."""

    def __init__(self, db: Database, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.db = db

    async def fetch(self, parent_ids: list[int], args: K) -> dict[int, R]:
        """One statement for all `parent_ids` (ORM reads open their own session here)."""
        raise NotImplementedError

    async def batch_load_fn(self, keys: Sequence[K]) -> list[R]:
        groups: dict[K, list[int]] = {}
        for key in keys:
            args = replace(key, parent_id=0)  # type: ignore[type-var]
            groups.setdefault(args, []).append(key.parent_id)
        results: dict[K, R] = {}
        for args, parent_ids in groups.items():
            unique = list(dict.fromkeys(parent_ids))
            found = await self.fetch(unique, args)
            for parent_id in unique:
                results[replace(args, parent_id=parent_id)] = found[parent_id]  # type: ignore[type-var]
        return [results[key] for key in keys]
