"""Tampering with the trail: the database refuses it, or `audit verify` and the export find it and name the row.

Edits, deletions, reordering and renumbering of the events themselves are in test_audit_chain.py.
"""

from __future__ import annotations

import csv
import io
import json
from typing import Any

import pytest
from sqlalchemy import Engine, select, text
from sqlalchemy.exc import DBAPIError

from brandgate.db.approvals import decide
from brandgate.db.audit import event_hash, verify_chain
from brandgate.db.engine import make_engine, make_sessionmaker
from brandgate.db.evidence import image_digest
from brandgate.db.export import export_records, verify_evidence
from brandgate.db.models import AuditEvent, CheckResultRow, Image
from brandgate.settings import Settings

EVIDENCE = ("audit_events", "images", "check_results", "approvals", "requests")


@pytest.fixture
def engine(db_settings: Settings) -> Engine:
    built = make_engine(db_settings)
    yield built
    built.dispose()


@pytest.fixture
def trail(engine: Engine, add_image: Any) -> dict[str, str]:
    """Three images as the pipeline records them; the first rejected by a manager."""
    sessions = make_sessionmaker(engine)
    with sessions.begin() as session:
        flagged = add_image(session, verdict="flag", checks=[("BG101", "fail", "flag"), ("BG601", "pass", "reject")])
        rejected = add_image(session, verdict="reject", checks=[("BG601", "fail", "reject")], cost_usd=0.5)
        passed = add_image(session, verdict="pass", checks=[("BG101", "pass", "flag")])
        ids = {"flagged": flagged.id, "rejected": rejected.id, "passed": passed.id, "request": flagged.request_id}
    decide(sessions, ids["flagged"], "rejected", "U1ALICE", "logo too small")
    assert verify_chain(engine).intact and verify_evidence(engine).intact
    return ids


def _bypass(engine: Engine, *statements: str) -> None:
    """Run statements as someone who can switch the guards off: the owner on PostgreSQL, the file's owner on SQLite."""
    with engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            for table in EVIDENCE:
                connection.execute(text(f"ALTER TABLE {table} DISABLE TRIGGER USER"))
            for statement in statements:
                connection.execute(text(statement))
            for table in EVIDENCE:
                connection.execute(text(f"ALTER TABLE {table} ENABLE TRIGGER USER"))
        else:
            triggers = connection.execute(text("SELECT name FROM sqlite_master WHERE type = 'trigger'")).scalars()
            for name in list(triggers):
                connection.execute(text(f'DROP TRIGGER "{name}"'))
            for statement in statements:
                connection.execute(text(statement))


def _refused(engine: Engine, statement: str, params: dict[str, Any] | None = None) -> str:
    with pytest.raises(DBAPIError) as caught, engine.begin() as connection:
        connection.execute(text(statement), params or {})
    return str(caught.value.orig)


def _records(engine: Engine) -> dict[str, dict[str, Any]]:
    return {record["image_id"]: record for record in export_records(engine)}


# --- refused by the database, whoever asks -------------------------------------------------------------


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE images SET verdict = 'pass', cost_usd = 0 WHERE id = :flagged",
        "UPDATE check_results SET status = 'pass' WHERE image_id = :flagged",
        "DELETE FROM check_results WHERE image_id = :flagged",
        "DELETE FROM images WHERE id = :passed",
        "UPDATE approvals SET decided_by = 'U9MALLORY'",
        "DELETE FROM approvals",
        "UPDATE requests SET kit_hash = 'f' WHERE id = :request",
        'UPDATE requests SET brief = \'{"prompt": "other"}\' WHERE id = :request',
        "DELETE FROM requests WHERE id = :request",
        "UPDATE audit_events SET actor = 'U9MALLORY'",
    ],
)
def test_database_refuses_to_edit_or_delete_evidence(engine: Engine, trail: dict[str, str], statement: str) -> None:
    message = _refused(engine, statement, trail)
    assert "append-only" in message and "refused" in message
    assert verify_evidence(engine).intact


def test_a_requests_state_still_changes(engine: Engine, trail: dict[str, str]) -> None:
    """Queue state, progress and the running cost are the job's state, not what was asked."""
    with engine.begin() as connection:
        connection.execute(
            text("UPDATE requests SET state = 'done', stage = NULL, progress_step = 3, cost_usd = 1.5 WHERE id = :r"),
            {"r": trail["request"]},
        )
    assert verify_evidence(engine).intact


