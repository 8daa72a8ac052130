"""Settings: the only place that reads environment variables.

Every value is parsed and checked once, at start-up; a bad value raises ``ConfigError``
naming the variable, so a misconfigured deployment fails before it serves a request.
"""

from __future__ import annotations

import hashlib
import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path

from graphql_api.core.ratelimit import Budget


class ConfigError(ValueError):
    """A configuration value is missing or malformed; the message names the variable."""


class Environment(StrEnum):
    DEVELOPMENT = "development"
    PRODUCTION = "production"
    TEST = "test"


_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


def _bool(env: Mapping[str, str], name: str, default: bool) -> bool:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    value = raw.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ConfigError(f"{name} must be a boolean (true/false), got {raw!r}")


def _int(env: Mapping[str, str], name: str, default: int, *, low: int, high: int) -> int:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(f"{name} must be an integer, got {raw!r}") from None
    if not low <= value <= high:
        raise ConfigError(f"{name} must be between {low} and {high}, got {value}")
    return value


# Shopify's 1,000 points restored at 50/s for anonymous callers; signed-in users, staff and
# services get more (README "Rate limits").
BUDGET_ANONYMOUS = Budget(1_000, 50)
BUDGET_MEMBER = Budget(2_000, 100)
BUDGET_STAFF = Budget(5_000, 250)
BUDGET_SERVICE = Budget(10_000, 500)


def _origins(env: Mapping[str, str], name: str) -> tuple[str, ...]:
    """Comma-separated origins (`https://app.example.com`), or `*` for any."""
    raw = (env.get(name) or "").strip()
    if not raw:
        return ()
    origins = tuple(part.strip().rstrip("/") for part in raw.split(",") if part.strip())
    for origin in origins:
        if origin != "*" and not origin.startswith(("http://", "https://")):
            raise ConfigError(f"{name} must list origins like https://app.example.com or *")
    return origins


def _float(env: Mapping[str, str], name: str, default: float, *, low: float, high: float) -> float:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a number, got {raw!r}") from None
    if not low <= value <= high:
        raise ConfigError(f"{name} must be between {low} and {high}, got {value}")
    return value


def _budget(env: Mapping[str, str], name: str, default: Budget) -> Budget:
    raw = (env.get(name) or "").strip()
    if not raw:
        return default
    try:
        return Budget.parse(raw)
    except ValueError:
        raise ConfigError(
            f"{name} must be <points>/<restored per second> (e.g. 1000/50), got {raw!r}"
        ) from None


def _url(env: Mapping[str, str], name: str, schemes: tuple[str, ...]) -> str | None:
    raw = env.get(name)
    if raw is None or raw.strip() == "":
        return None
    value = raw.strip()
    if not value.startswith(tuple(f"{scheme}://" for scheme in schemes)):
        allowed = ", ".join(f"{scheme}://" for scheme in schemes)
        # The URL may hold a password, so it is never echoed back.
        raise ConfigError(f"{name} must start with one of: {allowed}")
    return value


def _database_url(env: Mapping[str, str], name: str) -> str | None:
    value = _url(env, name, ("postgresql+asyncpg", "postgresql", "postgres"))
    if value is None:
        return None
    # Accept the libpq spellings operators paste from elsewhere; the engine needs asyncpg.
    for prefix in ("postgresql://", "postgres://"):
        if value.startswith(prefix):
            return "postgresql+asyncpg://" + value[len(prefix) :]
    return value


def _tracing(env: Mapping[str, str]) -> bool:
    """OpenTelemetry's own switches: an OTLP endpoint for traces, not disabled, not `none`."""
    endpoint = env.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") or env.get(
        "OTEL_EXPORTER_OTLP_ENDPOINT"
    )
    if not (endpoint or "").strip():
        return False
    if _bool(env, "OTEL_SDK_DISABLED", False):
        return False
    return env.get("OTEL_TRACES_EXPORTER", "otlp").strip().lower() != "none"


