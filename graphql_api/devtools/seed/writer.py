"""Bulk inserts of generated rows, in chunks, with an optional progress bar per table."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, Final

import click
from sqlalchemy import Table, insert
from sqlalchemy.ext.asyncio import AsyncConnection

_CHUNK: Final = 1000


class Writer:
    """Bulk inserts in chunks, with an optional progress bar per table."""

    def __init__(self, conn: AsyncConnection, *, progress: bool) -> None:
        self._conn = conn
        self._progress = progress

    @contextmanager
    def _bar(self, label: str, length: int) -> Iterator[Any]:
        if not self._progress:
            yield None
            return
        with click.progressbar(length=length, label=f"{label:<24}", file=sys.stderr) as bar:
            yield bar

    async def insert(self, table: Table, rows: list[dict[str, Any]]) -> None:
        with self._bar(table.name, len(rows)) as bar:
            for start in range(0, len(rows), _CHUNK):
                chunk = rows[start : start + _CHUNK]
                await self._conn.execute(insert(table), chunk)
                if bar is not None:
                    bar.update(len(chunk))

    async def insert_returning_ids(self, table: Table, rows: list[dict[str, Any]]) -> list[int]:
        # sort_by_parameter_order: ids come back in the order of ``rows`` even though the
        # rows are sent as multi-row INSERTs, so later tables can refer to them by position.
        stmt = insert(table).returning(table.c.id, sort_by_parameter_order=True)
        ids: list[int] = []
        with self._bar(table.name, len(rows)) as bar:
            for start in range(0, len(rows), _CHUNK):
                chunk = rows[start : start + _CHUNK]
                result = await self._conn.execute(stmt, chunk)
                ids.extend(result.scalars().all())
                if bar is not None:
                    bar.update(len(chunk))
        return ids


def table_of(model: Any) -> Table:
    table = model.__table__
    assert isinstance(table, Table)
    return table
