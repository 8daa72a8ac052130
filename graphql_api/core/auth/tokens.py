"""Access tokens (JWT) and refresh tokens (opaque, rotating, in families) (R6).

Access token: a short-lived JWT signed with `Settings.jwt_secret` using
`Settings.jwt_algorithm`. Decoding accepts that one algorithm only, never the token
header's choice (no `alg: none`, no RS/HS confusion), requires every claim and checks
issuer and audience. Any failure is `Unauthenticated`, with one message for all of them.

Refresh token: `secrets.token_urlsafe(32)` given to the client once; only its SHA-256 is
stored (a high-entropy random secret needs no slow KDF). Tokens form a family from one
login: each refresh marks the presented token used and issues a child (same family,
`parent_id` = the used token). Presenting an already-used token again means two parties
hold it, so the whole family is revoked (`revoked_reason = 'reuse'`), the newer tokens
included. The "mark used" step is one conditional UPDATE (`... WHERE used_at IS NULL ...
RETURNING`), so of two concurrent refreshes of one token exactly one rotates; the other
counts as reuse. A child expires `refresh_token_ttl_seconds` after it was issued (sliding).
"""

from __future__ import annotations

import hashlib
import logging
import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import Enum
from typing import Any, Final

import jwt
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from graphql_api.core.config import Settings
from graphql_api.core.db.enums import Role
from graphql_api.core.db.models import RefreshToken, User
from graphql_api.core.errors import Unauthenticated

log = logging.getLogger(__name__)

REQUIRED_CLAIMS: Final = ("sub", "role", "exp", "iat", "nbf", "jti", "iss", "aud")
# Tolerated clock difference between replicas for exp/nbf/iat.
LEEWAY_SECONDS: Final = 5
# Longer input is not one of our tokens; refused before any parsing or hashing.
MAX_TOKEN_LENGTH: Final = 4096
INVALID_ACCESS_TOKEN: Final = "Invalid or expired access token."  # noqa: S105  (a message)


@dataclass(frozen=True, slots=True)
class AccessClaims:
    user_id: int
    role: str
    jti: str
    expires_at: int
    # The session (refresh-token family) the token was issued in; None for tokens issued
    # outside one (tests, tools). A revoked session's access tokens stop working at once.
    session: str | None = None


@dataclass(frozen=True, slots=True)
class IssuedAccessToken:
    token: str
    expires_at: datetime


def issue_access_token(
    settings: Settings,
    *,
    user_id: int,
    role: Role,
    now: datetime,
    session: uuid.UUID | None = None,
) -> IssuedAccessToken:
    expires_at = now + timedelta(seconds=settings.access_token_ttl_seconds)
    issued = int(now.timestamp())
    claims: dict[str, Any] = {
        "sub": str(user_id),
        "role": role.value,
        "iat": issued,
        "nbf": issued,
        "exp": int(expires_at.timestamp()),
        "jti": uuid.uuid4().hex,
        "iss": settings.jwt_issuer,
        "aud": settings.jwt_audience,
    }
    if session is not None:
        claims["sid"] = str(session)
    token = jwt.encode(claims, settings.jwt_secret, algorithm=settings.jwt_algorithm)
    return IssuedAccessToken(token=token, expires_at=expires_at)


def decode_access_token(settings: Settings, token: str) -> AccessClaims:
    """The verified claims of `token`; `Unauthenticated` for anything not issued by us."""
    if not token or len(token) > MAX_TOKEN_LENGTH:
        raise Unauthenticated(INVALID_ACCESS_TOKEN)
    try:
        claims = jwt.decode(
            token,
            settings.jwt_secret,
            # The configured algorithm only: the token's header never chooses.
            algorithms=[settings.jwt_algorithm],
            audience=settings.jwt_audience,
            issuer=settings.jwt_issuer,
            leeway=LEEWAY_SECONDS,
            options={"require": list(REQUIRED_CLAIMS), "verify_signature": True},
        )
        sub = claims["sub"]
        role = claims["role"]
        jti = claims["jti"]
        if not (isinstance(sub, str) and sub.isascii() and sub.isdigit()):
            raise jwt.InvalidTokenError("sub is not a user id")
        user_id = int(sub)
        if not 0 < user_id < 2**63:
            raise jwt.InvalidTokenError("sub is out of range")
        if not isinstance(role, str) or role not in Role.__members__:
            raise jwt.InvalidTokenError("unknown role")
        if not isinstance(jti, str) or not jti:
            raise jwt.InvalidTokenError("bad jti")
        session = claims.get("sid")
        if session is not None and not (isinstance(session, str) and len(session) <= 64):
            raise jwt.InvalidTokenError("bad sid")
    except jwt.PyJWTError as exc:
        # The reason helps operators; the token itself is never logged.
        log.info("access token rejected", extra={"reason": type(exc).__name__})
        raise Unauthenticated(INVALID_ACCESS_TOKEN) from None
    return AccessClaims(
        user_id=user_id, role=role, jti=jti, expires_at=int(claims["exp"]), session=session
    )


