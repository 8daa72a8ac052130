"""API keys for services (R8): issued, validated per request, last use recorded in batches.

Format: ``gak_<prefix>_<secret>``. The prefix (8 lowercase letters/digits) is public: it is
shown in listings and identifies the key in the database (unique index). The secret is
``secrets.token_urlsafe(32)`` (256 bits). Only ``sha256(whole key)`` (hex) and the prefix
are stored; the whole key is shown once, in the payload that creates it.

Validation: a key that does not match the format is rejected without any I/O. Otherwise the
row is found by prefix and its stored hash compared with ``hmac.compare_digest``. Unknown,
malformed, revoked and expired keys all raise the same ``Unauthenticated``.

Cache bound: a validated key's (id, scopes, expiry, revoked) is cached in Redis for
``CACHE_TTL_SECONDS`` (5 s) under its hash, so a service's requests do not each cost a
database read; replicas share the cache. Expiry is checked against the clock on every use,
so it is exact. Revocation and rotation delete the cache entry after their transaction
commits, so they take effect at once; the only window is a validation that read the row
just before the revoke committed and writes the cache just after: that stale entry lives at
most ``CACHE_TTL_SECONDS``. Revocation therefore takes effect within 5 seconds, always.

Last use: each successful validation does ``HSET apikey:last_used <key id> <epoch>`` in
Redis; no database write happens per request. ``flush_last_used`` moves that hash aside
atomically (RENAME) and writes every timestamp with ONE batched UPDATE
(``GREATEST(last_used_at, new)``, so replicas flushing out of order never move it back).
``LastUseFlusher`` runs it every 30 seconds and at shutdown (app lifespan), and the
`apiKeys` listing flushes first, so admins see current values there; elsewhere
``lastUsedAt`` lags by at most one flush interval.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import logging
import re
import secrets
import string
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

import orjson
from redis.asyncio import Redis
from redis.exceptions import RedisError, ResponseError

from graphql_api.core.auth.principal import Principal
from graphql_api.core.cooldown import cooldown_of
from graphql_api.core.db.engine import Database
from graphql_api.core.db.queries.api_keys import api_key_by_prefix
from graphql_api.core.db.writes.api_keys import record_last_used
from graphql_api.core.errors import Unauthenticated

log = logging.getLogger(__name__)

KEY_MARK = "gak"
PREFIX_LENGTH = 8
SECRET_BYTES = 32
_PREFIX_ALPHABET = string.ascii_lowercase + string.digits
# token_urlsafe(32) is 43 base64url characters; anything else is not one of our keys.
_KEY_FORMAT = re.compile(r"gak_([a-z0-9]{8})_([A-Za-z0-9_-]{43})")
MAX_KEY_LENGTH = 64

CACHE_TTL_SECONDS = 5
_CACHE_KEY = "apikey:v1:"
LAST_USED_KEY = "apikey:last_used"
# A batch moved aside by a flush that then died is dropped after this long, not kept forever.
_BATCH_TTL_SECONDS = 3600
FLUSH_INTERVAL_SECONDS = 30.0

INVALID_KEY_MESSAGE = "Invalid API key."
# Compared against when no row has the prefix, so unknown prefixes cost the same work.
_DUMMY_HASH = hashlib.sha256(b"gak_no-such-key").hexdigest()


@dataclass(frozen=True, slots=True)
class IssuedKey:
    """A freshly generated key: `raw` goes to the caller once and is never stored."""

    raw: str
    prefix: str
    key_hash: str

    def __repr__(self) -> str:  # never print the secret by accident
        return f"IssuedKey(prefix={self.prefix!r})"


def hash_key(raw_key: str) -> str:
    return hashlib.sha256(raw_key.encode()).hexdigest()


def generate_key() -> IssuedKey:
    prefix = "".join(secrets.choice(_PREFIX_ALPHABET) for _ in range(PREFIX_LENGTH))
    raw = f"{KEY_MARK}_{prefix}_{secrets.token_urlsafe(SECRET_BYTES)}"
    return IssuedKey(raw=raw, prefix=prefix, key_hash=hash_key(raw))


def parse_prefix(raw_key: str) -> str | None:
    """The prefix of a well-formed key, or None."""
    if len(raw_key) > MAX_KEY_LENGTH:
        return None
    match = _KEY_FORMAT.fullmatch(raw_key)
    return match[1] if match else None


@dataclass(frozen=True, slots=True)
class _Validated:
    """What the cache keeps for a key: enough to decide, nothing secret."""

    id: int
    scopes: tuple[str, ...]
    expires_at: float
    revoked: bool

    def dumps(self) -> bytes:
        return orjson.dumps([self.id, list(self.scopes), self.expires_at, self.revoked])

    @classmethod
    def loads(cls, data: bytes | str) -> _Validated:
        key_id, scopes, expires_at, revoked = orjson.loads(data)
        return cls(int(key_id), tuple(scopes), float(expires_at), bool(revoked))


def cache_key(key_hash: str) -> str:
    return _CACHE_KEY + key_hash


async def _cached(redis: Redis, key_hash: str) -> _Validated | None:
    cooldown = cooldown_of(redis)
    if cooldown.active:
        return None  # Redis failed a moment ago: straight to the database (issue 14)
    try:
        data = await redis.get(cache_key(key_hash))
        return None if data is None else _Validated.loads(data)
    except RedisError:
        cooldown.failed()
        log.warning("api key cache unavailable; validating against the database")
        return None
    except (ValueError, TypeError):
        log.warning("api key cache entry unreadable; validating against the database")
        return None


async def _lookup(db: Database, *, prefix: str, key_hash: str) -> _Validated:
    async with db.read() as session:
        row = await api_key_by_prefix(session, prefix=prefix)
    stored = row.key_hash if row is not None else _DUMMY_HASH
    if not hmac.compare_digest(stored.encode(), key_hash.encode()) or row is None:
        raise Unauthenticated(INVALID_KEY_MESSAGE)
    return _Validated(
        id=row.id,
        scopes=tuple(row.scopes),
        expires_at=row.expires_at.timestamp(),
        revoked=row.revoked_at is not None,
    )


async def authenticate_api_key(*, db: Database, redis: Redis, raw_key: str) -> Principal:
    """The service principal of `raw_key` (X-API-Key header, WebSocket `apiKey`).

    Raises Unauthenticated for a malformed, unknown, revoked or expired key, all alike.
    """
    prefix = parse_prefix(raw_key)
    if prefix is None:
        raise Unauthenticated(INVALID_KEY_MESSAGE)
    key_hash = hash_key(raw_key)
    entry = await _cached(redis, key_hash)
    now = datetime.now(UTC).timestamp()
    fresh = entry is None
    if entry is None:
        entry = await _lookup(db, prefix=prefix, key_hash=key_hash)
    valid = not entry.revoked and entry.expires_at > now
    cooldown = cooldown_of(redis)
    if (fresh or valid) and not cooldown.active:
        try:
            # One round trip: cache what was read (a revoked or expired key too, so a
            # client retrying with it does not cost a query each time) and note the use.
            async with redis.pipeline(transaction=False) as pipe:
                if fresh:
                    pipe.set(cache_key(key_hash), entry.dumps(), ex=CACHE_TTL_SECONDS)
                if valid:
                    pipe.hset(LAST_USED_KEY, str(entry.id), repr(now))
                await pipe.execute()
        except RedisError:
            # The answer stands; only the cache fill and this use's timestamp are lost.
            cooldown.failed()
            log.warning("could not record api key use", extra={"api_key_id": entry.id})
    if not valid:
        raise Unauthenticated(INVALID_KEY_MESSAGE)
    return Principal(api_key_id=entry.id, scopes=frozenset(entry.scopes))


async def forget_key(redis: Redis, key_hash: str) -> None:
    """Drop a key's cache entry; call after the transaction that revoked it commits."""
    try:
        await redis.delete(cache_key(key_hash))
    except RedisError:
        # The entry still expires on its own within CACHE_TTL_SECONDS.
        log.warning("could not drop an api key cache entry; it expires on its own")


