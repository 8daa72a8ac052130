"""Awaiting a wave: the queue of awaitables, when each starts, in which order each resumes.

graphql-core runs every level's awaitables in a gather of Tasks; the engine awaits a whole
wave at once instead (so loaders batch across it) but keeps graphql-core's order where it
shows in a response: a coroutine starts as many loop turns late as it is deeper than the
wave's shallowest one, entries resume in the order their futures finished, and a failure
of a non-null position is recorded only after what finished within `PROPAGATION_TURNS`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from functools import partial
from typing import TYPE_CHECKING, Any

from graphql.pyutils import Path

from graphql_api.engine.plan import Completer, Position

if TYPE_CHECKING:
    from graphql_api.engine.run import Execution

NOTHING: list[Any] = []


class Deferred:
    """An awaited future whose completed value belongs in `container[key]`."""

    __slots__ = ("awaiting", "complete", "container", "key", "path", "position")

    def __init__(
        self,
        awaiting: asyncio.Future[Any],
        complete: Completer,
        container: Any,
        key: str | int,
        path: Path,
        position: Position,
    ) -> None:
        self.awaiting = awaiting
        self.complete = complete
        self.container = container
        self.key = key
        self.path = path
        self.position = position


def queue(
    value: Any,
    complete: Completer,
    container: Any,
    key: str | int,
    path: Path,
    position: Position,
    execution: Execution,
) -> None:
    """Queue an awaitable whose completed value belongs in `container[key]`.

    A DataLoader future is awaited as it is. A coroutine becomes an asyncio Task (so it runs
    with a Task's semantics: current_task, timeouts, cancellation); resolvers on hot paths
    avoid that cost by returning the loader's future instead of awaiting it.
    """
    entry = Deferred(value, complete, container, key, path, position)
    execution.pending.append(entry)
    if not isinstance(value, asyncio.Future):
        # Started when the wave is settled, shallow ones first (see `start`).
        execution.starting.append(entry)


def start(entries: list[Deferred]) -> None:
    """Turn the queued coroutines into Tasks, one loop turn later for each level deeper.

    graphql-core gathers each level's awaitables in a Task, so a coroutine one level deeper
    takes its first step (raising, or waiting on a loader's future) one loop turn later than
    its parent level. Starting the deeper ones that many turns late, in the order the sync
    pass met them, keeps errors (and which errors a null hides) in graphql-core's order.
    Only coroutines pay this: loader futures are awaited as they are.
    """
    top = min(entry.position.depth for entry in entries) if len(entries) > 1 else 0
    for entry in entries:
        turns = entry.position.depth - top if top else 0
        coroutine = entry.awaiting if turns <= 0 else _after(turns, entry.awaiting)
        entry.awaiting = asyncio.ensure_future(coroutine)


async def _after(turns: int, coroutine: Awaitable[Any]) -> Any:
    for _ in range(turns):
        await asyncio.sleep(0)
    return await coroutine


def _depth(entry: Deferred) -> int:
    return entry.position.depth


def observe(future: asyncio.Future[Any]) -> None:
    """Retrieve an abandoned future's outcome so asyncio does not log it as never retrieved."""
    if not future.cancelled():
        future.exception()


# Loop turns between a failure of a non-null position and graphql-core recording it at the
# nullable parent: the gather around the failed Task settles one turn later, its awaiter
# wakes the turn after. Errors its siblings raise meanwhile are recorded before it.
PROPAGATION_TURNS = 2


def _close_window(
    loop: asyncio.AbstractEventLoop,
    windows: dict[int, int],
    finished: list[Deferred],
    index: int,
    turns: int,
) -> None:
    # Module-level on purpose: a nested function that schedules itself would reference
    # itself through its closure, a cycle holding the whole response until the next GC.
    if turns > 1:
        loop.call_soon(_close_window, loop, windows, finished, index, turns - 1)
    else:
        windows[index] = len(finished)


async def in_completion_order(wave: list[Deferred]) -> tuple[list[Deferred], dict[int, int]]:
    """Wait for every entry of a wave; return them in the order their futures finished.

    Also, for each entry whose non-null position failed, how many entries had finished
    `PROPAGATION_TURNS` loop turns later (by index in the returned list).
    """
    finished: list[Deferred] = [entry for entry in wave if entry.awaiting.done()]
    windows: dict[int, int] = {}
    waiting = len(wave) - len(finished)
    if not waiting:
        return finished, windows
    loop = asyncio.get_running_loop()
    all_done = loop.create_future()

    def one_done(entry: Deferred, future: asyncio.Future[Any]) -> None:
        finished.append(entry)
        if not entry.position.nullable and not future.cancelled() and future.exception():
            index = len(finished) - 1
            loop.call_soon(_close_window, loop, windows, finished, index, PROPAGATION_TURNS)
        if len(finished) == len(wave) and not all_done.done():
            all_done.set_result(None)

    for entry in wave:
        if not entry.awaiting.done():
            entry.awaiting.add_done_callback(partial(one_done, entry))
    await all_done
    return finished, windows