# --- Refresh tokens --------------------------------------------------------------------


def new_refresh_secret() -> str:
    return secrets.token_urlsafe(32)


def hash_refresh_token(raw: str) -> str:
    return hashlib.sha256(raw.encode("utf-8")).hexdigest()


@dataclass(frozen=True, slots=True)
class IssuedRefreshToken:
    token: str
    id: int
    family_id: uuid.UUID
    expires_at: datetime


async def issue_refresh_token(
    session: AsyncSession,
    *,
    user_id: int,
    now: datetime,
    ttl_seconds: int,
    family_id: uuid.UUID | None = None,
    parent_id: int | None = None,
) -> IssuedRefreshToken:
    """Store a new refresh token (a new family unless `family_id` is given)."""
    raw = new_refresh_secret()
    family = family_id or uuid.uuid4()
    expires_at = now + timedelta(seconds=ttl_seconds)
    row = RefreshToken(
        user_id=user_id,
        family_id=family,
        token_hash=hash_refresh_token(raw),
        parent_id=parent_id,
        issued_at=now,
        expires_at=expires_at,
    )
    session.add(row)
    await session.flush()
    return IssuedRefreshToken(token=raw, id=row.id, family_id=family, expires_at=expires_at)


class RefreshOutcome(Enum):
    ROTATED = "rotated"
    INVALID = "invalid"  # unknown, expired, revoked, or its user is inactive
    REUSED = "reused"  # already used: the family was revoked


@dataclass(frozen=True, slots=True)
class Rotation:
    outcome: RefreshOutcome
    user_id: int | None = None
    family_id: uuid.UUID | None = None
    issued: IssuedRefreshToken | None = None
    revoked_count: int = 0


def _plausible(raw: str) -> bool:
    return 0 < len(raw) <= 256


async def rotate_refresh_token(
    session: AsyncSession, *, raw: str, now: datetime, ttl_seconds: int
) -> Rotation:
    """Use `raw` once: a child token on success; a REUSED outcome revokes its family.

    Runs in the caller's transaction; on REUSED the caller commits the revocation (and its
    audit row) even though the client gets an error.
    """
    if not _plausible(raw):
        return Rotation(RefreshOutcome.INVALID)
    token_hash = hash_refresh_token(raw)
    active_users = select(User.id).where(User.is_active.is_(True)).scalar_subquery()
    used = (
        await session.execute(
            update(RefreshToken)
            .where(
                RefreshToken.token_hash == token_hash,
                RefreshToken.used_at.is_(None),
                RefreshToken.revoked_at.is_(None),
                RefreshToken.expires_at > now,
                RefreshToken.user_id.in_(active_users),
            )
            .values(used_at=now)
            .returning(RefreshToken.id, RefreshToken.user_id, RefreshToken.family_id)
            .execution_options(synchronize_session=False)
        )
    ).first()
    if used is not None:
        issued = await issue_refresh_token(
            session,
            user_id=used.user_id,
            now=now,
            ttl_seconds=ttl_seconds,
            family_id=used.family_id,
            parent_id=used.id,
        )
        return Rotation(
            RefreshOutcome.ROTATED, user_id=used.user_id, family_id=used.family_id, issued=issued
        )

    existing = (
        await session.execute(
            select(RefreshToken.user_id, RefreshToken.family_id, RefreshToken.used_at).where(
                RefreshToken.token_hash == token_hash
            )
        )
    ).first()
    if existing is None or existing.used_at is None:
        return Rotation(RefreshOutcome.INVALID)
    revoked = await revoke_family(session, family_id=existing.family_id, now=now, reason="reuse")
    return Rotation(
        RefreshOutcome.REUSED,
        user_id=existing.user_id,
        family_id=existing.family_id,
        revoked_count=revoked,
    )


async def find_refresh_token(session: AsyncSession, *, raw: str) -> RefreshToken | None:
    if not _plausible(raw):
        return None
    return (
        await session.scalars(
            select(RefreshToken).where(RefreshToken.token_hash == hash_refresh_token(raw))
        )
    ).first()


async def revoke_family(
    session: AsyncSession, *, family_id: uuid.UUID, now: datetime, reason: str
) -> int:
    """Revoke every not yet revoked token of the family; returns how many."""
    result = await session.execute(
        update(RefreshToken)
        .where(RefreshToken.family_id == family_id, RefreshToken.revoked_at.is_(None))
        .values(revoked_at=now, revoked_reason=reason)
        .returning(RefreshToken.id)
        .execution_options(synchronize_session=False)
    )
    return len(result.all())
