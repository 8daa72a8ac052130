"""Stable error codes and the one place where errors are classified and masked (R13).

Every error a client sees carries ``extensions.code``. Errors we raise on purpose are
``ApiError`` subclasses; anything else is an internal error: logged with its stack and
shown to the client only as INTERNAL_SERVER_ERROR with a request-neutral message.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from asyncpg import exceptions as asyncpg_exceptions
from asyncpg.exceptions import QueryCanceledError
from graphql import GraphQLError
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from sqlalchemy import exc as sqlalchemy_exc

log = logging.getLogger(__name__)


class ErrorCode(StrEnum):
    UNAUTHENTICATED = "UNAUTHENTICATED"
    FORBIDDEN = "FORBIDDEN"
    NOT_FOUND = "NOT_FOUND"
    BAD_USER_INPUT = "BAD_USER_INPUT"
    RATE_LIMITED = "RATE_LIMITED"
    QUERY_TOO_COMPLEX = "QUERY_TOO_COMPLEX"
    # The request's deadline or a statement's timeout passed; the work was stopped.
    TIMEOUT = "TIMEOUT"
    # PostgreSQL or Redis could not answer (down, refusing, not answering in time): retry
    # after `extensions.retryAfter` seconds (HTTP 503 with Retry-After).
    SERVICE_UNAVAILABLE = "SERVICE_UNAVAILABLE"
    # Transport-level problems: bad JSON, wrong method or parameter types.
    BAD_REQUEST = "BAD_REQUEST"
    # Persisted documents (face/persisted.py).
    PERSISTED_QUERY_NOT_FOUND = "PERSISTED_QUERY_NOT_FOUND"
    PERSISTED_QUERY_NOT_SUPPORTED = "PERSISTED_QUERY_NOT_SUPPORTED"
    UNTRUSTED_DOCUMENT = "UNTRUSTED_DOCUMENT"
    INTERNAL_SERVER_ERROR = "INTERNAL_SERVER_ERROR"
    # graphql-core's own parse and validation failures; named as other GraphQL servers do.
    GRAPHQL_PARSE_FAILED = "GRAPHQL_PARSE_FAILED"
    GRAPHQL_VALIDATION_FAILED = "GRAPHQL_VALIDATION_FAILED"


INTERNAL_MESSAGE = "Internal server error."
TIMEOUT_MESSAGE = "The operation took too long and was stopped; try again, or ask for less."
UNAVAILABLE_MESSAGE = "A service this API depends on is not answering; try again shortly."
# What clients are told to wait before retrying after SERVICE_UNAVAILABLE (Retry-After).
RETRY_AFTER_SECONDS = 5


def dependency_unavailable(exc: BaseException) -> bool:
    """True when `exc` says PostgreSQL or Redis could not answer, not that a request was
    wrong: refused or reset connections, a server shutting down or full, a connection or
    pool checkout that timed out. Follows SQLAlchemy's `.orig` and exception chaining."""
    seen = 0
    current: BaseException | None = exc
    while current is not None and seen < 8:
        seen += 1
        if isinstance(current, QueryCanceledError):
            return False  # statement_timeout: TIMEOUT, not the dependency
        if isinstance(current, _UNAVAILABLE):
            return True
        if isinstance(current, asyncpg_exceptions.InterfaceError) and "closed" in str(current):
            return True
        if isinstance(current, sqlalchemy_exc.DBAPIError):
            if current.connection_invalidated:
                return True
            orig = current.orig
            current = orig if isinstance(orig, BaseException) else current.__cause__
            continue
        current = current.__cause__ or current.__context__
    return False


_UNAVAILABLE: tuple[type[BaseException], ...] = (
    OSError,  # refused, reset, unreachable, timed out (TimeoutError)
    asyncpg_exceptions.PostgresConnectionError,  # 08xxx: the connection failed or died
    asyncpg_exceptions.OperatorInterventionError,  # 57P0x: shutting down, starting up
    asyncpg_exceptions.TooManyConnectionsError,
    sqlalchemy_exc.TimeoutError,  # no pooled connection within the pool timeout
    RedisConnectionError,
    RedisTimeoutError,
)


def unavailable_extensions() -> dict[str, Any]:
    return {"code": ErrorCode.SERVICE_UNAVAILABLE.value, "retryAfter": RETRY_AFTER_SECONDS}


# --- Expected workflow failures (payload `UserError`s, not GraphQL errors) ---------------


