"""Least privilege on the real PostgreSQL: migrations as the owner, the application as a role that can only append."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from brandgate.db.approvals import decide
from brandgate.db.audit import verify_chain
from brandgate.db.engine import make_engine, make_sessionmaker
from brandgate.db.export import export_records, verify_evidence
from brandgate.db.schema import ensure_current, upgrade
from brandgate.errors import DatabaseError
from brandgate.scheduler import build_scheduler, claim_occurrence, stop_scheduler
from brandgate.settings import Settings
from tests.conftest import PG_SERVER, _pg_admin, _pg_create, _pg_drop

pytestmark = pytest.mark.postgres


@pytest.fixture
def owner_and_app(_pg_reachable: None, settings: Settings) -> Iterator[tuple[Settings, Settings]]:
    """A fresh database migrated by its owner (the server's superuser here), and a login role for the app."""
    role, name = f"bg_app_{uuid.uuid4().hex[:10]}", f"brandgate_roles_{uuid.uuid4().hex[:10]}"
    with _pg_admin() as admin:
        admin.execute(f'CREATE ROLE "{role}" LOGIN')
    _pg_create(name)
    try:
        owner = settings.model_copy(update={"database_url": f"{PG_SERVER}/{name}", "database_app_role": role})
        upgrade(owner)
        app = settings.model_copy(update={"database_url": f"postgresql+psycopg://{role}@127.0.0.1:5432/{name}"})
        yield owner, app
    finally:
        _pg_drop(name)
        with _pg_admin() as admin:
            admin.execute(f'DROP ROLE IF EXISTS "{role}"')


def _refused(settings: Settings, statement: str, params: dict[str, Any] | None = None) -> str:
    engine = make_engine(settings)
    try:
        with pytest.raises(DBAPIError) as caught, engine.begin() as connection:
            connection.execute(text(statement), params or {})
    finally:
        engine.dispose()
    return str(caught.value.orig)


def test_the_app_role_records_and_reads_but_cannot_rewrite_evidence(
    owner_and_app: tuple[Settings, Settings], add_image: Any
) -> None:
    _, app = owner_and_app
    engine = make_engine(app)
    try:
        ensure_current(engine)  # reads alembic_version
        sessions = make_sessionmaker(engine)
        with sessions.begin() as session:
            image = add_image(session, verdict="flag")
            ids = {"image": image.id, "request": image.request_id}
        decide(sessions, ids["image"], "approved", "U1MANAGER", "fine")
        with engine.begin() as connection:  # the job's state still moves
            connection.execute(text("UPDATE requests SET state = 'done', cost_usd = 2 WHERE id = :r"),
                               {"r": ids["request"]})  # fmt: skip
        assert verify_chain(engine).intact and verify_evidence(engine).intact
        assert [r["integrity"] for r in export_records(engine)] == ["verified"]
        assert claim_occurrence(engine, "job", datetime.now(UTC), "me")
        scheduler = build_scheduler(app, engine)  # its job table was made by the owner
        stop_scheduler(scheduler, wait=False)
    finally:
        engine.dispose()

    for statement in (
        "UPDATE images SET verdict = 'pass' WHERE id = :image",
        "DELETE FROM check_results WHERE image_id = :image",
        "UPDATE approvals SET decided_by = 'U9'",
        "DELETE FROM audit_events",
        "UPDATE requests SET kit_hash = 'f' WHERE id = :request",
        "DELETE FROM requests WHERE id = :request",
        "TRUNCATE images CASCADE",
        "TRUNCATE audit_events",
    ):
        assert "permission denied" in _refused(app, statement, ids), statement
    for statement in ("ALTER TABLE images DISABLE TRIGGER USER", "DROP TRIGGER images_refuse_update_delete ON images"):
        assert "must be owner" in _refused(app, statement), statement


def test_upgrade_names_a_missing_app_role(_pg_reachable: None, pg_url: str, settings: Settings) -> None:
    missing = settings.model_copy(update={"database_url": pg_url, "database_app_role": "nobody_here"})
    with pytest.raises(DatabaseError, match="role 'nobody_here' does not exist"):
        upgrade(missing)
