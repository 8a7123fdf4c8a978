"""Migrations on SQLite and PostgreSQL: they apply, match the models, guard the audit trail."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect, text
from sqlalchemy.exc import DatabaseError as SQLDatabaseError

from brandgate.db.audit import append_event
from brandgate.db.engine import make_engine, make_sessionmaker
from brandgate.db.models import Base
from brandgate.db.schema import current_revision, ensure_current, head_revision, upgrade
from brandgate.errors import DatabaseError
from brandgate.settings import Settings

ROOT = Path(__file__).resolve().parents[2]


def test_migrations_create_every_model_table(db_settings: Settings) -> None:
    engine = make_engine(db_settings)
    try:
        assert set(Base.metadata.tables) <= set(inspect(engine).get_table_names())
        assert current_revision(engine) == head_revision()
        ensure_current(engine)
    finally:
        engine.dispose()


def test_autogenerate_finds_no_difference_between_models_and_migrations(db_settings: Settings) -> None:
    engine = make_engine(db_settings)
    try:
        with engine.connect() as connection:
            context = MigrationContext.configure(connection, opts={"compare_type": True})
            assert compare_metadata(context, Base.metadata) == []
    finally:
        engine.dispose()


def _one_event(settings: Settings) -> None:
    engine = make_engine(settings)
    with make_sessionmaker(engine).begin() as session:
        append_event(session, actor="tester", kind="test.event", payload={"n": 1})
    engine.dispose()


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE audit_events SET actor = 'mallory'",
        "DELETE FROM audit_events",
    ],
)
def test_database_refuses_to_change_audit_events(db_settings: Settings, statement: str) -> None:
    _one_event(db_settings)
    engine = make_engine(db_settings)
    try:
        with pytest.raises(SQLDatabaseError, match="append-only"), engine.begin() as connection:
            connection.execute(text(statement))
        with engine.connect() as connection:
            assert connection.execute(text("SELECT actor FROM audit_events")).scalars().all() == ["tester"]
    finally:
        engine.dispose()


@pytest.mark.postgres
def test_postgres_refuses_truncate_of_audit_events(pg_migrated_url: str, settings: Settings) -> None:
    pg = settings.model_copy(update={"database_url": pg_migrated_url})
    _one_event(pg)
    engine = make_engine(pg)
    try:
        with pytest.raises(SQLDatabaseError, match="append-only: TRUNCATE"), engine.begin() as connection:
            connection.execute(text("TRUNCATE audit_events"))
        with engine.connect() as connection:
            assert connection.execute(text("SELECT count(*) FROM audit_events")).scalar() == 1
    finally:
        engine.dispose()


def test_sqlite_file_and_its_folder_are_created(tmp_path: Path) -> None:
    target = tmp_path / "deep" / "er" / "brandgate.db"
    assert upgrade(Settings(database_url=f"sqlite:///{target}")) == head_revision()
    assert target.is_file()


def test_database_behind_head_says_to_run_db_upgrade(tmp_path: Path) -> None:
    engine = make_engine(Settings(database_url=f"sqlite:///{tmp_path / 'empty.db'}"))
    try:
        with pytest.raises(
            DatabaseError, match=r"database is behind \(at no schema, head is .*run `brandgate db upgrade`"
        ):
            ensure_current(engine)
    finally:
        engine.dispose()


def test_database_at_unknown_revision_is_named(settings: Settings) -> None:
    upgrade(settings)
    engine = make_engine(settings)
    try:
        with engine.begin() as connection:
            connection.execute(text("UPDATE alembic_version SET version_num = 'ffff9999'"))
        with pytest.raises(DatabaseError, match=r"ffff9999.*newer version"):
            ensure_current(engine)
    finally:
        engine.dispose()


def test_unreachable_database_error_names_the_host() -> None:
    # Port 1 on loopback refuses at once: no server, no waiting on a timeout.
    engine = make_engine(Settings(database_url="postgresql+psycopg://postgres@127.0.0.1:1/brandgate"))
    with pytest.raises(DatabaseError, match=r"cannot reach the database \(postgresql at 127\.0\.0\.1:1/brandgate\)"):
        ensure_current(engine)


def _cli(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "brandgate", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )


def test_db_upgrade_cli_migrates_and_reports_unreachable_host(tmp_path: Path) -> None:
    import os

    env = {**os.environ, "BRANDGATE_DATABASE_URL": f"sqlite:///{tmp_path / 'var' / 'cli.db'}"}
    done = _cli("db", "upgrade", "--json", env=env)
    assert done.returncode == 0, done.stderr
    assert f'"revision": "{head_revision()}"' in done.stdout
    env["BRANDGATE_DATABASE_URL"] = "postgresql://postgres@db.invalid:5432/brandgate"
    failed = _cli("db", "upgrade", env=env)
    assert failed.returncode == 1
    assert "db.invalid:5432" in failed.stderr
    assert "Traceback" not in failed.stderr


def test_event_time_survives_the_round_trip(db_settings: Settings) -> None:
    """The hash covers created_at; the database must hand it back to the microsecond, in UTC."""
    engine = make_engine(db_settings)
    try:
        with make_sessionmaker(engine).begin() as session:
            written = append_event(session, actor="a", kind="k").created_at
        with engine.connect() as connection:
            stored = connection.execute(text("SELECT created_at FROM audit_events")).scalar_one()
        if isinstance(stored, str):
            stored = datetime.fromisoformat(stored)
        if stored.tzinfo is None:
            stored = stored.replace(tzinfo=UTC)
        assert stored == written
    finally:
        engine.dispose()


def test_migrations_downgrade_to_base_and_back(db_settings: Settings) -> None:
    from alembic import command

    from brandgate.db.schema import alembic_config

    engine = make_engine(db_settings)
    try:
        with engine.begin() as connection:
            config = alembic_config(db_settings)
            config.attributes["connection"] = connection
            command.downgrade(config, "base")
        assert set(inspect(engine).get_table_names()) <= {"alembic_version"}
        assert current_revision(engine) is None
    finally:
        engine.dispose()
    assert upgrade(db_settings) == head_revision()
    _one_event(db_settings)


def test_db_current_cli_says_behind_then_up_to_date(settings: Settings, run_cli: Any) -> None:
    code, out, _ = run_cli(settings, "db", "current")
    assert code == 0 and "behind: run `brandgate db upgrade`" in out
    upgrade(settings)
    code, out, _ = run_cli(settings, "db", "current", "--json")
    assert code == 0 and json.loads(out)["current"] is True
