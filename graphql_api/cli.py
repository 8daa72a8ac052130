"""The `graphql-api` command: serve, migrate, seed, export-schema."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import signal
import sys
from collections.abc import Iterator
from types import FrameType

import click

from graphql_api.config import ConfigError, Settings
from graphql_api.logging_setup import configure_logging

log = logging.getLogger("graphql_api")


def _settings() -> Settings:
    try:
        return Settings.from_env()
    except ConfigError as exc:
        raise click.ClickException(f"configuration error: {exc}") from None


def _exit_on_sigterm(signum: int, frame: FrameType | None) -> None:
    # SystemExit unwinds through the `with` blocks, so child servers are stopped too.
    sys.exit(128 + signum)


@contextlib.contextmanager
def _services(settings: Settings) -> Iterator[Settings]:
    """Settings pointing at real services: the configured ones, or private embedded ones."""
    if not settings.embedded:
        yield settings
        return
    from graphql_api.embedded import EmbeddedError, embedded_services

    click.echo(f"Starting embedded PostgreSQL and Redis in {settings.home.resolve()} ...", err=True)
    try:
        with embedded_services(settings.home) as services:
            yield dataclasses.replace(
                settings, database_url=services.database_url, redis_url=services.redis.url
            )
    except EmbeddedError as exc:
        raise click.ClickException(str(exc)) from None


async def _prepare(settings: Settings, *, seed_if_empty: bool) -> None:
    from sqlalchemy.ext.asyncio import create_async_engine

    from graphql_api.db.migrate import upgrade
    from graphql_api.seed import AlreadySeededError, is_seeded, seed_demo

    assert settings.database_url is not None
    if settings.auto_migrate:
        await upgrade(url=settings.database_url)
    if not seed_if_empty:
        return
    engine = create_async_engine(settings.database_url)
    try:
        if not await is_seeded(engine):
            click.echo("Seeding demo data (first start) ...", err=True)
            # Another replica starting at the same moment may win the race; that is fine.
            with contextlib.suppress(AlreadySeededError):
                await seed_demo(engine, scale=1, seed=42, progress=False)
    finally:
        await engine.dispose()


@click.group()
def main() -> None:
    """GraphQL API server for announcements, businesses, briefings and portfolios."""
    signal.signal(signal.SIGTERM, _exit_on_sigterm)


@main.command()
@click.option("--host", default=None, help="Bind address (default HOST or 127.0.0.1).")
@click.option("--port", default=None, type=int, help="Port (default PORT or 8000).")
def serve(host: str | None, port: int | None) -> None:
    """Run the server; with no DATABASE_URL/REDIS_URL, start embedded PostgreSQL and Redis."""
    import uvicorn

    from graphql_api.app import create_app

    settings = _settings()
    configure_logging(settings.log_level)
    host = host or settings.host
    port = port or settings.port
    with _services(settings) as live:
        asyncio.run(_prepare(live, seed_if_empty=settings.embedded and live.seed_demo_data))
        app = create_app(dataclasses.replace(live, auto_migrate=False))
        click.echo(f"GraphQL endpoint and GraphiQL: http://{host}:{port}/graphql", err=True)
        uvicorn.run(app, host=host, port=port, log_config=None, lifespan="on", proxy_headers=True)


@main.command()
def migrate() -> None:
    """Apply database migrations up to the latest revision."""
    settings = _settings()
    configure_logging(settings.log_level, json=False)
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

    from graphql_api.seed import seed_demo

    settings = _settings()
    configure_logging(settings.log_level, json=False)

    async def run(url: str) -> dict[str, int]:
        engine = create_async_engine(url)
        try:
            return await seed_demo(engine, scale=scale, seed=seed_value, progress=True)
        finally:
            await engine.dispose()

    with _services(settings) as live:
        asyncio.run(_prepare(dataclasses.replace(live, auto_migrate=True), seed_if_empty=False))
        assert live.database_url is not None
        counts = asyncio.run(run(live.database_url))
    for table, count in counts.items():
        click.echo(f"{table}: {count}")


@main.command("export-schema")
def export_schema() -> None:
    """Print the schema as SDL (for codegen; committed as schema/schema.graphql)."""
    from schema import schema

    click.echo(schema.as_str())


if __name__ == "__main__":
    main()
