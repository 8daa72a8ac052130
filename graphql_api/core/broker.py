"""Subscription events from Redis pub/sub, fanned out in-process (R17).

Every server instance holds ONE Redis pub/sub connection (`PSUBSCRIBE
graphql-api:events:*`) however many WebSocket subscribers it serves; each event is handed to
the interested subscribers' in-process queues. The queues are bounded: a subscriber that
falls `MAX_PENDING_EVENTS` behind is closed with an error instead of growing memory.

When Redis goes away the broker logs `broker disconnected`, reports `reconnecting`
(readiness turns 503), retries with exponential backoff and jitter, and on success logs
`broker reconnected` and resumes delivery on the same subscriber queues: subscribers do not
notice, except that events published while Redis was down are lost (Redis pub/sub keeps
nothing, and the publisher already logged `could not publish event` for them).

Routing: a subscriber names its topics and, optionally, one key. Topics in
`ROUTING_FIELDS` carry a list of keys in their payload (PORTFOLIO_UPDATED: the portfolio
ids), so a keyed subscriber sees only the events that name its key; a keyless one sees
every event of its topics.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections import deque
from collections.abc import Awaitable, Callable, Hashable, Iterable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Final, TypeVar

import orjson
from redis.asyncio import Redis
from redis.asyncio.client import PubSub
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import RedisError

from graphql_api.core import events
from graphql_api.core.errors import RateLimited

log = logging.getLogger(__name__)

T = TypeVar("T")

# Events a subscriber may have waiting before it counts as too slow and is closed.
MAX_PENDING_EVENTS: Final = 256
# Reconnect delays: 0.1 s doubling up to 5 s, each with +-20 % jitter so that replicas do
# not reconnect in lockstep after a Redis restart.
BACKOFF_INITIAL_SECONDS: Final = 0.1
BACKOFF_MAX_SECONDS: Final = 5.0
# Idle pub/sub connections are PINGed this often, so a dead peer is noticed while no
# events flow.
HEALTH_CHECK_SECONDS: Final = 10
# How long start() waits for the first PSUBSCRIBE before the app starts anyway (the broker
# keeps retrying in the background; readiness says so meanwhile).
START_WAIT_SECONDS: Final = 2.0

# Topic -> payload field holding the keys a keyed subscriber can ask for.
ROUTING_FIELDS: Final[dict[str, str]] = {events.PORTFOLIO_UPDATED: "portfolio_ids"}


class BrokerState(StrEnum):
    STARTING = "starting"  # not yet subscribed to Redis
    OK = "ok"  # subscribed; events flow
    RECONNECTING = "reconnecting"  # lost Redis; retrying with backoff
    DRAINING = "draining"  # shutting down: subscriptions completed, no new ones
    STOPPED = "stopped"


class SubscriberTooSlow(RateLimited):
    """The subscriber did not keep up with its events; it was closed to bound memory."""


@dataclass(slots=True, eq=False)
class Event:
    """One event as received by this instance, shared by all of its subscribers."""

    topic: str
    payload: dict[str, Any]
    received_at: float = field(default_factory=time.monotonic)
    _shared: dict[Hashable, asyncio.Future[Any]] = field(default_factory=dict, repr=False)

    async def shared(self, key: Hashable, compute: Callable[[], Awaitable[T]]) -> T:
        """`compute()` once per event and key on this instance; every caller gets its result.

        For work that depends only on the event and on `key` (e.g. loading the published
        row for one filter): 1,000 subscribers with the same filter cost one query, while
        anything depending on the subscriber stays per subscriber. Results live as long as
        the event, so nothing is ever reused for a later event.
        """
        future = self._shared.get(key)
        if future is None:
            future = asyncio.ensure_future(compute())
            self._shared[key] = future
        # Shielded: one subscriber unsubscribing must not cancel the work for the others.
        result: T = await asyncio.shield(future)
        return result


class Subscription:
    """One subscriber's bounded queue of events (use as a context manager)."""

    def __init__(
        self, broker: Broker, topics: frozenset[str], key: int | None, max_pending: int
    ) -> None:
        self._broker = broker
        self.topics = topics
        self.key = key
        self._max_pending = max_pending
        self._pending: deque[Event] = deque()
        self._wakeup = asyncio.Event()
        self._closed = False
        self._error: Exception | None = None

    @property
    def closed(self) -> bool:
        return self._closed

    def offer(self, event: Event) -> None:
        """Queue `event` (called by the broker); closes a subscriber that is too far behind."""
        if self._closed:
            return
        if len(self._pending) >= self._max_pending:
            log.warning(
                "subscriber too slow; closed",
                extra={"topics": sorted(self.topics), "pending": len(self._pending)},
            )
            self.close(
                SubscriberTooSlow(
                    "Events arrived faster than this subscriber received them, so it was "
                    "closed. Subscribe again."
                )
            )
            return
        self._pending.append(event)
        self._wakeup.set()

    async def get(self, within: float | None = None) -> Event | None:
        """The next event; None when `within` seconds pass first (None: wait as long as it
        takes).

        Raises `StreamEnded` once the subscription was closed normally (server shutdown),
        or the error it was closed with.
        """
        while not self._pending:
            if self._closed:
                if self._error is not None:
                    raise self._error
                raise StreamEnded
            self._wakeup.clear()
            try:
                async with asyncio.timeout(within):
                    await self._wakeup.wait()
            except TimeoutError:
                return None
        return self._pending.popleft()

    def close(self, error: Exception | None = None) -> None:
        """End the subscription: normally (None) or with `error`; idempotent."""
        if self._closed:
            return
        self._closed = True
        self._error = error
        if error is not None:
            self._pending.clear()  # the subscriber gets the error, not a stale backlog
        self._broker._forget(self)
        self._wakeup.set()

    def __enter__(self) -> Subscription:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class StreamEnded(Exception):
    """The subscription was completed by the server (shutdown); not an error."""


