"""The `graphql-api` command: serve, migrate, seed, create-user, trust-documents,
export-schema."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import getpass
import logging
import os
import signal
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Any

import click

from graphql_api.core.config import ConfigError, Settings
from graphql_api.core.db.enums import Role
from graphql_api.core.logging_setup import configure_logging, quiet_start_up, wants_json

if TYPE_CHECKING:
    from graphql_api.core.db.models import User
    from graphql_api.core.errors import Rejected

log = logging.getLogger("graphql_api")


def _settings() -> Settings:
    try:
        return Settings.from_env()
    except ConfigError as exc:
        raise click.ClickException(f"configuration error: {exc}") from None


def _configure_logging(settings: Settings, *, server: bool = False) -> None:
    """Readable lines for a person, JSON for a collector.

    The server decides by LOG_FORMAT and whether stderr is a terminal; the other commands
    are run by people, so they write JSON only when LOG_FORMAT=json says so."""
    global _json_logs
    json = wants_json(settings.log_format, sys.stderr) if server else settings.log_format == "json"
    configure_logging(settings.log_level, json=json, console=not json)
    quiet_start_up()
    _json_logs = json


# Whether this command's logs are JSON (set by _configure_logging): then what it tells the
# person running it goes out as log records too, one object per line for collectors.
_json_logs = False


def _say(message: str) -> None:
    """A message for the person running the command; a log record when logs are JSON."""
    if _json_logs:
        log.info(message)
    else:
        click.echo(message, err=True)


def _exit_on_sigterm(signum: int, frame: FrameType | None) -> None:
    # SystemExit unwinds through the `with` blocks, so child servers are stopped too.
    sys.exit(128 + signum)


@contextlib.contextmanager
def _services(settings: Settings) -> Iterator[Settings]:
    """Settings pointing at real services: the configured ones, or private embedded ones."""
    if not settings.embedded:
        yield settings
        return
    from graphql_api.devtools.embedded import EmbeddedError, embedded_services

    _say(f"Starting embedded PostgreSQL and Redis in {settings.home.resolve()} ...")
    try:
        with embedded_services(settings.home) as services:
            yield dataclasses.replace(
                settings, database_url=services.database_url, redis_url=services.redis.url
            )
    except EmbeddedError as exc:
        raise click.ClickException(str(exc)) from None


async def _prepare(settings: Settings, *, seed_if_empty: bool) -> None:
    from sqlalchemy.ext.asyncio import create_async_engine

    from graphql_api.core.auth.users import enable_demo_logins
    from graphql_api.core.db.migrate import upgrade
    from graphql_api.devtools.seed import AlreadySeededError, is_seeded, seed_demo

    assert settings.database_url is not None
    if settings.auto_migrate:
        await upgrade(url=settings.database_url)
    if not seed_if_empty:
        return
    engine = create_async_engine(settings.database_url)
    try:
        if not await is_seeded(engine):
            _say("Seeding demo data (first start) ...")
            # Another replica starting at the same moment may win the race; that is fine.
            with contextlib.suppress(AlreadySeededError):
                await seed_demo(engine, scale=1, seed=42, progress=False)
        # Demo passwords for one account per role (never in production); on every start,
        # because it only fills accounts that still have no usable password.
        await enable_demo_logins(engine, settings)
    finally:
        await engine.dispose()


@click.group()
def main() -> None:
    """GraphQL API server for announcements, businesses, briefings and portfolios."""
    signal.signal(signal.SIGTERM, _exit_on_sigterm)
    # A closed terminal (SIGHUP) must not leave the embedded servers running either.
    signal.signal(signal.SIGHUP, _exit_on_sigterm)


@main.command()
@click.option("--host", default=None, help="Bind address (default HOST or 127.0.0.1).")
@click.option("--port", default=None, type=int, help="Port (default PORT or 8000).")
@click.option(
    "--workers",
    default=None,
    type=click.IntRange(1, 64),
    help="Server processes (default WORKERS or 1); one per core the server may use.",
)
def serve(host: str | None, port: int | None, workers: int | None) -> None:
    """Run the server; with no DATABASE_URL/REDIS_URL, start embedded PostgreSQL and Redis."""
    import uvicorn

    from graphql_api.face.app import create_app

    settings = _settings()
    _configure_logging(settings, server=True)
    host = host or settings.host
    port = port or settings.port
    workers = workers or settings.workers
    with _services(settings) as live:
        asyncio.run(_prepare(live, seed_if_empty=settings.embedded and live.seed_demo_data))
        home = settings.home.resolve() if settings.embedded else None
        ready = _ready_block(host, port, home, _demo_accounts(live))
        if workers > 1:
            _say(ready)
            _serve_workers(live, host, port, workers)
            return
        app = create_app(dataclasses.replace(live, auto_migrate=False))
        config = uvicorn.Config(app, host=host, port=port, **_UVICORN_OPTIONS)
        _run_announcing(config, ready)


@main.command()
def migrate() -> None:
    """Apply database migrations up to the latest revision."""
    settings = _settings()
    _configure_logging(settings)
    with _services(settings) as live:
        asyncio.run(_prepare(dataclasses.replace(live, auto_migrate=True), seed_if_empty=False))
    click.echo("Database is at the latest revision.", err=True)


@main.command()
@click.option(
    "--scale",
    default=1,
    show_default=True,
    type=click.IntRange(1, 1000),
    help="Multiplier for row counts.",
)
@click.option(
    "--seed",
    "seed_value",
    default=42,
    show_default=True,
    type=int,
    help="Random seed; the same seed gives the same data.",
)
def seed(scale: int, seed_value: int) -> None:
    """Fill the database with deterministic demo data."""
    from sqlalchemy.ext.asyncio import create_async_engine

    from graphql_api.core.changes import announce_change
    from graphql_api.devtools.seed import seed_demo

    settings = _settings()
    _configure_logging(settings)

    from graphql_api.core.auth.users import enable_demo_logins

    async def run(url: str, redis_url: str) -> dict[str, int]:
        engine = create_async_engine(url)
        try:
            counts = await seed_demo(engine, scale=scale, seed=seed_value, progress=True)
            await enable_demo_logins(engine, settings)
        finally:
            await engine.dispose()
        # Servers already reading this database must not keep serving cached answers.
        await announce_change(redis_url)
        return counts

    with _services(settings) as live:
        asyncio.run(_prepare(dataclasses.replace(live, auto_migrate=True), seed_if_empty=False))
        assert live.database_url is not None
        assert live.redis_url is not None
        counts = asyncio.run(run(live.database_url, live.redis_url))
    for table, count in counts.items():
        click.echo(f"{table}: {count}")


_UVICORN_OPTIONS: dict[str, Any] = {
    "log_config": None,
    # /graphql requests log one masked JSON line each (face/observe.py) with what uvicorn's
    # access line has and more; two lines per request would double the logging cost.
    "access_log": False,
    "lifespan": "on",
    "proxy_headers": True,
    # uvloop and httptools when installed (uvicorn[standard] installs both).
    "loop": "auto",
    "http": "auto",
    # permessage-deflate keeps zlib state per connection (~40 KB each): with 1,000
    # subscribers that alone breaks R16's 150 MB (bench/RESULTS.md).
    "ws_per_message_deflate": False,
}


def _serve_workers(live: Settings, host: str, port: int, workers: int) -> None:
    """uvicorn's worker processes, each building the app from the environment.

    The services the parent started (or was given) and one JWT secret are handed down in
    the environment, so every worker accepts the tokens any other issued.
    """
    import uvicorn

    assert live.database_url is not None
    assert live.redis_url is not None
    os.environ.update(
        DATABASE_URL=live.database_url,
        REDIS_URL=live.redis_url,
        JWT_SECRET=live.jwt_secret,
        AUTO_MIGRATE="false",
    )
    uvicorn.run(
        "graphql_api.face.app:create_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        **_UVICORN_OPTIONS,
    )


def _demo_accounts(settings: Settings) -> list[tuple[str, Role]]:
    """The demo accounts that sign in with the demo password (development only)."""
    from sqlalchemy.ext.asyncio import create_async_engine

    from graphql_api.core.auth.users import demo_logins

    assert settings.database_url is not None

    async def find() -> list[tuple[str, Role]]:
        engine = create_async_engine(settings.database_url or "")
        try:
            return await demo_logins(engine, settings)
        finally:
            await engine.dispose()

    return asyncio.run(find())


def _ready_block(host: str, port: int, home: Path | None, accounts: list[tuple[str, Role]]) -> str:
    """What a person needs once the server listens, in one short block."""
    from graphql_api.core.auth.users import DEMO_PASSWORD

    base = f"http://{host}:{port}"
    lines = [
        "",
        f"graphql-api is ready on {base}",
        f"  GraphQL    {base}/graphql   (open it in a browser for GraphiQL)",
        f"  WebSocket  ws://{host}:{port}/graphql   (graphql-transport-ws, graphql-ws)",
        f"  Health     {base}/health/ready   Metrics {base}/metrics",
    ]
    if home is not None:
        lines.append(f"  Data       {home}   (embedded PostgreSQL and Redis)")
    if accounts:
        lines.append(f"  Demo logins (development only, password {DEMO_PASSWORD!r}):")
        lines.extend(f"    {role.value:<7} {email}" for email, role in accounts)
    lines.append("Press Ctrl-C to stop.")
    return "\n".join(lines)


def _run_announcing(config: Any, ready: str) -> None:
    """uvicorn's server, printing the ready block once it listens (not before the bind)."""
    import uvicorn

    class AnnouncingServer(uvicorn.Server):
        async def startup(self, sockets: Any = None) -> None:
            await super().startup(sockets)
            if self.started:
                _say(ready)

    AnnouncingServer(config).run()


