"""Relay global IDs: opaque base64url of ``TypeName:primary-key``."""

from __future__ import annotations

import base64
import binascii
from functools import lru_cache

from graphql_api.core.errors import BadUserInput


# Every row of every page encodes its ID; the same rows are read again and again, so the
# encodings are kept (a bounded LRU: a few MB at most).
@lru_cache(maxsize=65_536)
def encode_id(type_name: str, pk: int) -> str:
    return base64.urlsafe_b64encode(f"{type_name}:{pk}".encode()).decode().rstrip("=")


def decode_id(global_id: str, *, field: str = "id") -> tuple[str, int]:
    """Split a global ID into (type name, primary key); BAD_USER_INPUT when malformed."""
    if not global_id or len(global_id) > 200:
        raise BadUserInput("Malformed ID.", field=field)
    padded = global_id + "=" * (-len(global_id) % 4)
    try:
        raw = base64.urlsafe_b64decode(padded.encode("ascii")).decode("utf-8")
        type_name, _, pk_text = raw.partition(":")
        pk = int(pk_text)
    except (binascii.Error, UnicodeError, ValueError):
        raise BadUserInput("Malformed ID.", field=field) from None
    if not type_name or pk <= 0 or pk >= 2**63:
        raise BadUserInput("Malformed ID.", field=field)
    return type_name, pk


def decode_id_of(global_id: str, type_name: str, *, field: str = "id") -> int:
    """The primary key of an ID that must name `type_name`."""
    actual, pk = decode_id(global_id, field=field)
    if actual != type_name:
        raise BadUserInput(f"Expected an ID of a {type_name}.", field=field)
    return pk
