"""The one place engines and sessions are built from settings."""

from __future__ import annotations

import os
import threading
from collections import OrderedDict
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import URL, Connection, make_url
from sqlalchemy.exc import ArgumentError, NoSuchModuleError
from sqlalchemy.orm import Session, sessionmaker

from brandgate.errors import ConfigError
from brandgate.settings import Settings
from policies.characters import printable

# Execution option for long read-only work on SQLite (export, verify): begin DEFERRED so a
# reader does not hold the write lock that workers need.
READ_ONLY = {"brandgate_read_only": True}
SUPPORTED_BACKENDS = ("sqlite", "postgresql")
SQLITE_HEADER = b"SQLite format 3\x00"


def database_url(settings: Settings) -> URL:
    """The configured URL, refused (ConfigError) when it cannot name a database we can open."""
    try:
        url = make_url(settings.database_url)
    except (ArgumentError, ValueError):
        raise ConfigError(
            "BRANDGATE_DATABASE_URL is not an SQLAlchemy URL "
            "(examples: sqlite:///var/brandgate.db, postgresql+psycopg://user@host/db)"
        ) from None
    if url.port is not None and not 1 <= url.port <= 65535:
        raise ConfigError(f"BRANDGATE_DATABASE_URL: port {url.port} is not a TCP port (1-65535)")
    if url.get_backend_name() not in SUPPORTED_BACKENDS:
        raise ConfigError(
            f"BRANDGATE_DATABASE_URL: {printable(url.drivername, 40)!r} is not a database brandgate runs on; "
            "use sqlite:///PATH or postgresql+psycopg://USER@HOST/DB"
        )
    try:
        dialect = url.get_dialect()
        if url.drivername != "postgresql":  # a bare postgresql:// is run with psycopg 3 (make_engine)
            dialect.import_dbapi()
    except NoSuchModuleError:
        raise ConfigError(
            f"BRANDGATE_DATABASE_URL: no SQLAlchemy driver {printable(url.drivername, 40)!r} is installed; "
            "use sqlite:///PATH or postgresql+psycopg://USER@HOST/DB"
        ) from None
    except ImportError as exc:
        raise ConfigError(
            f"BRANDGATE_DATABASE_URL: the driver {printable(url.drivername, 40)!r} needs the Python package "
            f"{printable(exc.name or 'its DB-API module', 40)!r}, which is not installed; "
            "use postgresql+psycopg://USER@HOST/DB (psycopg 3 ships with brandgate)"
        ) from None
    return url


def describe_url(url: URL) -> str:
    """Where the database is, for messages: host and port, or the SQLite file; never the password."""
    if url.get_backend_name() == "sqlite":
        return f"SQLite file {url.database or ':memory:'}"
    port = url.port or (5432 if url.get_backend_name() == "postgresql" else "default port")
    return f"{url.get_backend_name()} at {url.host or 'localhost'}:{port}/{url.database}"


# Engines kept by `process_engine`: production has one database per process; a test process
# opens many (one per test), and an engine left over from an earlier test is let go.
MAX_PROCESS_ENGINES = 8
_process_engines: OrderedDict[tuple[int, str], Engine] = OrderedDict()
_process_engines_lock = threading.Lock()


def process_engine(settings: Settings) -> Engine:
    """This process's engine for the settings' database, made on first use and shared.

    Every part of a process (the bot's queue and its approvals, a worker's runs and heartbeats,
    a command) uses one connection pool. Callers never dispose it. Keyed by process ID too,
    so a forked worker makes its own instead of using its parent's connections.
    """
    key = (os.getpid(), settings.database_url)
    with _process_engines_lock:
        engine = _process_engines.get(key)
        if engine is not None:
            _process_engines.move_to_end(key)
            return engine
        engine = make_engine(settings)
        _process_engines[key] = engine
        while len(_process_engines) > MAX_PROCESS_ENGINES:
            (pid, _), old = _process_engines.popitem(last=False)
            # Idle connections go; ones in use finish their work. A parent's sockets are left alone.
            old.dispose(close=pid == os.getpid())
        return engine


def make_engine(settings: Settings, **engine_options: Any) -> Engine:
    """A new engine with its own pool: for migrations, benchmarks and tests that size their pool.

    Everything else uses `process_engine`.
    """
    url = database_url(settings)
    backend = url.get_backend_name()
    if backend == "sqlite":
        return _sqlite_engine(url, **engine_options)
    if backend == "postgresql" and url.drivername == "postgresql":
        # psycopg 3 is what we ship; a bare postgresql:// would ask for psycopg2.
        url = url.set(drivername="postgresql+psycopg")
    options: dict[str, Any] = {"pool_pre_ping": True}
    if backend == "postgresql":
        options["connect_args"] = {"connect_timeout": 10}
    options.update(engine_options)
    return create_engine(url, **options)


def _sqlite_engine(url: URL, **engine_options: Any) -> Engine:
    if url.database and url.database != ":memory:" and not url.database.startswith("file:"):
        _check_sqlite_file(Path(url.database).expanduser())
    options: dict[str, Any] = {"connect_args": {"timeout": 30}}
    options.update(engine_options)
    engine = create_engine(url, **options)

    @event.listens_for(engine, "connect")
    def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
        # Take transaction control away from pysqlite so "begin" below decides how to begin.
        dbapi_conn.isolation_level = None
        cursor = dbapi_conn.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA journal_mode=WAL")
        # WAL + NORMAL: a crash of the process loses nothing; a power cut may lose the last
        # commits but never leaves the file (or the audit chain) inconsistent. FULL would fsync
        # every commit, which caps the embedded default at a few dozen events per second.
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _begin_immediate(conn: Connection) -> None:
        # A deferred transaction that reads and then writes fails with "database is locked"
        # when another writer committed in between (WAL snapshots); IMMEDIATE takes the write
        # lock up front, so writers queue on busy_timeout and always see the latest chain head.
        if conn.get_execution_options().get("brandgate_read_only"):
            conn.exec_driver_sql("BEGIN DEFERRED")
        else:
            conn.exec_driver_sql("BEGIN IMMEDIATE")

    return engine


def _check_sqlite_file(path: Path) -> None:
    """Refuse a path that is a folder or a file that is not SQLite, before the driver fails deep inside."""
    shown = printable(str(path), 200)
    try:
        if path.is_dir():
            raise ConfigError(f"BRANDGATE_DATABASE_URL: {shown} is a folder, not an SQLite database file")
        if path.is_file() and path.stat().st_size > 0:
            with path.open("rb") as handle:
                header = handle.read(len(SQLITE_HEADER))
            if header != SQLITE_HEADER:
                raise ConfigError(f"BRANDGATE_DATABASE_URL: {shown} is not an SQLite database file")
        path.parent.mkdir(parents=True, exist_ok=True)
        if not path.exists():
            # The trail is private like the artifacts: made 0600 here, and SQLite gives its
            # -wal and -shm files the database file's mode.
            os.close(os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600))
    except FileExistsError:
        pass
    except OSError as exc:
        raise ConfigError(f"BRANDGATE_DATABASE_URL: cannot use {shown}: {exc.strerror or exc}") from None


def make_sessionmaker(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)
