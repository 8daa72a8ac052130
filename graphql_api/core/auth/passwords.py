"""Password hashing with Argon2id (R6) and the password rules for new passwords.

Parameters: OWASP's Argon2id baseline (19 MiB, 2 passes, 1 lane), about 30 ms per hash on
one core. The memory cost is per concurrent hash, so at most `MAX_CONCURRENT_HASHES` run at
once per process (R16's memory budget); the rest queue. Hashing runs in a small thread pool of
its own so the event loop keeps serving other requests meanwhile.

Hashes record their own parameters, so raising them later only needs `needs_rehash` on the
next successful login.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import ctypes.util
from concurrent.futures import ThreadPoolExecutor
from typing import Final

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

MIN_PASSWORD_LENGTH: Final = 10
MAX_PASSWORD_LENGTH: Final = 128
MAX_CONCURRENT_HASHES: Final = 2

# A value no Argon2 hash can equal: an account with it cannot log in (the demo seed's users).
UNUSABLE_PASSWORD_HASH: Final = "!"  # noqa: S105  (a marker, not a password)


def _fix_mmap_threshold() -> None:
    """Keep hash buffers out of the heap (R16's memory budget).

    glibc serves the first 19 MiB buffer with mmap and returns it when freed, but then
    raises its mmap threshold, so every later one comes from the heap and stays in the
    process's RSS after it is freed (+20 MB after one login). A fixed threshold keeps large
    buffers on mmap. Process-wide, set once by whatever process may hash.
    """
    name = ctypes.util.find_library("c")
    if name is None:
        return
    with contextlib.suppress(OSError, AttributeError):  # not glibc: its own policy applies
        ctypes.CDLL(name).mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD_BYTES)


MMAP_THRESHOLD_BYTES: Final = 256 * 1024
_M_MMAP_THRESHOLD: Final = -3  # glibc's mallopt parameter number
_fix_mmap_threshold()

_hasher = PasswordHasher(time_cost=2, memory_cost=19 * 1024, parallelism=1)
_dummy_hashes: dict[int, str] = {}
# Its own small pool: bounds concurrent hashes (memory) and never starves the default one.
_executor = ThreadPoolExecutor(max_workers=MAX_CONCURRENT_HASHES, thread_name_prefix="argon2")


def password_problem(password: str) -> str | None:
    """Why `password` may not be chosen, or None when it is acceptable."""
    if len(password) < MIN_PASSWORD_LENGTH:
        return f"At least {MIN_PASSWORD_LENGTH} characters."
    if len(password) > MAX_PASSWORD_LENGTH:
        return f"At most {MAX_PASSWORD_LENGTH} characters."
    if not password.strip():
        return "The password may not be only spaces."
    return None


def hash_password_sync(password: str) -> str:
    return _hasher.hash(password)


def verify_password_sync(password_hash: str, password: str) -> bool:
    """True when `password` matches; False for a mismatch or an unusable/malformed hash.

    A hash that is not an Argon2 hash (the seed's "!") is still answered in the time of a
    real verification, against a dummy hash, so it does not stand out by timing.
    """
    try:
        return _hasher.verify(password_hash, password)
    except VerifyMismatchError:
        return False
    except (InvalidHashError, VerificationError):
        burn_verification_time_sync(password)
        return False


def burn_verification_time_sync(password: str) -> None:
    """Spend what one verification costs (for unknown accounts: login is not an oracle)."""
    key = id(_hasher)
    dummy = _dummy_hashes.get(key)
    if dummy is None:
        dummy = _dummy_hashes[key] = _hasher.hash("dummy password for timing only")
    with contextlib.suppress(VerificationError):
        _hasher.verify(dummy, password)


def needs_rehash(password_hash: str) -> bool:
    """True when the hash was made with other parameters than the current ones."""
    try:
        return _hasher.check_needs_rehash(password_hash)
    except InvalidHashError:
        return True


async def hash_password(password: str) -> str:
    return await asyncio.get_running_loop().run_in_executor(_executor, hash_password_sync, password)


async def verify_password(password_hash: str | None, password: str) -> bool:
    """Verify off the event loop; `password_hash=None` (no such account) costs the same."""
    loop = asyncio.get_running_loop()
    if password_hash is None:
        await loop.run_in_executor(_executor, burn_verification_time_sync, password)
        return False
    return await loop.run_in_executor(_executor, verify_password_sync, password_hash, password)
