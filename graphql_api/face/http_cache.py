"""HTTP caching of GET requests for persisted documents (issue 12, R15).

Only GETs of persisted documents (APQ hashes, or any document on a trusted-documents
server) take part: their URL names the document, so browsers and CDNs can key by it.
- `ETag`: a weak tag (`W/"..."`) of the encoded `data`. Weak because the body's
  `extensions` (the rate limit's throttle status, `cacheStatus`) change on every request
  while the data are the same; a 304 keeps the client's copy of those.
- `Cache-Control` from the document's cache hint (engine/cache_plan.py): public documents
  `public, max-age=<the document's max age, at most the cache's>`, so shared caches may
  serve them that long without asking (HTTP caching trades the server's never-stale
  guarantee for that window); per-role and per-user documents `private, no-cache` (a
  browser keeps them but asks every time, so a next user of the same browser never gets
  them: the ETag differs); answers with errors `no-store`.
- `If-None-Match` matching the tag: 304 Not Modified without a body. The operation still
  ran (and was charged): the 304 saves the transfer, the response cache saves the work.
"""

from __future__ import annotations

import hashlib

from graphql_api.core.cache_hints import CacheHint, Scope

PRIVATE = "private, no-cache"
NO_STORE = "no-store"


def entity_tag(encoded_data: bytes) -> str:
    return f'W/"{hashlib.sha256(encoded_data).hexdigest()[:32]}"'


def cache_control(hint: CacheHint | None, max_age_cap: float, *, failed: bool) -> str:
    if failed or hint is None:
        return NO_STORE
    if hint.scope is not Scope.PUBLIC:
        return PRIVATE
    max_age = max_age_cap if hint.max_age is None else min(max_age_cap, hint.max_age)
    return f"public, max-age={max(0, int(max_age))}"


def _opaque(tag: str) -> str:
    tag = tag.strip()
    return tag[2:] if tag.startswith("W/") else tag


def not_modified(if_none_match: str | None, tag: str) -> bool:
    """Whether `If-None-Match` names `tag` (weak comparison, as GETs use; `*` matches)."""
    if not if_none_match:
        return False
    if if_none_match.strip() == "*":
        return True
    wanted = _opaque(tag)
    return any(_opaque(candidate) == wanted for candidate in if_none_match.split(","))
