"""Rate limiting (R10): a token bucket per caller in Redis, charged with each query's cost.

Every instance shares the buckets: a Lua script reads, refills, charges and writes a bucket
atomically, on Redis's clock (so instances with skewed clocks agree). The charges of
concurrent requests are sent together, one script call per batch with one call in flight
at a time, so under load a charge costs a fraction of a Redis round trip (a single Redis,
not Redis Cluster: the keys of a batch live in different slots). A
bucket holds up to `capacity` points and refills at `restore_rate` points per second, like
Shopify's calculated-cost limit. When Redis cannot be reached the limiter keeps a bucket
per process instead (each instance then allows its own budget: degraded, never off) and
says so in the logs and in readiness.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from dataclasses import dataclass
from typing import Any, Final

from redis.asyncio import Redis
from redis.exceptions import RedisError

from graphql_api.core.auth.principal import Principal
from graphql_api.core.background import spawn
from graphql_api.core.db.enums import Role

log = logging.getLogger(__name__)

KEY_PREFIX: Final = "ratelimit:"

# One script call charges a batch of buckets: KEYS[i] is a bucket (hash: tokens, ms);
# ARGV[3i-2..3i]: its capacity, restore per ms, cost. Returns, per bucket, allowed (0/1)
# and the tokens left as a string.
_CHARGE: Final = """
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000 + math.floor(tonumber(clock[2]) / 1000)
local out = {}
for i, key in ipairs(KEYS) do
  local capacity = tonumber(ARGV[3 * i - 2])
  local rate = tonumber(ARGV[3 * i - 1])
  local cost = tonumber(ARGV[3 * i])
  local stored = redis.call('HMGET', key, 'tokens', 'ms')
  local tokens = tonumber(stored[1]) or capacity
  local since = tonumber(stored[2]) or now
  tokens = math.min(capacity, tokens + math.max(0, now - since) * rate)
  local allowed = 0
  if tokens >= cost then
    tokens = tokens - cost
    allowed = 1
  end
  redis.call('HSET', key, 'tokens', tostring(tokens), 'ms', now)
  redis.call('PEXPIRE', key, math.ceil((capacity - tokens) / rate) + 1000)
  out[2 * i - 1] = allowed
  out[2 * i] = tostring(tokens)
end
return out
"""


@dataclass(frozen=True, slots=True)
class Budget:
    """A bucket's size and how fast it refills (points per second)."""

    capacity: int
    restore_rate: float

    @classmethod
    def parse(cls, text: str) -> Budget:
        """`"1000/50"`: 1,000 points, 50 restored per second."""
        capacity, _, rate = text.partition("/")
        budget = cls(int(capacity), float(rate))
        if budget.capacity < 1 or budget.restore_rate <= 0:
            raise ValueError(text)
        return budget


@dataclass(frozen=True, slots=True)
class Throttle:
    """The outcome of one charge, as clients see it in `extensions.cost.throttleStatus`."""

    allowed: bool
    cost: int
    maximum: int
    available: float
    restore_rate: float

    @property
    def retry_after(self) -> int:
        """Whole seconds until the cost is available again (0 when allowed)."""
        if self.allowed:
            return 0
        missing = min(self.cost, self.maximum) - self.available
        return max(1, math.ceil(missing / self.restore_rate))

    def status(self) -> dict[str, Any]:
        return {
            "maximumAvailable": self.maximum,
            "currentlyAvailable": math.floor(self.available),
            "restoreRate": self.restore_rate,
        }

    def headers(self) -> dict[str, str]:
        """The IETF RateLimit fields (and Retry-After when refused)."""
        headers = rate_limit_headers(self.status())
        if not self.allowed:
            headers["Retry-After"] = str(self.retry_after)
        return headers


def rate_limit_headers(status: dict[str, Any]) -> dict[str, str]:
    """The IETF RateLimit fields from a `throttleStatus` (as in `extensions.cost`)."""
    maximum, available = status["maximumAvailable"], status["currentlyAvailable"]
    return {
        "RateLimit-Limit": str(maximum),
        "RateLimit-Remaining": str(available),
        "RateLimit-Reset": str(math.ceil((maximum - available) / status["restoreRate"])),
    }


class _LocalBuckets:
    """The same bucket in this process, for while Redis is unreachable."""

    def __init__(self, max_entries: int = 100_000) -> None:
        self._buckets: dict[str, tuple[float, float]] = {}
        self._max_entries = max_entries

    def charge(self, key: str, cost: int, budget: Budget) -> tuple[bool, float]:
        now = time.monotonic()
        tokens, since = self._buckets.get(key, (float(budget.capacity), now))
        tokens = min(budget.capacity, tokens + (now - since) * budget.restore_rate)
        allowed = tokens >= cost
        if allowed:
            tokens -= cost
        if len(self._buckets) >= self._max_entries and key not in self._buckets:
            self._buckets.clear()  # a flood of identities: start over rather than grow
        self._buckets[key] = (tokens, now)
        return allowed, tokens


