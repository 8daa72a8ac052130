"""Entity tags: the names under which reads record what they read and writes what they changed.

A cached answer is stale exactly when a write changed something it read (issue 12, R15).
Both sides speak in tags derived from table names, so neither needs to know the other:
- `"<table>"`, the table's list tag: a read that selected rows by anything but their primary
  key (a page, a filter, a count, a join), or asked for an id that did not exist. Every
  write to the table moves it (a new row, a changed column may change any list).
- `"<table>#<bucket>"`, an entity tag: a read by primary key of rows that exist. A write
  that knows which row it changed moves that row's tag. Ids share 1,024 buckets per table
  so that the tags Redis keeps stay bounded; two rows of one bucket invalidate each
  other's answers (safe, rare).
- `"<table>#*"`: recorded by every read by primary key, moved by a write to the table
  that cannot say which rows it changed.
- `"*"`: moved by a write whose statement is not understood (text SQL); every answer
  depends on it.
"""

from __future__ import annotations

from collections.abc import Iterable
from contextvars import ContextVar
from typing import Any, Final

EVERYTHING: Final = "*"
BUCKETS: Final = 1024

# The tags read on behalf of the current cached run; None outside one. Loader batches run
# in tasks created during the run, which copy this context: they add to the same set.
read_tags: ContextVar[set[str] | None] = ContextVar("read_tags", default=None)

# The shared generation (core/changes.py) this request checks cached entries against, read
# once per request; a one-item list so loader batch tasks fill the request's own. None
# outside a request (subscriptions' events, the CLI): then nothing is cached.
request_generation: ContextVar[list[int | None] | None] = ContextVar(
    "request_generation", default=None
)


def table_tag(table: str) -> str:
    return table


def entity_tag(table: str, key: Any) -> str:
    if isinstance(key, int):
        return f"{table}#{key % BUCKETS}"
    return any_entity_tag(table)


def any_entity_tag(table: str) -> str:
    return f"{table}#*"


def record(tags: Iterable[str]) -> None:
    """Note `tags` as read, if a cached run is collecting."""
    collected = read_tags.get()
    if collected is not None:
        collected.update(tags)
