"""Anchors outside the database: every credential carries the chain head, and the scheduler posts it daily."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr
from sqlalchemy import Engine, text

from brandgate.db.audit import append_event, chain_head, event_hash, verify_chain
from brandgate.db.engine import make_engine, make_sessionmaker
from brandgate.db.models import AuditEvent
from brandgate.db.schema import upgrade
from brandgate.scheduler import ANCHOR_JOB_ID, NIGHTLY_JOB_ID, build_scheduler, post_chain_head, stop_scheduler
from brandgate.settings import Settings
from brandgate.verification import verify_file
from pipeline.provenance.governance import TrailAnchor
from pipeline.provenance.signer import Signer
from tests.fake_slack import FakeSlack, fake_token
from tests.pipeline.provenance_world import encode, record, scene, settings_with_chain


@pytest.fixture
def trail(tmp_path: Path) -> tuple[Settings, Engine]:
    """A signing chain and a migrated SQLite trail holding six events."""
    settings = settings_with_chain(tmp_path)
    upgrade(settings)
    engine = make_engine(settings)
    _append(engine, 6)
    yield settings, engine
    engine.dispose()


def _append(engine: Engine, count: int) -> None:
    # The first event is the signed image's own request (provenance_world's record()), as in a real trail.
    for n in range(count):
        with make_sessionmaker(engine).begin() as session:
            subject = ("request", "req-0001") if n == 0 else ("image", f"i{n}")
            append_event(session, actor="worker", kind="image.checked", subject_type=subject[0],
                         subject_id=subject[1], payload={"n": n})  # fmt: skip


def _signed(settings: Settings, engine: Engine, path: Path, seed: int = 0) -> Path:
    seq, digest = chain_head(engine)
    governance = record(trail=TrailAnchor(seq, digest))
    Signer.from_settings(settings).sign(encode(scene(seed=seed), "image/png"), "image/png", governance).write(path)
    return path


def _rewrite_from(engine: Engine, seq: int) -> None:
    """A database owner's rewrite: event `seq` edited, it and every later event re-hashed so all links hold."""
    with make_sessionmaker(engine)() as session:
        events = session.query(AuditEvent).order_by(AuditEvent.seq).all()
        for event in events:
            session.expunge(event)
    statements, previous = ["DROP TRIGGER audit_events_refuse_update", "UPDATE audit_events SET hash = 'x' || "
                            f"substr(hash, 2) WHERE seq >= {seq}"], None  # fmt: skip
    for event in events:
        if event.seq == seq:
            event.actor = "U9MALLORY"
        if event.seq >= seq:
            event.prev_hash = previous.hash if previous is not None else event.prev_hash
            event.hash = event_hash(event)
            statements.append(f"UPDATE audit_events SET actor = '{event.actor}', prev_hash = '{event.prev_hash}', "
                              f"hash = '{event.hash}' WHERE seq = {event.seq}")  # fmt: skip
        previous = event
    with engine.begin() as connection:
        for statement in statements:
            connection.execute(text(statement))
    assert verify_chain(engine).intact  # consistent: only an anchor can tell


def test_a_signed_image_anchors_the_trail_and_verify_checks_it(trail: tuple[Settings, Engine], tmp_path: Path) -> None:
    settings, engine = trail
    path = _signed(settings, engine, tmp_path / "published.png")
    report = verify_file(path, settings)
    assert report.credentials.governance is not None and report.credentials.governance.trail == TrailAnchor(
        *chain_head(engine)
    )
    assert report.anchor is not None and report.anchor.status == "held" and report.exit_code == 0
    assert report.to_json()["governance"]["trail"] == {"seq": 6, "hash": chain_head(engine)[1]}

    _rewrite_from(engine, 4)
    report = verify_file(path, settings)
    assert report.exit_code == 4
    assert report.anchor is not None and report.anchor.status == "rewritten"
    assert "rewritten under this credential: event seq 6" in report.summary


def test_verify_exit_4_when_the_newest_events_were_cut(
    trail: tuple[Settings, Engine], tmp_path: Path, run_cli: Any
) -> None:
    settings, engine = trail
    path = _signed(settings, engine, tmp_path / "published.png")
    with engine.begin() as connection:
        connection.execute(text("DROP TRIGGER audit_events_refuse_delete"))
        connection.execute(text("DELETE FROM audit_events WHERE seq >= 5"))
    code, out, _ = run_cli(settings, "verify", str(path))
    assert code == 4 and "signed at chain seq 6, the trail now ends at seq 4" in out


