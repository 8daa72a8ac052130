"""Masking of secrets and e-mail addresses in whatever gets logged (R18, issue 13).

Two passes, both cheap: values under a secret-sounding key (password, token, apiKey,
authorization, ...) are replaced whole, whatever they look like; then the text is scanned
for what gives a secret away by its shape (e-mail addresses, bearer credentials, JWTs, our
API keys), so a secret inside a message or an exception's text is caught too.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

MASK = "***"

# Keys whose values are secrets or personal data whatever their shape (GraphQL variables
# are camelCase, headers and settings use - and _).
SECRET_KEY = re.compile(
    r"pass(?:word|phrase|wd)?|secret|token|api[-_]?key|authori[sz]ation|cookie|credential"
    r"|e-?mail",
    re.IGNORECASE,
)

# Each shape with a (lowercase) substring it cannot occur without: most lines contain none
# of them, and a substring test is ~100 times cheaper than running the pattern over the
# line (a request line is masked in ~2 us instead of ~30).
_SHAPES: tuple[tuple[tuple[str, ...], re.Pattern[str]], ...] = (
    # E-mail addresses.
    (("@",), re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+")),
    # Credentials after an auth scheme (an Authorization header's value).
    (
        ("bearer", "basic"),
        re.compile(r"(?i:\b(?:bearer|basic)\s+)[A-Za-z0-9._~+/=-]{8,}"),
    ),
    # JWTs (access tokens): three base64url parts, the first a JSON object.
    (("eyj",), re.compile(r"\beyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*")),
    # API keys (core/auth/api_keys.py): gak_<prefix>_<secret>.
    (("gak_",), re.compile(r"\bgak_[a-z0-9]{8}_[A-Za-z0-9_-]+")),
)

# Opaque secrets (refresh tokens, API key secrets) have no shape of their own; in GraphQL
# variables, which may name them anything (`$t`), strings that look random are masked too:
# 16+ characters without spaces, mixing letters and digits.
_OPAQUE = re.compile(r"(?=[^ ]*[0-9])(?=[^ ]*[A-Za-z])[A-Za-z0-9._~+/=-]{16,}")


def mask_text(text: str) -> str:
    """`text` with e-mail addresses, bearer credentials, JWTs and API keys replaced."""
    lowered = text.lower()  # triggers are lowercase: "Bearer", "BEARER", "bEaReR" alike
    for triggers, pattern in _SHAPES:
        if any(trigger in lowered for trigger in triggers):
            text = pattern.sub(MASK, text)
    return text


_secret_keys: dict[str, bool] = {}


def is_secret_key(key: str) -> bool:
    """Whether values under `key` are masked whole (memoized: log records repeat keys)."""
    found = _secret_keys.get(key)
    if found is None:
        found = bool(SECRET_KEY.search(key))
        if len(_secret_keys) < 10_000:  # keys of variables come from clients: bounded
            _secret_keys[key] = found
    return found


def mask_value(value: Any, *, opaque: bool = False) -> Any:
    """A copy of `value` (log extras) with secrets masked at any depth; `opaque` (GraphQL
    variables) also masks strings that look like random tokens."""
    if isinstance(value, str):
        if opaque and _OPAQUE.fullmatch(value):
            return MASK
        return mask_text(value)
    if isinstance(value, Mapping):
        return {
            key: MASK
            if isinstance(key, str) and is_secret_key(key)
            else mask_value(item, opaque=opaque)
            for key, item in value.items()
        }
    if isinstance(value, list | tuple):
        return [mask_value(item, opaque=opaque) for item in value]
    return value


def mask_variables(variables: Any) -> Any:
    """GraphQL variables as they may be logged."""
    return mask_value(variables, opaque=True)
