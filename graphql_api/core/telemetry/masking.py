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

_SHAPES = re.compile(
    "|".join(
        (
            # E-mail addresses.
            r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+",
            # Credentials after an auth scheme (an Authorization header's value).
            r"(?i:\b(?:bearer|basic)\s+)[A-Za-z0-9._~+/=-]{8,}",
            # JWTs (access tokens): three base64url parts, the first a JSON object.
            r"\beyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*",
            # API keys (core/auth/api_keys.py): gak_<prefix>_<secret>.
            r"\bgak_[a-z0-9]{8}_[A-Za-z0-9_-]+",
        )
    )
)


def mask_text(text: str) -> str:
    """`text` with e-mail addresses, bearer credentials, JWTs and API keys replaced."""
    return _SHAPES.sub(MASK, text)


def mask_value(value: Any) -> Any:
    """A copy of `value` (GraphQL variables, log extras) with secrets masked at any depth."""
    if isinstance(value, str):
        return mask_text(value)
    if isinstance(value, Mapping):
        return {
            key: MASK if isinstance(key, str) and SECRET_KEY.search(key) else mask_value(item)
            for key, item in value.items()
        }
    if isinstance(value, list | tuple):
        return [mask_value(item) for item in value]
    return value