@pytest.mark.parametrize("db_settings", ["sqlite"], indirect=True)
@pytest.mark.parametrize(
    "statement",
    [
        "REPLACE INTO audit_events (id, seq, created_at, actor, kind, subject_type, subject_id, payload, prev_hash, "
        "hash) SELECT id, seq, created_at, 'U9MALLORY', kind, subject_type, subject_id, payload, prev_hash, hash "
        "FROM audit_events WHERE seq = 1",
        'INSERT OR REPLACE INTO images (id, request_id, "index", kind, sha256, media_type, width, height, model_id, '
        "model_revision, generation_config, seed, timings, gpu_seconds, cost_usd, verdict, created_at) "
        'SELECT id, request_id, "index", kind, sha256, media_type, width, height, model_id, model_revision, '
        "generation_config, seed, timings, gpu_seconds, 0, 'pass', created_at FROM images WHERE id = :flagged",
        "REPLACE INTO check_results (image_id, check_id, name, status, severity, confidence, message, evidence, "
        "duration_ms) VALUES (:flagged, 'BG101', 'x', 'pass', 'flag', 1.0, 'fine', '{}', 0)",
        "INSERT INTO approvals (image_id, decision, decided_by, decided_at, version) "
        "VALUES (:flagged, 'approved', 'U9MALLORY', '2026-11-29 00:00:00', 1) "
        "ON CONFLICT (image_id) DO UPDATE SET decision = 'approved'",
        "REPLACE INTO requests SELECT * FROM requests WHERE id = :request",
    ],
)
def test_sqlite_refuses_replace_and_upsert_of_evidence(engine: Engine, trail: dict[str, str], statement: str) -> None:
    """REPLACE deletes the old row by conflict resolution, which fires no DELETE trigger: it is refused on insert."""
    message = _refused(engine, statement, trail)
    assert "REPLACE refused" in message or "UPDATE refused" in message
    assert verify_chain(engine).intact and verify_evidence(engine).intact


@pytest.mark.postgres
@pytest.mark.parametrize("db_settings", ["postgres"], indirect=True)
@pytest.mark.parametrize("table", ["images", "check_results", "approvals", "requests", "audit_events"])
def test_postgres_refuses_truncate_of_evidence(engine: Engine, trail: dict[str, str], table: str) -> None:
    message = _refused(engine, f"TRUNCATE {table} CASCADE")
    assert "append-only: TRUNCATE refused" in message


@pytest.mark.postgres
@pytest.mark.parametrize("db_settings", ["postgres"], indirect=True)
def test_postgres_refuses_upsert_of_evidence(engine: Engine, trail: dict[str, str]) -> None:
    message = _refused(
        engine,
        "INSERT INTO approvals (image_id, decision, decided_by, decided_at, version) "
        "VALUES (:flagged, 'approved', 'U9MALLORY', now(), 1) "
        "ON CONFLICT (image_id) DO UPDATE SET decision = 'approved'",
        trail,
    )
    assert "approvals is append-only: UPDATE refused" in message


# --- found, with the row named, when the guards were switched off ------------------------------------------


def test_edited_verdict_and_cost_are_found_and_never_exported_as_valid(
    engine: Engine, trail: dict[str, str], db_settings: Settings, run_cli: Any
) -> None:
    flagged = trail["flagged"]
    _bypass(engine, f"UPDATE images SET verdict = 'pass', cost_usd = 0 WHERE id = '{flagged}'")
    assert verify_chain(engine).intact  # the events were not touched
    report = verify_evidence(engine)
    assert report.first_problem is not None and f"image {flagged}" in report.first_problem
    record = _records(engine)[flagged]
    assert record["integrity"] == "tampered"
    assert any("verdict is 'pass' but the trail recorded 'flag'" in p for p in record["integrity_problems"])
    assert any("cost_usd is 0.0 but the trail recorded 0.012" in p for p in record["integrity_problems"])
    assert {r["integrity"] for i, r in _records(engine).items() if i != flagged} == {"verified"}

    code, out, err = run_cli(db_settings, "audit", "verify")
    assert code == 4 and f"DISAGREE with the trail: image {flagged}" in out, (out, err)
    code, out, err = run_cli(db_settings, "audit", "export")
    assert code == 4 and "1 exported row DISAGREE" in err
    rows = [json.loads(line) for line in out.splitlines()]
    assert [r["integrity"] for r in rows if r["image_id"] == flagged] == ["tampered"]
    code, out, err = run_cli(db_settings, "audit", "export", "--format", "csv")
    assert code == 4
    table = list(csv.DictReader(io.StringIO(out)))
    assert {"integrity", "integrity_problems"} <= set(table[0])
    [edited] = [row for row in table if row["image_id"] == flagged]
    assert edited["integrity"] == "tampered" and edited["integrity_problems"]