class Broker:
    """The instance's single Redis pub/sub reader and its in-process fan-out."""

    def __init__(
        self,
        redis_url: str,
        *,
        prefix: str = events.CHANNEL_PREFIX,
        max_pending: int = MAX_PENDING_EVENTS,
        backoff_initial: float = BACKOFF_INITIAL_SECONDS,
        backoff_max: float = BACKOFF_MAX_SECONDS,
    ) -> None:
        self._redis_url = redis_url
        self._prefix = prefix
        self._max_pending = max_pending
        self._backoff_initial = backoff_initial
        self._backoff_max = backoff_max
        self.state = BrokerState.STARTING
        self._task: asyncio.Task[None] | None = None
        self._connected = asyncio.Event()
        # topic -> keyless subscribers; (topic, key) -> keyed subscribers.
        self._all: dict[str, set[Subscription]] = {}
        self._keyed: dict[tuple[str, int], set[Subscription]] = {}
        self._count = 0
        # Operations between `operation_started` and `operation_ended`: drain() waits for
        # them, so that their `complete` is sent before the server closes connections.
        self._active_operations = 0
        self._idle = asyncio.Event()
        self._idle.set()
        self.events_received = 0
        self.reconnects = 0
        # Seconds from an event's publication (its sender's clock) to its arrival here:
        # the last one, and the sum over `events_received`, for an average over time.
        self.lag_seconds: float | None = None
        self.lag_seconds_total = 0.0
        # Process-level listeners (not subscribers): topic -> callbacks, e.g. revocations.
        self._listeners: dict[str, list[Callable[[dict[str, Any]], None]]] = {}

    # --- lifecycle ---------------------------------------------------------------------

    async def start(self, wait: float = START_WAIT_SECONDS) -> None:
        """Start reading; waits up to `wait` seconds for the first subscription to Redis."""
        if self._task is not None:
            return
        self._task = asyncio.create_task(self._run(), name="subscription-broker")
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(wait):
                await self._connected.wait()

    async def drain(self, grace_seconds: float = 2.0) -> None:
        """Complete every subscription (clients get `complete`) and refuse new ones.

        Waits up to `grace_seconds` for the operations to finish, so their `complete`
        messages leave before the server closes the connections.
        """
        if self.state is BrokerState.STOPPED:
            return
        self.state = BrokerState.DRAINING
        self._close_all()
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(grace_seconds):
                await self._idle.wait()
                # The `complete` frames are written just after the operations end.
                await asyncio.sleep(0.05)

    async def stop(self) -> None:
        """Complete every subscription and close the Redis connection."""
        if self.state is not BrokerState.DRAINING:
            self.state = BrokerState.DRAINING
        self._close_all()
        self.state = BrokerState.STOPPED
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    # --- subscribers -------------------------------------------------------------------

    @property
    def subscription_count(self) -> int:
        """Subscribers currently registered on this instance."""
        return self._count

    def operation_started(self) -> None:
        self._active_operations += 1
        self._idle.clear()

    def operation_ended(self) -> None:
        self._active_operations -= 1
        if self._active_operations <= 0:
            self._idle.set()

    def subscribe(self, topics: Iterable[str], *, key: int | None = None) -> Subscription:
        """A new subscriber to `topics` (only events naming `key`, when given)."""
        subscription = Subscription(self, frozenset(topics), key, self._max_pending)
        if self.state in (BrokerState.DRAINING, BrokerState.STOPPED):
            subscription.close()  # shutting down: ends at once, the client gets `complete`
            return subscription
        for topic in subscription.topics:
            if key is None:
                self._all.setdefault(topic, set()).add(subscription)
            else:
                if topic not in ROUTING_FIELDS:
                    raise ValueError(f"topic {topic!r} has no routing field for keys")
                self._keyed.setdefault((topic, key), set()).add(subscription)
        self._count += 1
        return subscription

    def _forget(self, subscription: Subscription) -> None:
        removed = False
        for topic in subscription.topics:
            index: dict[Any, set[Subscription]]
            slot: Any
            if subscription.key is None:
                index, slot = self._all, topic
            else:
                index, slot = self._keyed, (topic, subscription.key)
            members = index.get(slot)
            if members is not None and subscription in members:
                members.discard(subscription)
                removed = True
                if not members:
                    del index[slot]
        if removed:
            self._count -= 1

    def _close_all(self) -> None:
        subscribers = {s for group in self._all.values() for s in group}
        subscribers.update(s for group in self._keyed.values() for s in group)
        for subscription in subscribers:
            subscription.close()

    def listen(self, topic: str, callback: Callable[[dict[str, Any]], None]) -> None:
        """Call `callback(payload)` for every event of `topic` on this instance (not a
        subscriber: not counted, never closed)."""
        self._listeners.setdefault(topic, []).append(callback)

    def dispatch(self, topic: str, payload: dict[str, Any]) -> int:
        """Hand one event to its subscribers on this instance; returns how many got it."""
        self.events_received += 1
        for callback in self._listeners.get(topic, ()):
            try:
                callback(payload)
            except Exception:
                log.exception("event listener failed", extra={"topic": topic})
        targets: set[Subscription] = set(self._all.get(topic, ()))
        routing_field = ROUTING_FIELDS.get(topic)
        if routing_field is not None and self._keyed:
            keys = payload.get(routing_field)
            if isinstance(keys, list):
                for key in keys:
                    if isinstance(key, int):
                        targets.update(self._keyed.get((topic, key), ()))
        if not targets:
            return 0
        event = Event(topic=topic, payload=payload)
        for subscription in targets:
            subscription.offer(event)
        return len(targets)

    # --- the Redis side ----------------------------------------------------------------

    def _client(self) -> Redis:
        # No hidden retries inside redis-py: a lost connection surfaces here, so that it is
        # logged, reported and re-established by this loop.
        client: Redis = Redis.from_url(
            self._redis_url,
            retry=Retry(NoBackoff(), 0),
            health_check_interval=HEALTH_CHECK_SECONDS,
        )
        return client

    async def _run(self) -> None:
        attempt = 0
        down_since: float | None = None
        while True:
            client = self._client()
            pubsub: PubSub = client.pubsub(ignore_subscribe_messages=True)
            try:
                await pubsub.psubscribe(self._prefix + "*")
                self.state = BrokerState.OK
                self._connected.set()
                if down_since is not None:
                    self.reconnects += 1
                    log.warning(
                        "broker reconnected",
                        extra={
                            "broker_state": self.state.value,
                            "outage_ms": round((time.monotonic() - down_since) * 1000),
                            "attempts": attempt,
                        },
                    )
                else:
                    log.info("broker connected", extra={"broker_state": self.state.value})
                attempt = 0
                down_since = None
                await self._read(pubsub)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                # Anything but cancellation: the reader must never die; it retries.
                if not isinstance(exc, RedisError | OSError):
                    log.exception("broker reader failed unexpectedly")
                if down_since is None:
                    down_since = time.monotonic()
                    self.state = BrokerState.RECONNECTING
                    self._connected.clear()
                    log.warning(
                        "broker disconnected",
                        extra={"broker_state": self.state.value, "error": type(exc).__name__},
                    )
                else:
                    log.debug("broker reconnect failed", extra={"error": type(exc).__name__})
            finally:
                with contextlib.suppress(Exception):
                    await pubsub.aclose()
                with contextlib.suppress(Exception):
                    await client.aclose()
            delay = min(self._backoff_max, self._backoff_initial * 2**attempt)
            attempt += 1
            await asyncio.sleep(delay * random.uniform(0.8, 1.2))  # noqa: S311  (jitter)

    async def _read(self, pubsub: PubSub) -> None:
        prefix_length = len(self._prefix)
        while True:
            message = await pubsub.get_message(
                ignore_subscribe_messages=True, timeout=HEALTH_CHECK_SECONDS
            )
            if message is None or message.get("type") != "pmessage":
                continue
            channel = message["channel"]
            topic = (channel.decode() if isinstance(channel, bytes) else str(channel))[
                prefix_length:
            ]
            try:
                payload = orjson.loads(message["data"])
            except orjson.JSONDecodeError:
                log.warning("ignored an event that is not JSON", extra={"topic": topic})
                continue
            if not isinstance(payload, dict):
                log.warning("ignored an event that is not an object", extra={"topic": topic})
                continue
            sent_at = payload.pop(events.SENT_AT, None)
            if isinstance(sent_at, int | float):
                # Instances' clocks are assumed within milliseconds (NTP); never negative.
                self.lag_seconds = max(0.0, time.time() - sent_at)
                self.lag_seconds_total += self.lag_seconds
            self.dispatch(topic, payload)
