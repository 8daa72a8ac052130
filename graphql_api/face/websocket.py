"""WebSocket protocol settings for /graphql, and server keep-alive for graphql-transport-ws.

Both protocols are served by Strawberry's handlers: graphql-transport-ws (the `graphql-ws`
library's protocol) and the legacy graphql-ws (`subscriptions-transport-ws`). Keep-alive:
the legacy protocol sends `ka` messages (Strawberry's `keep_alive`); for
graphql-transport-ws the server sends `ping` messages at the same interval (clients answer
`pong`), so idle subscriptions survive proxies and load balancers that drop quiet
connections.
"""

from __future__ import annotations

import asyncio
import contextlib
from datetime import timedelta
from typing import Any, Final

from strawberry.http.exceptions import WebSocketDisconnected
from strawberry.subscriptions.protocols.graphql_transport_ws.handlers import (
    BaseGraphQLTransportWSHandler,
)
from strawberry.subscriptions.protocols.graphql_transport_ws.types import ConnectionInitMessage

from schema.context import Context

KEEP_ALIVE_SECONDS: Final = 15.0
# A client must send `connection_init` this soon after the handshake (else close 4408).
CONNECTION_INIT_TIMEOUT: Final = timedelta(seconds=10)
# Concurrent operations per connection; the next one gets an error message.
MAX_SUBSCRIPTIONS_PER_CONNECTION: Final = 20


class TransportWSHandler(BaseGraphQLTransportWSHandler[Context, None]):
    """Strawberry's graphql-transport-ws handler plus server `ping` keep-alives."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._ping_task: asyncio.Task[None] | None = None

    async def handle_connection_init(self, message: ConnectionInitMessage) -> None:
        await super().handle_connection_init(message)
        interval = self.view.keep_alive_interval if self.view.keep_alive else None
        if self.connection_acknowledged and interval and self._ping_task is None:
            self._ping_task = asyncio.create_task(self._ping(interval))

    async def _ping(self, interval: float) -> None:
        with contextlib.suppress(WebSocketDisconnected):
            while True:
                await asyncio.sleep(interval)
                await self.send_message({"type": "ping"})

    async def shutdown(self) -> None:
        if self._ping_task is not None:
            self._ping_task.cancel()
            with contextlib.suppress(BaseException):
                await self._ping_task
        await super().shutdown()