@pytest.mark.parametrize(
    ("statement", "named"),
    [
        ("UPDATE check_results SET status = 'pass', message = 'fine' WHERE image_id = '{flagged}'",
         "failed checks are [] but the trail recorded ['BG101']"),
        ("UPDATE check_results SET message = 'looks fine' WHERE image_id = '{passed}'",
         "check rows differ from what event seq"),
        ("DELETE FROM check_results WHERE image_id = '{flagged}' AND check_id = 'BG101'",
         "failed checks are [] but the trail recorded ['BG101']"),
        ("INSERT INTO check_results (image_id, check_id, name, status, severity, confidence, message, evidence, "
         "duration_ms) VALUES ('{passed}', 'BG999', 'x', 'pass', 'flag', 1.0, 'extra', '{{}}', 0)",
         "check rows differ"),
        ("UPDATE approvals SET decided_by = 'U9MALLORY'", "approval decided_by is 'U9MALLORY' but the trail recorded"),
        ("UPDATE approvals SET reason = NULL", "approval reason is None but the trail recorded 'logo too small'"),
        ("DELETE FROM approvals", "but its approval row is gone"),
        ("UPDATE images SET model_revision = 'r2' WHERE id = '{passed}'", "the image row or its"),
        ("UPDATE images SET seed = 7 WHERE id = '{rejected}'", "the image row or its"),
        ("UPDATE requests SET requested_by = 'U9MALLORY', channel = 'C1' WHERE id = '{request}'",
         "requested_by is 'U9MALLORY' but the trail recorded 'U123MARKETER'"),
        ("UPDATE requests SET kit_hash = 'f' WHERE id = '{request}'", "kit_hash is 'f' but the trail recorded"),
        ("UPDATE requests SET channel = 'C1' WHERE id = '{request}'", "the row differs from what event seq"),
    ],
)  # fmt: skip
def test_every_exported_fact_is_bound(engine: Engine, trail: dict[str, str], statement: str, named: str) -> None:
    _bypass(engine, statement.format(**trail))
    problem = verify_evidence(engine).first_problem
    assert problem is not None and named in problem, problem
    tampered = [r for r in _records(engine).values() if r["integrity"] == "tampered"]
    assert tampered and all(r["integrity_problems"] for r in tampered)
    assert any(named in p for r in tampered for p in r["integrity_problems"])


def test_a_deleted_image_is_named_by_its_recording_event(engine: Engine, trail: dict[str, str]) -> None:
    passed = trail["passed"]
    _bypass(
        engine, f"DELETE FROM check_results WHERE image_id = '{passed}'", f"DELETE FROM images WHERE id = '{passed}'"
    )
    problem = verify_evidence(engine).first_problem
    assert problem is not None and f"image {passed}: recorded by event seq" in problem and "row is gone" in problem


def test_a_truncated_evidence_table_is_found(engine: Engine, trail: dict[str, str]) -> None:
    _bypass(engine, "DELETE FROM approvals", "DELETE FROM check_results")
    problem = verify_evidence(engine).first_problem
    assert problem is not None and trail["flagged"] in problem
    assert {r["integrity"] for r in _records(engine).values()} == {"tampered"}


def test_an_edited_recording_event_is_found_by_the_export(engine: Engine, trail: dict[str, str]) -> None:
    """Row and event edited together, the event not re-hashed: the event no longer matches its own hash."""
    rejected = trail["rejected"]
    _bypass(
        engine,
        f"UPDATE images SET verdict = 'pass' WHERE id = '{rejected}'",
        f"UPDATE audit_events SET kind = 'image.created' WHERE subject_id = '{rejected}' AND kind = 'image.created'",
    )
    record = _records(engine)[rejected]
    assert record["integrity"] == "tampered"