# A charge waits this long for Redis at most, without retries: the limiter must never be
# what makes a request slow. After a failure the process keeps its own buckets for a while.
REDIS_TIMEOUT_SECONDS: Final = 0.25
RETRY_REDIS_AFTER_SECONDS: Final = 5.0
# Charges per script call at most: bounds how long Redis runs one script.
MAX_BATCH: Final = 256


class RateLimiter:
    def __init__(self, redis: Redis, *, prefix: str = KEY_PREFIX) -> None:
        self._redis = redis
        self._prefix = prefix
        self._script = redis.register_script(_CHARGE)
        self._local = _LocalBuckets()
        # True while Redis is unreachable and buckets are per process (readiness shows it).
        self.degraded = False
        self._retry_at = 0.0
        # Charges waiting for the next script call, and whether one is in flight.
        self._waiting: list[tuple[str, int, Budget, asyncio.Future[tuple[int, bytes]]]] = []
        self._sending = False

    @classmethod
    def from_url(cls, url: str, *, prefix: str = KEY_PREFIX) -> RateLimiter:
        """A limiter with its own Redis client: short timeouts, no retries."""
        client = Redis.from_url(
            url,
            socket_timeout=REDIS_TIMEOUT_SECONDS,
            socket_connect_timeout=REDIS_TIMEOUT_SECONDS,
            retry_on_timeout=False,
            retry=None,
        )
        return cls(client, prefix=prefix)

    async def aclose(self) -> None:
        await self._redis.aclose()

    async def charge(self, identity: str, cost: int, budget: Budget) -> Throttle:
        if self.degraded and time.monotonic() < self._retry_at:
            ok, available = self._local.charge(identity, cost, budget)
            return Throttle(ok, cost, budget.capacity, available, budget.restore_rate)
        try:
            future = asyncio.get_running_loop().create_future()
            self._waiting.append((self._prefix + identity, cost, budget, future))
            if not self._sending:
                self._sending = True
                # Failures reach the waiting charges through their futures.
                spawn(self._send(), failure="rate limiter: a batch of charges failed")
            allowed, left = await future
            available = float(left)
            ok = bool(allowed)
            if self.degraded:
                self.degraded = False
                log.warning("rate limiter: Redis is back, buckets are shared again")
        except (RedisError, OSError, TimeoutError):
            if not self.degraded:
                self.degraded = True
                log.warning("rate limiter: Redis unreachable, buckets are per process")
            self._retry_at = time.monotonic() + RETRY_REDIS_AFTER_SECONDS
            ok, available = self._local.charge(identity, cost, budget)
        return Throttle(ok, cost, budget.capacity, available, budget.restore_rate)

    async def _send(self) -> None:
        """Send the waiting charges, a batch per script call, until none is left."""
        try:
            while self._waiting:
                batch = self._waiting[:MAX_BATCH]
                del self._waiting[:MAX_BATCH]
                args: list[Any] = []
                for _, cost, budget, _ in batch:
                    args += (budget.capacity, budget.restore_rate / 1000, cost)
                try:
                    result = await self._script(keys=[key for key, *_ in batch], args=args)
                except Exception as exc:
                    for *_, future in batch:
                        if not future.done():
                            future.set_exception(exc)
                    continue
                for index, (*_, future) in enumerate(batch):
                    if not future.done():
                        future.set_result((result[2 * index], result[2 * index + 1]))
        finally:
            self._sending = False


@dataclass(frozen=True, slots=True)
class Budgets:
    """Budgets per kind of caller (config: RATE_LIMIT_ANONYMOUS, _MEMBER, _STAFF, _SERVICE)."""

    anonymous: Budget
    member: Budget
    staff: Budget
    service: Budget

    def identify(self, principal: Principal, client_ip: str | None) -> tuple[str, Budget]:
        """The bucket a caller draws from: its API key, else its user, else its address
        (as uvicorn resolved it from the trusted proxies' headers, FORWARDED_ALLOW_IPS)."""
        if principal.api_key_id is not None:
            return f"key:{principal.api_key_id}", self.service
        if principal.user_id is not None:
            staff = principal.has_role(Role.EDITOR, Role.ADMIN)
            return f"user:{principal.user_id}", self.staff if staff else self.member
        return f"ip:{client_ip or 'unknown'}", self.anonymous
