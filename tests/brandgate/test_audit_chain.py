"""The hash chain: one unbroken chain under concurrent writers, and verify names the first tampering."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, text

from brandgate.db.audit import GENESIS_HASH, append_event, event_hash, verify_chain
from brandgate.db.engine import make_engine, make_sessionmaker
from brandgate.db.models import AuditEvent, Request
from brandgate.settings import Settings

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def engine(db_settings: Settings) -> Engine:
    built = make_engine(db_settings)
    yield built
    built.dispose()


def _append(engine: Engine, count: int, actor: str = "worker") -> None:
    sessions = make_sessionmaker(engine)
    for n in range(count):
        with sessions.begin() as session:
            append_event(
                session,
                actor=actor,
                kind="image.checked",
                subject_type="image",
                subject_id=f"{actor}-{n}",
                payload={"n": n, "verdict": "pass", "score": 0.5 + n / 1000, "note": "über ✓"},
            )


def _concurrent(engine: Engine, writers: int, each: int) -> None:
    failures: list[BaseException] = []

    def work(index: int) -> None:
        try:
            _append(engine, each, actor=f"w{index}")
        except BaseException as exc:  # surfaced below; a thread's exception is otherwise lost
            failures.append(exc)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(writers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []


def _chain(engine: Engine) -> list[tuple[int, str, str]]:
    with engine.connect() as connection:
        return [
            tuple(r) for r in connection.execute(text("SELECT seq, prev_hash, hash FROM audit_events ORDER BY seq"))
        ]


@pytest.mark.postgres
def test_eight_concurrent_writers_make_one_unbroken_chain_on_postgres(pg_migrated_url: str, settings: Settings) -> None:
    engine = make_engine(settings.model_copy(update={"database_url": pg_migrated_url}), pool_size=8)
    try:
        _concurrent(engine, writers=8, each=200)
        chain = _chain(engine)
        assert [seq for seq, _, _ in chain] == list(range(1, 1601))
        assert chain[0][1] == GENESIS_HASH
        assert all(chain[i][1] == chain[i - 1][2] for i in range(1, len(chain)))
        report = verify_chain(engine)
        assert report.intact and report.events == 1600 and report.head_seq == 1600
    finally:
        engine.dispose()


def test_concurrent_writers_on_sqlite_make_one_unbroken_chain(settings: Settings) -> None:
    from brandgate.db.schema import upgrade

    upgrade(settings)
    engine = make_engine(settings)
    try:
        _concurrent(engine, writers=4, each=40)
        report = verify_chain(engine)
        assert report.intact and report.events == 160
    finally:
        engine.dispose()


def test_separate_processes_on_sqlite_make_one_unbroken_chain(settings: Settings) -> None:
    """Processes, not threads: each has its own connection, so only BEGIN IMMEDIATE keeps them in line."""
    from brandgate.db.schema import upgrade

    upgrade(settings)
    script = (
        "import sys\n"
        "from brandgate.settings import Settings\n"
        "from brandgate.db.engine import make_engine, make_sessionmaker\n"
        "from brandgate.db.audit import append_event\n"
        "sessions = make_sessionmaker(make_engine(Settings(database_url=sys.argv[1])))\n"
        "for n in range(60):\n"
        "    with sessions.begin() as s:\n"
        "        append_event(s, actor=sys.argv[2], kind='k', payload={'n': n})\n"
    )
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", script, settings.database_url, f"p{i}"], cwd=ROOT, env=os.environ.copy()
        )
        for i in range(3)
    ]
    assert [p.wait(timeout=120) for p in procs] == [0, 0, 0]
    engine = make_engine(settings)
    try:
        report = verify_chain(engine)
        assert report.intact and report.events == 180
    finally:
        engine.dispose()


def test_event_commits_or_rolls_back_with_the_callers_rows(engine: Engine) -> None:
    sessions = make_sessionmaker(engine)
    with pytest.raises(RuntimeError, match="boom"), sessions.begin() as session:
        session.add(_request("r1"))
        append_event(session, actor="u", kind="request.created", subject_type="request", subject_id="r1")
        raise RuntimeError("boom")
    with sessions() as session:
        assert session.query(AuditEvent).count() == 0 and session.get(Request, "r1") is None
    with sessions.begin() as session:
        session.add(_request("r2"))
        append_event(session, actor="u", kind="request.created", subject_type="request", subject_id="r2")
    with sessions() as session:
        event = session.query(AuditEvent).one()
        assert (event.seq, event.prev_hash, event.subject_id) == (1, GENESIS_HASH, "r2")
        assert session.get(Request, "r2") is not None
        assert event.hash == event_hash(event)


def _request(request_id: str) -> Request:
    return Request(
        id=request_id,
        requested_by="u",
        kit_name="acme",
        kit_hash="k" * 64,
        brief={"prompt": "p"},
        brief_hash="b" * 64,
        profile_name="tiny",
        seed=1,
        n_images=1,
    )


@pytest.mark.parametrize(
    ("payload", "error"),
    [
        ({"when": object()}, TypeError),
        ({"x": float("nan")}, TypeError),
        (["not", "a", "dict"], TypeError),
        ({"big": "x" * 300_000}, ValueError),
    ],
)
def test_append_event_refuses_payloads_that_would_not_hash_stably(engine: Engine, payload: object, error: type) -> None:
    with pytest.raises(error), make_sessionmaker(engine).begin() as session:
        append_event(session, actor="u", kind="k", payload=payload)  # type: ignore[arg-type]


def test_append_event_requires_actor_and_kind(engine: Engine) -> None:
    with pytest.raises(ValueError, match="actor is required"), make_sessionmaker(engine).begin() as session:
        append_event(session, actor="", kind="k")


# --- tampering, the way someone with database access would do it: guard triggers off -----------


def _tamper(engine: Engine, *statements: str) -> None:
    with engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            connection.execute(text("ALTER TABLE audit_events DISABLE TRIGGER USER"))
            for statement in statements:
                connection.execute(text(statement))
            connection.execute(text("ALTER TABLE audit_events ENABLE TRIGGER USER"))
        else:
            connection.execute(text("DROP TRIGGER audit_events_refuse_update"))
            connection.execute(text("DROP TRIGGER audit_events_refuse_delete"))
            for statement in statements:
                connection.execute(text(statement))


def _hash_of(engine: Engine, seq: int) -> str:
    with engine.connect() as connection:
        return connection.execute(text("SELECT hash FROM audit_events WHERE seq = :s"), {"s": seq}).scalar_one()


def test_verify_passes_an_untouched_chain(engine: Engine) -> None:
    _append(engine, 10)
    report = verify_chain(engine, batch=3)
    assert report.intact and report.events == 10 and report.head_seq == 10
    assert report.head_hash == _hash_of(engine, 10)


def test_verify_of_an_empty_trail_is_intact(engine: Engine) -> None:
    report = verify_chain(engine)
    assert report.intact and report.events == 0 and report.head_hash == GENESIS_HASH


def test_verify_names_an_edited_event(engine: Engine) -> None:
    _append(engine, 10)
    _tamper(engine, "UPDATE audit_events SET actor = 'mallory' WHERE seq = 6")
    fault = verify_chain(engine, batch=4).first_break
    assert fault is not None and (fault.kind, fault.seq) == ("edited", 6)
    assert "event seq 6" in fault.message and "mallory" in fault.message


def test_verify_names_an_edit_hidden_by_recomputing_its_hash(engine: Engine) -> None:
    _append(engine, 10)
    sessions = make_sessionmaker(engine)
    with sessions() as session:
        forged = session.query(AuditEvent).filter_by(seq=4).one()
        session.expunge(forged)
    forged.payload = {"n": 3, "verdict": "approved"}
    new_hash = event_hash(forged)
    _tamper(
        engine,
        f'UPDATE audit_events SET payload = \'{{"n": 3, "verdict": "approved"}}\', hash = \'{new_hash}\' WHERE seq = 4',
    )
    fault = verify_chain(engine).first_break
    assert fault is not None and (fault.kind, fault.seq) == ("edited", 4)
    assert "re-hashed" in fault.message


def test_verify_names_a_deleted_event(engine: Engine) -> None:
    _append(engine, 10)
    _tamper(engine, "DELETE FROM audit_events WHERE seq IN (5, 6)")
    fault = verify_chain(engine).first_break
    assert fault is not None and (fault.kind, fault.seq) == ("deleted", 5)
    assert "seq 5-6 is missing" in fault.message


def test_verify_names_a_deletion_hidden_by_renumbering(engine: Engine) -> None:
    _append(engine, 8)
    _tamper(engine, "DELETE FROM audit_events WHERE seq = 3", "UPDATE audit_events SET seq = seq - 1 WHERE seq > 3")
    fault = verify_chain(engine).first_break
    assert fault is not None and (fault.kind, fault.seq) == ("deleted", 3)


def test_verify_names_the_first_deleted_event_at_the_start(engine: Engine) -> None:
    _append(engine, 4)
    _tamper(engine, "DELETE FROM audit_events WHERE seq = 1")
    fault = verify_chain(engine).first_break
    assert fault is not None and (fault.kind, fault.seq) == ("deleted", 1)


def test_verify_names_reordered_events(engine: Engine) -> None:
    _append(engine, 10)
    _tamper(
        engine,
        "UPDATE audit_events SET seq = -1 WHERE seq = 7",
        "UPDATE audit_events SET seq = 7 WHERE seq = 8",
        "UPDATE audit_events SET seq = 8 WHERE seq = -1",
    )
    fault = verify_chain(engine).first_break
    assert fault is not None and (fault.kind, fault.seq) == ("reordered", 7)
    assert "written as seq 8" in fault.message


def test_audit_verify_cli_exit_codes(db_settings: Settings, engine: Engine, run_cli: Any) -> None:
    _append(engine, 5)
    code, out, err = run_cli(db_settings, "audit", "verify")
    assert code == 0, err
    assert "intact: 5 events" in out
    _tamper(engine, "UPDATE audit_events SET kind = 'nothing.happened' WHERE seq = 2")
    code, out, err = run_cli(db_settings, "audit", "verify", "--json")
    assert code == 4, err
    document = json.loads(out)
    assert document["intact"] is False
    assert document["first_bad_event"]["seq"] == 2 and document["first_bad_event"]["kind"] == "edited"


@pytest.mark.parametrize("db_settings", ["sqlite"], indirect=True)
def test_audit_verify_exits_4_from_the_shell(db_settings: Settings, engine: Engine) -> None:
    _append(engine, 3)
    _tamper(engine, "DELETE FROM audit_events WHERE seq = 2")
    env = {**os.environ, "BRANDGATE_DATABASE_URL": db_settings.database_url}
    done = subprocess.run(
        [sys.executable, "-m", "brandgate", "audit", "verify"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 4, done.stderr
    assert "BROKEN at seq 2 (deleted)" in done.stdout


def test_anchor_catches_deleting_the_newest_events(engine: Engine) -> None:
    _append(engine, 6)
    anchor = (6, _hash_of(engine, 6))
    assert verify_chain(engine, anchor=anchor).intact
    _tamper(engine, "DELETE FROM audit_events WHERE seq >= 5")
    assert verify_chain(engine).intact  # without an anchor the shortened chain is still a valid chain
    fault = verify_chain(engine, anchor=anchor).first_break
    assert fault is not None and (fault.kind, fault.seq) == ("deleted", 5)
    assert "events seq 5-6 are missing" in fault.message


def test_anchor_catches_a_chain_rewritten_and_rehashed(engine: Engine) -> None:
    _append(engine, 4)
    anchor = (4, _hash_of(engine, 4))
    # the attacker rewrites event 3 and recomputes 3 and 4 so that every link holds again
    sessions = make_sessionmaker(engine)
    with sessions() as session:
        rows = session.query(AuditEvent).filter(AuditEvent.seq >= 3).order_by(AuditEvent.seq).all()
        for row in rows:
            session.expunge(row)
    rows[0].actor = "mallory"
    rows[0].hash = event_hash(rows[0])
    rows[1].prev_hash = rows[0].hash
    rows[1].hash = event_hash(rows[1])
    _tamper(
        engine,
        f"UPDATE audit_events SET actor = 'mallory', hash = '{rows[0].hash}' WHERE seq = 3",
        f"UPDATE audit_events SET prev_hash = '{rows[1].prev_hash}', hash = '{rows[1].hash}' WHERE seq = 4",
    )
    assert verify_chain(engine).intact
    fault = verify_chain(engine, anchor=anchor).first_break
    assert fault is not None and (fault.kind, fault.seq, fault.anchored) == ("rewritten", 4, True)


def test_verify_cli_anchor_round_trip_and_bad_anchor(db_settings: Settings, engine: Engine, run_cli: Any) -> None:
    _append(engine, 3)
    code, out, _ = run_cli(db_settings, "audit", "verify")
    anchor = out.split("--anchor ")[1].strip()
    assert anchor == f"3:{_hash_of(engine, 3)}"
    assert run_cli(db_settings, "audit", "verify", "--anchor", anchor)[0] == 0
    assert run_cli(db_settings, "audit", "verify", "--anchor", "9:" + "a" * 64)[0] == 4
    code, _, err = run_cli(db_settings, "audit", "verify", "--anchor", "3:nothex")
    assert code == 2 and "write SEQ:HASH" in err


def _record_images(engine: Engine, writer: int, count: int) -> None:
    """One writer as the pipeline records: an image, its check rows and its event per transaction."""
    from brandgate.db.evidence import record_image, seal_image
    from brandgate.db.models import CheckResultRow, Image

    sessions = make_sessionmaker(engine)
    for n in range(count):
        image_id = f"w{writer}i{n}"
        image = Image(id=image_id, request_id="req-writers", index=writer * count + n, kind="preview",
                      sha256=f"{writer:032d}{n:032d}", media_type="image/png", width=64, height=64,
                      model_id="tiny", model_revision="r1", generation_config={"seed": n}, seed=n,
                      verdict="pass")  # fmt: skip
        checks = [CheckResultRow(image_id=image_id, check_id=f"BG{100 + c}", name=f"check {c}", status="pass",
                                 severity="flag", confidence=0.9, message="ok", evidence={"c": c})
                  for c in range(14)]  # fmt: skip
        digest = seal_image(image, checks)
        with sessions.begin() as session:
            record_image(session, image, checks, actor=f"worker-{writer}", kind="image.created", digest=digest,
                         payload={"request_id": "req-writers", "index": image.index, "verdict": "pass"})  # fmt: skip


@pytest.mark.postgres
def test_eight_writers_recording_images_keep_the_chain_gap_free_and_ordered_on_postgres(
    pg_migrated_url: str, settings: Settings
) -> None:
    """The chain lock is taken after the image and check rows are written: the chain must not notice."""
    from datetime import UTC, datetime

    from brandgate.db.export import verify_evidence
    from brandgate.requests import lifecycle

    engine = make_engine(settings.model_copy(update={"database_url": pg_migrated_url}), pool_size=8)
    try:
        with make_sessionmaker(engine).begin() as session:
            request = Request(id="req-writers", requested_by="U1", source="cli", kit_name="acme", kit_hash="a" * 64,
                              brief={"kit": "acme"}, brief_hash="b" * 64, profile_name="tiny", seed=1,
                              n_images=8 * 25, created_at=datetime.now(UTC))  # fmt: skip
            session.add(request)
            lifecycle.queue(session, request)
        failures: list[BaseException] = []

        def work(index: int) -> None:
            try:
                _record_images(engine, index, 25)
            except BaseException as exc:  # surfaced below
                failures.append(exc)

        threads = [threading.Thread(target=work, args=(i,)) for i in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert failures == []
        chain = _chain(engine)
        assert [seq for seq, _, _ in chain] == list(range(1, 202))  # the request's event, then 200 images
        assert chain[0][1] == GENESIS_HASH
        assert all(chain[i][1] == chain[i - 1][2] for i in range(1, len(chain)))
        report = verify_chain(engine)
        assert report.intact and report.events == 201
        with engine.connect() as connection:
            # each writer's images reached the chain in the order that writer recorded them
            for writer in range(8):
                subjects = connection.execute(
                    text("SELECT subject_id FROM audit_events WHERE actor = :a ORDER BY seq"), {"a": f"worker-{writer}"}
                ).scalars()
                assert list(subjects) == [f"w{writer}i{n}" for n in range(25)]
        # every image row and its 14 check rows are the ones its event recorded
        evidence = verify_evidence(engine)
        assert evidence.rows == 200 and evidence.legacy == 0 and evidence.intact, evidence.first_problem
    finally:
        engine.dispose()