async def flush_last_used(*, db: Database, redis: Redis) -> int:
    """Write the last-use timestamps recorded since the previous flush, in one UPDATE.

    Returns the number of keys updated. Safe to run concurrently on every replica: RENAME
    hands each recorded use to exactly one flush.
    """
    batch_key = f"{LAST_USED_KEY}:batch:{uuid.uuid4().hex}"
    try:
        async with redis.pipeline(transaction=True) as pipe:
            pipe.rename(LAST_USED_KEY, batch_key)
            pipe.expire(batch_key, _BATCH_TTL_SECONDS)
            await pipe.execute()
    except ResponseError as exc:
        if "no such key" in str(exc).lower():
            return 0  # nothing was used since the last flush
        raise
    raw: dict[bytes | str, bytes | str] = await redis.hgetall(batch_key)
    used_at = {
        int(key_id): datetime.fromtimestamp(float(stamp), UTC) for key_id, stamp in raw.items()
    }
    try:
        async with db.write() as session:
            updated = await record_last_used(session, used_at=used_at)
    except BaseException:
        # Hand the batch back for the next flush; a use recorded meanwhile is newer and wins.
        with contextlib.suppress(RedisError):
            async with redis.pipeline(transaction=False) as pipe:
                for key_id, stamp in raw.items():
                    pipe.hsetnx(LAST_USED_KEY, key_id, stamp)
                await pipe.execute()
        raise
    finally:
        with contextlib.suppress(RedisError):
            await redis.delete(batch_key)
    return updated


class LastUseFlusher:
    """Runs `flush_last_used` every `interval` seconds and once more when stopped."""

    def __init__(
        self, db: Database, redis: Redis, *, interval: float = FLUSH_INTERVAL_SECONDS
    ) -> None:
        self.db = db
        self.redis = redis
        self.interval = interval
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="api-key-last-use-flusher")

    async def _flush(self) -> None:
        try:
            await flush_last_used(db=self.db, redis=self.redis)
        except Exception:
            log.exception("flushing api key last-use timestamps failed; retrying later")

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.interval)
            await self._flush()

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        await self._flush()