def _read_password() -> str:
    """The new password from a prompt (TTY) or the first line of stdin; never from argv."""
    if sys.stdin.isatty():
        password = getpass.getpass("Password: ")
        if getpass.getpass("Repeat password: ") != password:
            raise click.ClickException("the passwords do not match")
        return password
    line = sys.stdin.readline()
    return line.removesuffix("\n").removesuffix("\r")


# The accounts service names fields as the API does; this command's options are named so.
_OPTION_OF_FIELD = {
    "input.email": "email",
    "input.displayName": "display-name",
    "input.password": "password",
}


def _refusal_message(refusal: Rejected, email: str) -> str:
    from graphql_api.core.errors import UserErrorCode

    reasons: list[str] = []
    for error in refusal.errors:
        if error.code is UserErrorCode.EMAIL_TAKEN:
            reasons.append(f"a user with the e-mail {email.strip().lower()} already exists")
        else:
            option = _OPTION_OF_FIELD.get(error.field or "", error.field)
            reasons.append(f"{option}: {error.message}")
    return "; ".join(reasons)


@main.command("create-user")
@click.option("--email", required=True, help="Login e-mail address.")
@click.option(
    "--role",
    required=True,
    type=click.Choice([role.value for role in Role], case_sensitive=False),
    help="The user's role (ADMIN for the first administrator).",
)
@click.option("--display-name", default=None, help="Shown name (default: the e-mail's local part).")
def create_user(email: str, role: str, display_name: str | None) -> None:
    """Create a user. The password is read from stdin when it is not a terminal, else prompted
    for; it is never taken from the command line (shell history, process lists)."""
    from redis.asyncio import Redis

    from graphql_api.core.actor import Actor
    from graphql_api.core.auth.principal import ANONYMOUS
    from graphql_api.core.changes import connect
    from graphql_api.core.db.engine import Database
    from graphql_api.core.errors import Rejected
    from graphql_api.services import accounts

    name = display_name or email.partition("@")[0]
    try:
        # The same rules as `register`: the e-mail before the prompt, then the password.
        accounts.check_new_account(email=email, display_name=name, password=None)
        password = _read_password()
        accounts.check_new_account(email=email, display_name=name, password=password)
    except Rejected as refusal:
        raise click.ClickException(_refusal_message(refusal, email)) from None
    settings = _settings()
    _configure_logging(settings)

    async def run(live: Settings) -> User:
        db = Database(live)
        assert live.redis_url is not None
        redis = Redis.from_url(live.redis_url)
        # Running servers' response caches must drop what the new user changes.
        connect(db, redis)
        try:
            return await accounts.create_user(
                db=db,
                # No request: no principal, request id or address to record.
                actor=Actor(ANONYMOUS, request_id=None, ip=None, now=datetime.now(UTC)),
                email=email,
                password=password,
                display_name=name,
                role=Role(role.upper()),
            )
        finally:
            await db.dispose()
            await redis.aclose()

    with _services(settings) as live:
        asyncio.run(_prepare(dataclasses.replace(live, auto_migrate=True), seed_if_empty=False))
        try:
            user = asyncio.run(run(live))
        except Rejected as refusal:
            raise click.ClickException(_refusal_message(refusal, email)) from None
    click.echo(f"Created {role.upper()} user {user.email} (id {user.id}).", err=True)


