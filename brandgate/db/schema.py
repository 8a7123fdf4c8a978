"""Schema versions: upgrade to Alembic head, and refuse to run on a database that is behind."""

from __future__ import annotations

import logging

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine
from sqlalchemy.exc import OperationalError

from brandgate.db.engine import describe_url, make_engine
from brandgate.db.roles import grant_app_role
from brandgate.errors import DatabaseError
from brandgate.settings import PROJECT_ROOT, Settings

MIGRATIONS_DIR = PROJECT_ROOT / "migrations"


def alembic_config(settings: Settings | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    if settings is not None:
        config.attributes["settings"] = settings
    return config


def head_revision() -> str:
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    if head is None:  # only if migrations/versions was emptied
        raise DatabaseError(f"no migrations found in {MIGRATIONS_DIR}")
    return head


def current_revision(engine: Engine) -> str | None:
    # Alembic logs its dialect at INFO on every look; that is noise on a command's stderr.
    chatty = logging.getLogger("alembic.runtime.migration")
    level = chatty.level
    chatty.setLevel(max(level, logging.WARNING))
    try:
        with engine.connect() as connection:
            return MigrationContext.configure(connection).get_current_revision()
    except OperationalError as exc:
        raise unreachable(engine, exc) from None
    finally:
        chatty.setLevel(level)


def unreachable(engine: Engine, exc: OperationalError) -> DatabaseError:
    """One line naming where the database was expected and the driver's first line of why."""
    reason = str(exc.orig).strip().splitlines()[0] if exc.orig is not None else str(exc)
    return DatabaseError(
        f"cannot reach the database ({describe_url(engine.url)}): {reason}; "
        "check BRANDGATE_DATABASE_URL and that the server is running"
    )


def _known(revision: str) -> bool:
    try:
        return ScriptDirectory.from_config(alembic_config()).get_revision(revision) is not None
    except Exception:  # alembic raises several kinds for unknown or ambiguous ids
        return False


def upgrade(settings: Settings, revision: str = "head") -> str:
    """Apply migrations up to `revision`; returns the revision the database is at afterwards."""
    engine = make_engine(settings)
    try:
        current_revision(engine)  # a clear error for an unreachable server before Alembic runs
        with engine.begin() as connection:
            config = alembic_config(settings)
            config.attributes["connection"] = connection
            command.upgrade(config, revision)
            if settings.database_app_role:
                _grant(connection, settings.database_app_role)
        return current_revision(engine) or "base"
    finally:
        engine.dispose()


def _grant(connection: Connection, role: str) -> None:
    if connection.dialect.name != "postgresql":
        raise DatabaseError("BRANDGATE_DATABASE_APP_ROLE applies to PostgreSQL only; unset it for SQLite")

    try:
        grant_app_role(connection, role)
    except LookupError as exc:
        raise DatabaseError(str(exc)) from None


def ensure_current(engine: Engine) -> None:
    """Raise DatabaseError unless the database is reachable and at the newest migration."""
    current = current_revision(engine)
    head = head_revision()
    if current is not None and current != head and not _known(current):
        raise DatabaseError(
            f"database is at revision {current}, which this brandgate does not know "
            f"(head is {head}): it was migrated by a newer version; upgrade brandgate"
        )
    if current != head:
        raise DatabaseError(
            f"database is behind (at {current or 'no schema'}, head is {head}): run `brandgate db upgrade`"
        )


__all__ = ["MIGRATIONS_DIR", "alembic_config", "current_revision", "ensure_current", "head_revision", "upgrade"]