@pytest.mark.parametrize("db_settings", ["sqlite"], indirect=True)
def test_replace_with_the_guards_dropped_is_found(engine: Engine, trail: dict[str, str]) -> None:
    flagged = trail["flagged"]
    _bypass(
        engine,
        "REPLACE INTO audit_events (id, seq, created_at, actor, kind, subject_type, subject_id, payload, prev_hash, "
        "hash) SELECT id, seq, created_at, 'U9MALLORY', kind, subject_type, subject_id, payload, prev_hash, hash "
        "FROM audit_events WHERE seq = 2",
        f"REPLACE INTO check_results (image_id, check_id, name, status, severity, confidence, message, evidence, "
        f"duration_ms) VALUES ('{flagged}', 'BG101', 'check-BG101', 'pass', 'flag', 0.9, 'fine', '{{}}', 0)",
    )
    fault = verify_chain(engine).first_break
    assert fault is not None and (fault.kind, fault.seq) == ("edited", 2)
    assert _records(engine)[flagged]["integrity"] == "tampered"


def test_a_full_rewrite_with_recomputed_hashes_is_found_against_an_anchor(
    engine: Engine, trail: dict[str, str], db_settings: Settings, run_cli: Any
) -> None:
    """Row, its digest and every later event re-hashed: only an anchor kept elsewhere shows it."""
    head = verify_chain(engine)
    anchor = f"{head.head_seq}:{head.head_hash}"
    rejected = trail["rejected"]
    _rewrite_verdict(engine, rejected, "pass")
    assert verify_chain(engine).intact and verify_evidence(engine).intact  # the forgery is consistent
    fault = verify_chain(engine, anchors=[(head.head_seq, head.head_hash)]).first_break
    assert fault is not None and fault.kind == "rewritten" and fault.anchored
    code, out, err = run_cli(db_settings, "audit", "verify", "--anchor", anchor)
    assert code == 4 and f"REWRITTEN at or before seq {head.head_seq}" in out
    assert "last good" not in err
    code, out, err = run_cli(db_settings, "audit", "export", "--anchor", anchor)
    assert code == 4 and out == "" and "REWRITTEN" in err


def _rewrite_verdict(engine: Engine, image_id: str, verdict: str) -> None:
    """What a database owner would do: edit the row, recompute its digest and every hash after it."""
    _bypass(engine, f"UPDATE images SET verdict = '{verdict}' WHERE id = '{image_id}'")
    sessions = make_sessionmaker(engine)
    with sessions() as session:
        events = session.query(AuditEvent).order_by(AuditEvent.seq).all()
        for event in events:
            session.expunge(event)
    with engine.connect() as connection:
        image = connection.execute(select(Image.__table__).where(Image.id == image_id)).one()._mapping
        checks = [r._mapping for r in connection.execute(
            select(CheckResultRow.__table__).where(CheckResultRow.image_id == image_id))]  # fmt: skip
    previous = None
    statements = []
    for event in events:
        if event.subject_id == image_id and event.kind == "image.created":
            event.payload = {**event.payload, "verdict": verdict, "evidence_sha256": image_digest(image, checks)}
        if previous is not None:
            event.prev_hash = previous.hash
        event.hash = event_hash(event)
        previous = event
        payload = json.dumps(event.payload).replace("'", "''")
        statements.append(
            f"UPDATE audit_events SET payload = '{payload}', prev_hash = '{event.prev_hash}', hash = '{event.hash}' "
            f"WHERE seq = {event.seq}"
        )
    # hashes are unique: move them aside first so no intermediate state collides
    _bypass(engine, "UPDATE audit_events SET hash = 'x' || substr(hash, 2)", *statements)


def test_every_evidence_table_is_guarded_at_head(engine: Engine) -> None:
    """A migration that rebuilds a table on SQLite (batch mode) drops its triggers: this notices."""
    with engine.connect() as connection:
        if connection.dialect.name == "postgresql":
            rows = connection.execute(
                text("SELECT tgrelid::regclass::text, tgname FROM pg_trigger WHERE NOT tgisinternal")
            ).all()
            expected = {("audit_events", "audit_events_refuse_truncate"), ("requests", "requests_refuse_change"),
                        ("requests", "requests_refuse_truncate")}  # fmt: skip
            for table in ("images", "check_results", "approvals"):
                expected |= {(table, f"{table}_refuse_update_delete"), (table, f"{table}_refuse_truncate")}
        else:
            rows = connection.execute(text("SELECT tbl_name, name FROM sqlite_master WHERE type = 'trigger'")).all()
            expected = {(table, f"{table}_refuse_replace") for table in EVIDENCE}
            for table in ("audit_events", "images", "check_results", "approvals", "requests"):
                expected |= {(table, f"{table}_refuse_update"), (table, f"{table}_refuse_delete")}
    assert expected <= {tuple(row) for row in rows}