def test_verify_without_a_reachable_trail_says_the_anchor_was_not_checked(
    trail: tuple[Settings, Engine], tmp_path: Path
) -> None:
    settings, engine = trail
    path = _signed(settings, engine, tmp_path / "published.png")
    elsewhere = settings.model_copy(update={"database_url": f"sqlite:///{tmp_path / 'missing.db'}"})
    report = verify_file(path, elsewhere)
    assert report.exit_code == 0 and report.anchor is not None and report.anchor.status == "not_checked"
    assert not (tmp_path / "missing.db").exists()


def test_audit_verify_anchors_checks_every_credential_in_a_folder(
    trail: tuple[Settings, Engine], tmp_path: Path, run_cli: Any
) -> None:
    settings, engine = trail
    published = tmp_path / "published"
    (published / "campaign").mkdir(parents=True)
    early = _signed(settings, engine, published / "early.png", seed=1)
    _append(engine, 3)
    _signed(settings, engine, published / "campaign" / "late.png", seed=2)
    (published / "notes.txt").write_text("not an image")
    (published / "unsigned.png").write_bytes(encode(scene(seed=3), "image/png"))

    code, out, err = run_cli(settings, "audit", "verify", "--anchors", str(published))
    assert code == 0, (out, err)
    assert "2 anchors held" in out
    assert "3 images under" in err and "2 carry a trail anchor (2 distinct), 1 carry none" in err

    _rewrite_from(engine, 2)
    code, out, err = run_cli(settings, "audit", "verify", "--anchors", str(published), "--json")
    assert code == 4
    document = json.loads(out)
    assert document["first_bad_event"]["kind"] == "rewritten" and document["first_bad_event"]["seq"] == 6
    code, out, err = run_cli(settings, "audit", "verify", "--anchors", str(published))
    assert code == 4 and "REWRITTEN at or before seq 6" in out and f"anchored by: {early}" in err


def test_audit_verify_anchors_needs_a_folder(trail: tuple[Settings, Engine], tmp_path: Path, run_cli: Any) -> None:
    settings, _ = trail
    code, _, err = run_cli(settings, "audit", "verify", "--anchors", str(tmp_path / "nowhere"))
    assert code == 2 and "not a folder" in err


def test_the_scheduler_posts_the_chain_head_and_verify_accepts_the_post(
    trail: tuple[Settings, Engine], run_cli: Any
) -> None:
    settings, engine = trail
    with FakeSlack() as slack:
        posting = settings.model_copy(update={"slack_bot_token": SecretStr(fake_token()),
                                              "slack_api_url": slack.api_url,
                                              "slack_compliance_channel": "C0COMPLY"})  # fmt: skip
        posted = post_chain_head(posting, engine)
    [message] = slack.calls_to("chat.postMessage")
    assert message.params["channel"] == "C0COMPLY" and message.params["text"] == posted
    assert f"seq 6 hash {chain_head(engine)[1]}" in posted

    _append(engine, 2)
    code, out, _ = run_cli(settings, "audit", "verify", "--anchor", posted)
    assert code == 0 and "1 anchor held" in out
    _rewrite_from(engine, 3)
    code, out, _ = run_cli(settings, "audit", "verify", "--anchor", posted)
    assert code == 4 and "REWRITTEN at or before seq 6" in out


def test_the_anchor_job_is_scheduled_only_with_a_compliance_channel(trail: tuple[Settings, Engine]) -> None:
    settings, engine = trail
    plain = build_scheduler(settings, engine)
    try:
        assert [job.id for job in plain.get_jobs()] == [NIGHTLY_JOB_ID]
    finally:
        stop_scheduler(plain, wait=False)
    posting = settings.model_copy(update={"slack_compliance_channel": "C0COMPLY", "audit_anchor_cron": "15 7 * * *"})
    sched = build_scheduler(posting, engine)
    try:
        job = sched.get_job(ANCHOR_JOB_ID)
        assert job is not None and (job.next_run_time.hour, job.next_run_time.minute) == (7, 15)
    finally:
        stop_scheduler(sched, wait=False)