def _token_hash(env: Mapping[str, str], name: str) -> str | None:
    raw = (env.get(name) or "").strip()
    if not raw:
        return None
    if len(raw) < 24:
        raise ConfigError(f"{name} must be at least 24 characters")
    return hashlib.sha256(raw.encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class Settings:
    """Validated runtime configuration (see the README's configuration table)."""

    env: Environment = Environment.DEVELOPMENT
    database_url: str | None = None
    database_read_url: str | None = None
    redis_url: str | None = None
    home: Path = field(default_factory=lambda: Path(".graphql-api"))
    host: str = "127.0.0.1"
    port: int = 8000
    # `serve` worker processes; one per core the server may use (README, Performance).
    workers: int = 1
    jwt_secret: str = field(default_factory=lambda: secrets.token_urlsafe(48), repr=False)
    jwt_algorithm: str = "HS256"
    jwt_issuer: str = "graphql-api"
    jwt_audience: str = "graphql-api"
    access_token_ttl_seconds: int = 900
    refresh_token_ttl_seconds: int = 30 * 24 * 3600
    auto_migrate: bool = True
    seed_demo_data: bool = True
    graphiql: bool = True
    db_pool_size: int = 10
    db_max_overflow: int = 10
    slow_query_ms: int = 200
    max_query_depth: int = 12
    # The most objects one operation may return (README "Limits": the formula).
    max_query_cost: int = 10_000
    # graphql-armor's defaults (docs/DECISIONS.md "Operation limits").
    max_aliases: int = 15
    max_directives: int = 50
    # Codegen needs introspection; it is priced like any query and can be switched off.
    introspection: bool = True
    # A request's deadline (its work is cancelled after it) and reads' statement_timeout.
    request_timeout_seconds: int = 10
    statement_timeout_ms: int = 5_000
    # Dependencies that stall (issue 14): writes' statement_timeout, connecting to
    # PostgreSQL, waiting for a pooled connection, and Redis socket operations.
    write_statement_timeout_ms: int = 10_000
    db_connect_timeout_seconds: float = 3.0
    db_pool_timeout_seconds: float = 3.0
    redis_timeout_seconds: float = 0.5
    # HTTP transport (graphql_api/face/transport.py): the largest request body, the origins
    # a browser may call from (none by default), gzip from this size (0: off).
    max_body_bytes: int = 1024 * 1024
    cors_allow_origins: tuple[str, ...] = ()
    gzip_min_bytes: int = 1024
    # Persisted documents: Apollo's APQ always; only manifest documents when trusted-only.
    persisted_queries: bool = True
    trusted_documents: bool = False
    # Rate limiting (R10): a bucket of query-cost points per caller, shared through Redis.
    rate_limit: bool = True
    budget_anonymous: Budget = BUDGET_ANONYMOUS
    budget_member: Budget = BUDGET_MEMBER
    budget_staff: Budget = BUDGET_STAFF
    budget_service: Budget = BUDGET_SERVICE
    # Response cache (issue 12): whole query results per visibility scope, in process
    # (bounded by bytes) and in Redis. Off by default, the deployment's choice: an answer
    # that depends on the clock (a call closing at its deadline) may lag it by up to 10 s,
    # and writes by other programs show after the max age (docs/DECISIONS.md).
    response_cache: bool = False
    response_cache_max_bytes: int = 64 * 1024 * 1024
    # The safety net, and how long an answer that depends on the clock may lag it.
    response_cache_max_age_seconds: int = 60
    # A second level in Redis, shared by every instance (what one instance read, the others
    # serve); the first level stays in process.
    response_cache_shared: bool = True
    # Query cache (issue 12, R15): rows of the reads marked `cached` (glossary, briefing of
    # the day, related cases, prices), in process, never stale (entity tags).
    query_cache: bool = True
    query_cache_max_rows: int = 50_000
    # The safety net for writes no tag sees (SQL by hand).
    query_cache_max_age_seconds: int = 60
    log_level: str = "INFO"
    # "auto": readable lines when stderr is a terminal, JSON otherwise; "json"; "text".
    log_format: str = "auto"
    trade_fee_bps: int = 10
    expose_sql_count: bool = False
    # OpenTelemetry traces (issue 13): on when an OTLP endpoint is configured; everything
    # else (service name, sampler, headers) the SDK reads from its own OTEL_* variables.
    tracing: bool = False
    # /health/detail for monitors without a user: the SHA-256 of HEALTH_TOKEN (hex), so the
    # token itself is never kept in memory past start-up nor compared in plain text.
    health_token_sha256: str | None = field(default=None, repr=False)

    @property
    def embedded(self) -> bool:
        """True when no external PostgreSQL/Redis is configured and `serve` starts its own."""
        return self.database_url is None and self.redis_url is None

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        source: Mapping[str, str] = os.environ if env is None else env
        raw_env = source.get("ENV", "development").strip().lower() or "development"
        try:
            environment = Environment(raw_env)
        except ValueError:
            allowed = ", ".join(e.value for e in Environment)
            raise ConfigError(f"ENV must be one of: {allowed}; got {raw_env!r}") from None

        database_url = _database_url(source, "DATABASE_URL")
        redis_url = _url(source, "REDIS_URL", ("redis", "rediss", "unix"))
        if (database_url is None) != (redis_url is None):
            missing = "REDIS_URL" if redis_url is None else "DATABASE_URL"
            raise ConfigError(
                f"{missing} must be set too: set both DATABASE_URL and REDIS_URL for external "
                "services, or neither for the embedded ones"
            )

        jwt_secret = source.get("JWT_SECRET", "")
        if environment is Environment.PRODUCTION:
            if len(jwt_secret) < 32:
                raise ConfigError("JWT_SECRET must be set to at least 32 characters in production")
            if database_url is None:
                raise ConfigError("DATABASE_URL must be set in production")
        elif jwt_secret and len(jwt_secret) < 32:
            raise ConfigError("JWT_SECRET must be at least 32 characters")
        if not jwt_secret:
            # A random secret per process is safe for development: tokens simply die on restart.
            jwt_secret = secrets.token_urlsafe(48)

        algorithm = source.get("JWT_ALGORITHM", "HS256").strip()
        if algorithm not in {"HS256", "HS384", "HS512"}:
            raise ConfigError(f"JWT_ALGORITHM must be HS256, HS384 or HS512, got {algorithm!r}")

        log_level = source.get("LOG_LEVEL", "INFO").strip().upper()
        if log_level not in {"DEBUG", "INFO", "WARNING", "ERROR"}:
            raise ConfigError(f"LOG_LEVEL must be DEBUG, INFO, WARNING or ERROR, got {log_level!r}")
        log_format = source.get("LOG_FORMAT", "auto").strip().lower()
        if log_format not in {"auto", "json", "text"}:
            raise ConfigError(f"LOG_FORMAT must be auto, json or text, got {log_format!r}")

        home_raw = source.get("GRAPHQL_API_HOME", "").strip()
        production = environment is Environment.PRODUCTION
        return cls(
            env=environment,
            database_url=database_url,
            database_read_url=_database_url(source, "DATABASE_READ_URL"),
            redis_url=redis_url,
            home=Path(home_raw) if home_raw else Path(".graphql-api"),
            host=source.get("HOST", "127.0.0.1").strip() or "127.0.0.1",
            port=_int(source, "PORT", 8000, low=1, high=65535),
            workers=_int(source, "WORKERS", 1, low=1, high=64),
            jwt_secret=jwt_secret,
            jwt_algorithm=algorithm,
            jwt_issuer=source.get("JWT_ISSUER", "graphql-api").strip() or "graphql-api",
            jwt_audience=source.get("JWT_AUDIENCE", "graphql-api").strip() or "graphql-api",
            access_token_ttl_seconds=_int(
                source, "ACCESS_TOKEN_TTL_SECONDS", 900, low=30, high=24 * 3600
            ),
            refresh_token_ttl_seconds=_int(
                source, "REFRESH_TOKEN_TTL_SECONDS", 30 * 24 * 3600, low=300, high=365 * 24 * 3600
            ),
            auto_migrate=_bool(source, "AUTO_MIGRATE", True),
            seed_demo_data=_bool(source, "SEED_DEMO_DATA", not production),
            graphiql=_bool(source, "GRAPHIQL", not production),
            db_pool_size=_int(source, "DB_POOL_SIZE", 10, low=1, high=200),
            db_max_overflow=_int(source, "DB_MAX_OVERFLOW", 10, low=0, high=200),
            slow_query_ms=_int(source, "SLOW_QUERY_MS", 200, low=1, high=600_000),
            max_query_depth=_int(source, "MAX_QUERY_DEPTH", 12, low=2, high=100),
            max_query_cost=_int(source, "MAX_QUERY_COST", 10_000, low=10, high=10_000_000),
            max_aliases=_int(source, "MAX_ALIASES", 15, low=0, high=10_000),
            max_directives=_int(source, "MAX_DIRECTIVES", 50, low=0, high=10_000),
            introspection=_bool(source, "INTROSPECTION", True),
            request_timeout_seconds=_int(source, "REQUEST_TIMEOUT_SECONDS", 10, low=1, high=3600),
            statement_timeout_ms=_int(
                source, "STATEMENT_TIMEOUT_MS", 5_000, low=10, high=3_600_000
            ),
            write_statement_timeout_ms=_int(
                source, "WRITE_STATEMENT_TIMEOUT_MS", 10_000, low=10, high=3_600_000
            ),
            db_connect_timeout_seconds=_float(
                source, "DB_CONNECT_TIMEOUT_SECONDS", 3.0, low=0.1, high=600
            ),
            db_pool_timeout_seconds=_float(
                source, "DB_POOL_TIMEOUT_SECONDS", 3.0, low=0.1, high=600
            ),
            redis_timeout_seconds=_float(source, "REDIS_TIMEOUT_SECONDS", 0.5, low=0.01, high=60),
            max_body_bytes=_int(source, "MAX_BODY_BYTES", 1024 * 1024, low=1024, high=2**31),
            cors_allow_origins=_origins(source, "CORS_ALLOW_ORIGINS"),
            gzip_min_bytes=_int(source, "GZIP_MIN_BYTES", 1024, low=0, high=2**31),
            persisted_queries=_bool(source, "PERSISTED_QUERIES", True),
            trusted_documents=_bool(source, "TRUSTED_DOCUMENTS", False),
            rate_limit=_bool(source, "RATE_LIMIT", True),
            budget_anonymous=_budget(source, "RATE_LIMIT_ANONYMOUS", BUDGET_ANONYMOUS),
            budget_member=_budget(source, "RATE_LIMIT_MEMBER", BUDGET_MEMBER),
            budget_staff=_budget(source, "RATE_LIMIT_STAFF", BUDGET_STAFF),
            budget_service=_budget(source, "RATE_LIMIT_SERVICE", BUDGET_SERVICE),
            response_cache=_bool(source, "RESPONSE_CACHE", False),
            response_cache_max_bytes=_int(
                source, "RESPONSE_CACHE_MAX_BYTES", 64 * 1024 * 1024, low=0, high=2**40
            ),
            response_cache_max_age_seconds=_int(
                source, "RESPONSE_CACHE_MAX_AGE_SECONDS", 60, low=1, high=7 * 24 * 3600
            ),
            response_cache_shared=_bool(source, "RESPONSE_CACHE_SHARED", True),
            query_cache=_bool(source, "QUERY_CACHE", True),
            query_cache_max_rows=_int(source, "QUERY_CACHE_MAX_ROWS", 50_000, low=1, high=10**8),
            query_cache_max_age_seconds=_int(
                source, "QUERY_CACHE_MAX_AGE_SECONDS", 60, low=1, high=7 * 24 * 3600
            ),
            log_level=log_level,
            log_format=log_format,
            trade_fee_bps=_int(source, "TRADE_FEE_BPS", 10, low=0, high=1000),
            expose_sql_count=_bool(source, "EXPOSE_SQL_COUNT", False),
            tracing=_tracing(source),
            health_token_sha256=_token_hash(source, "HEALTH_TOKEN"),
        )