@main.command("trust-documents")
@click.argument("manifest", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def trust_documents_command(manifest: Path) -> None:
    """Load a trusted-documents manifest (JSON: sha256 hash -> document, as GraphQL Code
    Generator's client preset writes it) for TRUSTED_DOCUMENTS=true."""
    import orjson
    from redis.asyncio import Redis

    from graphql_api.face.persisted import trust_documents

    settings = _settings()
    try:
        entries = orjson.loads(manifest.read_bytes())
    except orjson.JSONDecodeError as exc:
        raise click.ClickException(f"{manifest} is not JSON: {exc}") from None
    if not isinstance(entries, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in entries.items()
    ):
        raise click.ClickException(f"{manifest} must be a JSON object of hash -> document")

    async def load(url: str) -> int:
        redis = Redis.from_url(url)
        try:
            return await trust_documents(redis, entries)
        finally:
            await redis.aclose()

    with _services(settings) as live:
        assert live.redis_url is not None
        try:
            count = asyncio.run(load(live.redis_url))
        except ValueError as exc:
            raise click.ClickException(str(exc)) from None
    click.echo(f"Trusted {count} documents.", err=True)


@main.group()
def graphiql() -> None:
    """GraphiQL's assets (React, GraphiQL, the explorer plugin)."""


@graphiql.command("fetch")
@click.option("--registry", default="https://registry.npmjs.org", show_default=True)
def graphiql_fetch(registry: str) -> None:
    """Download GraphiQL's pinned assets from the npm registry into GRAPHQL_API_HOME,
    checking their integrity hashes; GraphiQL then needs no network but the server."""
    from graphql_api.face.graphiql import IntegrityError, fetch

    home = Settings.from_env().home
    try:
        written = fetch(home, registry=registry)
    except (OSError, IntegrityError) as exc:
        raise click.ClickException(f"could not fetch GraphiQL's assets: {exc}") from None
    click.echo(f"Fetched {len(written)} GraphiQL assets into {written[0].parent}.", err=True)


@main.command("export-schema")
def export_schema() -> None:
    """Print the schema as SDL (for codegen; committed as schema/schema.graphql)."""
    from schema import schema

    click.echo(schema.as_str())


if __name__ == "__main__":
    main()