class UserErrorCode(StrEnum):
    # Any domain: input validation.
    REQUIRED = "REQUIRED"
    TOO_SHORT = "TOO_SHORT"
    TOO_LONG = "TOO_LONG"
    INVALID_FORMAT = "INVALID_FORMAT"
    OUT_OF_RANGE = "OUT_OF_RANGE"
    INVALID_VALUE = "INVALID_VALUE"
    NOT_FOUND = "NOT_FOUND"
    DUPLICATE = "DUPLICATE"
    # Accounts and access.
    INVALID_CREDENTIALS = "INVALID_CREDENTIALS"
    EMAIL_TAKEN = "EMAIL_TAKEN"
    WEAK_PASSWORD = "WEAK_PASSWORD"  # noqa: S105  (a code, not a password)
    INVALID_TOKEN = "INVALID_TOKEN"  # noqa: S105  (a code, not a token)
    # Announcements, businesses and applications.
    INVALID_TRANSITION = "INVALID_TRANSITION"
    NOT_OPEN = "NOT_OPEN"
    NOT_ELIGIBLE = "NOT_ELIGIBLE"
    ALREADY_APPLIED = "ALREADY_APPLIED"
    # Portfolios and trading.
    UNKNOWN_SYMBOL = "UNKNOWN_SYMBOL"
    NO_PRICE = "NO_PRICE"
    INSUFFICIENT_CASH = "INSUFFICIENT_CASH"
    INSUFFICIENT_HOLDINGS = "INSUFFICIENT_HOLDINGS"


@dataclass(frozen=True, slots=True)
class DomainError:
    """One reason a workflow refused its input: a stable code, a message safe to show, and
    the input field at fault as a dotted path (`input.email`), if one is."""

    code: UserErrorCode
    message: str
    field: str | None = None


class Rejected(Exception):
    """A service refused its input; raised inside its transaction, so nothing was written.

    Mutations turn it into the payload's `errors`; other callers (CLI, seed) report it.
    """

    def __init__(self, *errors: DomainError) -> None:
        super().__init__("; ".join(error.message for error in errors))
        self.errors = errors


class ApiError(Exception):
    """An expected failure with a stable code; its message is safe to show to clients."""

    code: ErrorCode = ErrorCode.INTERNAL_SERVER_ERROR

    def __init__(self, message: str, *, field: str | None = None, **extra: Any) -> None:
        super().__init__(message)
        self.message = message
        self.extensions: dict[str, Any] = {"code": self.code.value, **extra}
        if field is not None:
            self.extensions["field"] = field


class Unauthenticated(ApiError):
    code = ErrorCode.UNAUTHENTICATED


class Forbidden(ApiError):
    code = ErrorCode.FORBIDDEN


class NotFound(ApiError):
    code = ErrorCode.NOT_FOUND


class BadUserInput(ApiError):
    code = ErrorCode.BAD_USER_INPUT


class RateLimited(ApiError):
    code = ErrorCode.RATE_LIMITED


class QueryTooComplex(ApiError):
    code = ErrorCode.QUERY_TOO_COMPLEX


def _code_for_graphql_error(error: GraphQLError) -> str:
    if error.message.startswith("Syntax Error"):
        return ErrorCode.GRAPHQL_PARSE_FAILED.value
    if error.path is None:
        # No path: the document was rejected before execution (validation, variables).
        if error.message.startswith("Variable "):
            return ErrorCode.BAD_USER_INPUT.value
        return ErrorCode.GRAPHQL_VALIDATION_FAILED.value
    return ErrorCode.INTERNAL_SERVER_ERROR.value


def classify(error: GraphQLError) -> GraphQLError:
    """Return the error as clients may see it: with a code, and masked unless expected."""
    original = error.original_error
    if isinstance(original, ApiError):
        return GraphQLError(
            original.message,
            nodes=error.nodes,
            source=error.source,
            positions=error.positions,
            path=error.path,
            extensions=original.extensions,
        )
    if original is None or isinstance(original, GraphQLError):
        # Raised on purpose as a GraphQL error (permission classes, graphql-core itself).
        if error.extensions and "code" in error.extensions:
            return error
        return GraphQLError(
            error.message,
            nodes=error.nodes,
            source=error.source,
            positions=error.positions,
            path=error.path,
            extensions={**(error.extensions or {}), "code": _code_for_graphql_error(error)},
        )
    if isinstance(original, TimeoutError | QueryCanceledError):
        # statement_timeout on reads (or a client-side command timeout): not a bug.
        log.warning("timed out at %s", ".".join(str(p) for p in error.path or ()))
        return GraphQLError(
            TIMEOUT_MESSAGE,
            nodes=error.nodes,
            source=error.source,
            positions=error.positions,
            path=error.path,
            extensions={"code": ErrorCode.TIMEOUT.value},
        )
    if dependency_unavailable(original):
        # PostgreSQL or Redis is down or not answering: clients may retry; no traceback.
        log.warning(
            "dependency unavailable at %s: %s",
            ".".join(str(p) for p in error.path or ()),
            type(original).__name__,
        )
        return GraphQLError(
            UNAVAILABLE_MESSAGE,
            nodes=error.nodes,
            source=error.source,
            positions=error.positions,
            path=error.path,
            extensions=unavailable_extensions(),
        )
    log.error(
        "unhandled error in resolver at %s",
        ".".join(str(p) for p in error.path or ()),
        exc_info=(type(original), original, original.__traceback__),
    )
    return GraphQLError(
        INTERNAL_MESSAGE,
        nodes=error.nodes,
        source=error.source,
        positions=error.positions,
        path=error.path,
        extensions={"code": ErrorCode.INTERNAL_SERVER_ERROR.value},
    )
