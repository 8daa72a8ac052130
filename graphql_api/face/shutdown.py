"""Graceful shutdown for subscriptions under uvicorn: `complete` before the sockets close.

uvicorn closes WebSocket connections (code 1012) before it runs the app's lifespan
shutdown, so completing subscriptions in the lifespan would come too late. When the
process runs under uvicorn, its SIGINT/SIGTERM handlers are wrapped: the signal first
drains the broker (every subscription ends, clients get `complete`), then uvicorn's own
handler runs as before. A second signal during the drain goes straight to uvicorn (Ctrl+C
twice still forces an exit). Elsewhere (tests, other servers) nothing is installed and the
lifespan's `Broker.stop()` completes the subscriptions.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import threading
from collections.abc import Callable
from types import FrameType
from typing import Any

from graphql_api.core.broker import Broker

log = logging.getLogger(__name__)

_SIGNALS = (signal.SIGINT, signal.SIGTERM)


def _is_uvicorn_handler(handler: Any) -> bool:
    owner = getattr(handler, "__self__", None)
    return owner is not None and type(owner).__module__.startswith("uvicorn.")


def install_drain_on_exit_signals(broker: Broker, timeout: float = 2.0) -> Callable[[], None]:
    """Wrap uvicorn's exit-signal handlers so they drain `broker` first; returns an undo."""
    if threading.current_thread() is not threading.main_thread():
        return lambda: None
    loop = asyncio.get_running_loop()
    installed: dict[int, Any] = {}
    draining = False
    tasks: set[asyncio.Task[None]] = set()

    for sig in _SIGNALS:
        previous = signal.getsignal(sig)
        if not _is_uvicorn_handler(previous):
            continue

        async def drain_then_exit(
            signum: int, frame: FrameType | None, previous: Any = previous
        ) -> None:
            log.info("draining subscriptions before shutdown")
            try:
                await broker.drain(timeout)
            finally:
                previous(signum, frame)

        def handler(
            signum: int,
            frame: FrameType | None,
            previous: Any = previous,
            drain_then_exit: Any = drain_then_exit,
        ) -> None:
            nonlocal draining
            if draining:
                previous(signum, frame)
                return
            draining = True

            def start() -> None:
                task = loop.create_task(drain_then_exit(signum, frame))
                tasks.add(task)
                task.add_done_callback(tasks.discard)

            loop.call_soon_threadsafe(start)

        installed[sig] = previous
        signal.signal(sig, handler)

    def undo() -> None:
        for sig, previous in installed.items():
            signal.signal(sig, previous)

    return undo
