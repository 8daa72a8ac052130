"""Fire-and-forget work that must neither be garbage-collected mid-flight nor fail silently."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable
from typing import Any

log = logging.getLogger(__name__)

# asyncio keeps only weak references to tasks: a task nobody holds may vanish mid-flight.
_running: set[asyncio.Future[Any]] = set()


def spawn(work: Awaitable[Any], *, failure: str) -> None:
    """Run `work` in the background; log `failure` (a warning) if it raises."""
    task = asyncio.ensure_future(work)
    _running.add(task)
    task.add_done_callback(lambda done: _finished(done, failure))


def _finished(task: asyncio.Future[Any], failure: str) -> None:
    _running.discard(task)
    if not task.cancelled() and task.exception() is not None:
        log.warning(failure)
