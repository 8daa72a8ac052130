"""Persisted documents: Apollo's automatic persisted queries and a trusted-documents mode.

APQ (`extensions.persistedQuery = {version: 1, sha256Hash}`): a client sends the hash alone;
an unknown hash answers `PersistedQueryNotFound` and the client sends hash and text once,
which is verified and kept in Redis (so every instance knows it) and in a small in-process
LRU. Works over GET, so a CDN can cache public reads by URL.

Trusted documents (`TRUSTED_DOCUMENTS=true`, for production): only documents of the
manifest loaded by `graphql-api trust-documents FILE` run (GraphQL Code Generator's client
preset writes it: a JSON object hash -> document); any other is refused with
`UNTRUSTED_DOCUMENT`, whether sent as text or as a hash.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from typing import Any, Final

from redis.asyncio import Redis

from graphql_api.core.errors import ErrorCode

APQ_PREFIX: Final = "apq:"
TRUSTED_KEY: Final = "trusted-documents"
APQ_TTL_SECONDS: Final = 30 * 24 * 3600
LOCAL_ENTRIES: Final = 2048


class PersistedQueryError(Exception):
    def __init__(self, message: str, code: str, status: int = 200) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.status = status


def sha256_hex(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def _requested_hash(extensions: Any) -> str | None:
    if not isinstance(extensions, dict):
        return None
    persisted = extensions.get("persistedQuery")
    if persisted is None:
        return None
    if not isinstance(persisted, dict) or persisted.get("version") != 1:
        raise PersistedQueryError(
            "Unsupported persisted query version; use version 1.",
            ErrorCode.PERSISTED_QUERY_NOT_SUPPORTED.value,
            400,
        )
    digest = persisted.get("sha256Hash")
    if not isinstance(digest, str) or len(digest) != 64:
        raise PersistedQueryError(
            "`persistedQuery.sha256Hash` must be a SHA-256 hex digest.",
            ErrorCode.BAD_REQUEST.value,
            400,
        )
    return digest.lower()


class PersistedDocuments:
    def __init__(self, redis: Redis, *, trusted_only: bool) -> None:
        self._redis = redis
        self.trusted_only = trusted_only
        self._local: OrderedDict[str, str] = OrderedDict()

    async def resolve(self, query: Any, extensions: Any) -> Any:
        """The query text to run (unchanged when no persisted query is involved)."""
        digest = _requested_hash(extensions)
        if self.trusted_only:
            return await self._trusted(query, digest)
        if digest is None:
            return query
        if isinstance(query, str):
            if sha256_hex(query) != digest:
                raise PersistedQueryError(
                    "provided sha does not match query", ErrorCode.BAD_REQUEST.value, 400
                )
            if digest not in self._local:
                await self._redis.set(APQ_PREFIX + digest, query, ex=APQ_TTL_SECONDS)
                self._remember(digest, query)
            return query
        known = self._local.get(digest)
        if known is not None:
            self._local.move_to_end(digest)
            return known
        stored = await self._redis.get(APQ_PREFIX + digest)
        if stored is None:
            raise PersistedQueryError(
                "PersistedQueryNotFound", ErrorCode.PERSISTED_QUERY_NOT_FOUND.value
            )
        text = stored.decode() if isinstance(stored, bytes) else str(stored)
        self._remember(digest, text)
        return text

    async def _trusted(self, query: Any, digest: str | None) -> Any:
        if digest is None and isinstance(query, str):
            digest = sha256_hex(query)
        if digest is None:
            return query  # no document at all: the usual "no query" answer
        known = self._local.get(digest)
        if known is None:
            stored = await self._redis.hget(TRUSTED_KEY, digest)
            if stored is not None:
                known = stored.decode() if isinstance(stored, bytes) else str(stored)
                self._remember(digest, known)
        if known is None or (isinstance(query, str) and query != known):
            raise PersistedQueryError(
                "Only trusted documents run on this server.",
                ErrorCode.UNTRUSTED_DOCUMENT.value,
                400,
            )
        return known

    def _remember(self, digest: str, text: str) -> None:
        self._local[digest] = text
        if len(self._local) > LOCAL_ENTRIES:
            self._local.popitem(last=False)


async def trust_documents(redis: Redis, manifest: dict[str, str]) -> int:
    """Load a manifest (hash -> document); each hash is checked against its document.

    Keys are hex sha256 digests, optionally prefixed `sha256:` (GraphQL Code Generator's
    client preset writes them so, after the persisted-documents proposal)."""
    trusted: dict[str, str] = {}
    for key, text in manifest.items():
        digest = key.lower().removeprefix("sha256:")
        if sha256_hex(text) != digest:
            raise ValueError(f"manifest entry {key[:19]}... does not hash to its document")
        trusted[digest] = text
    if trusted:
        await redis.hset(TRUSTED_KEY, mapping={k: v for k, v in trusted.items()})
    return len(trusted)
