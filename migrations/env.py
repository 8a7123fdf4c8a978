"""Alembic environment: the URL comes from brandgate's Settings, never from alembic.ini."""

from __future__ import annotations

from alembic import context
from sqlalchemy.engine import Connection

from brandgate.db.engine import make_engine
from brandgate.db.models import Base
from brandgate.settings import Settings, get_settings

config = context.config


def _configure(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        compare_type=True,
        # SQLite cannot ALTER most things; batch mode rebuilds the table instead.
        render_as_batch=connection.dialect.name == "sqlite",
    )


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _configure(connection)
        with context.begin_transaction():
            context.run_migrations()
        return
    settings: Settings = config.attributes.get("settings") or get_settings()
    engine = make_engine(settings)
    try:
        with engine.connect() as connection:
            _configure(connection)
            with context.begin_transaction():
                context.run_migrations()
    finally:
        engine.dispose()


if context.is_offline_mode():
    raise SystemExit("offline (--sql) migrations are not supported; run `brandgate db upgrade`")
run_migrations_online()
