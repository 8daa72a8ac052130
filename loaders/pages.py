"""Loaders for per-parent relations that take arguments (nested connections, top-N lists).

A key names the parent plus the arguments of the field (`first`, `after`, ...). Keys that
differ only by parent are answered by ONE query over all their parents, so a list of 50
businesses each asking for `announcements(first: 3)` costs one statement, not 50. Keys with
different arguments (rare: aliases) form separate groups, one query each.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, Generic, NamedTuple, Protocol, TypeVar

from aiodataloader import DataLoader

from graphql_api.core.db.engine import Database


class ParentKey(Protocol):
    """A NamedTuple key whose first field is `parent_id` (the rest are the arguments)."""

    @property
    def parent_id(self) -> int: ...

    def __getitem__(self, index: slice, /) -> tuple[Any, ...]: ...


K = TypeVar("K", bound=ParentKey)
R = TypeVar("R")


# Keys are NamedTuples: hashed and compared in C (a loader hashes each key several times),
# and their arguments are the tuple after `parent_id`, so grouping is a slice.
class PageKey(NamedTuple):
    """One parent's page of a nested connection."""

    parent_id: int
    first: int
    after: str | None = None
    # Only relations over announcements use it; part of the key so it groups correctly.
    include_drafts: bool = False
    # The columns the selection reads (schema.projection), None for whole rows: selections
    # that differ (aliases) form separate groups.
    columns: frozenset[str] | None = None


class TopKey(NamedTuple):
    """One parent's top-`first` list, ranked as of the request's clock."""

    parent_id: int
    first: int
    now: datetime


class ParentOnlyKey(NamedTuple):
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
        # Arguments (the key after its parent_id) -> a key standing for them, and parents.
        groups: dict[tuple[Any, ...], tuple[K, list[int]]] = {}
        for key in keys:
            group = groups.get(key[1:])
            if group is None:
                groups[key[1:]] = (key, [key.parent_id])
            else:
                group[1].append(key.parent_id)
        found: dict[tuple[Any, ...], dict[int, R]] = {}
        for arguments, (args, parent_ids) in groups.items():
            found[arguments] = await self.fetch(list(dict.fromkeys(parent_ids)), args)
        return [found[key[1:]][key.parent_id] for key in keys]
