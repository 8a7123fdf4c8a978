"""The Merkle tree over the real audit trail: signed heads, proofs from the database, rewrites caught."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, text

from brandgate.db import merkle
from brandgate.db.audit import GENESIS_HASH, append_event, chain_head, event_hash, verify_chain
from brandgate.db.engine import make_engine, make_sessionmaker
from brandgate.db.models import AuditEvent
from brandgate.db.schema import upgrade
from brandgate.db.tree import (
    TrailNotSigned,
    check_consistency,
    inclusion_proof,
    latest_head,
    list_heads,
    make_head,
    prove_image,
    recording_event,
    root_at,
)
from brandgate.settings import Settings
from brandgate.trail_key import TrailKey, checking_trail_key, signing_trail_key, write_trail_key
from tests.brandgate.test_audit_merkle import naive_mth, naive_path, naive_proof
from tests.conftest import PG_SERVER, _pg_create, _pg_drop

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def engine(db_settings: Settings) -> Iterator[Engine]:
    built = make_engine(db_settings)
    yield built
    built.dispose()


@pytest.fixture
def key(db_settings: Settings) -> TrailKey:
    write_trail_key(db_settings.keys_dir)
    return signing_trail_key(db_settings)


def _append(engine: Engine, count: int, start: int = 0) -> None:
    sessions = make_sessionmaker(engine)
    for n in range(start, start + count):
        with sessions.begin() as session:
            append_event(session, actor="worker", kind="image.checked", subject_type="image", subject_id=f"i{n}",
                         payload={"n": n, "note": "über ✓"})  # fmt: skip


def _chain_hashes(engine: Engine) -> list[bytes]:
    with engine.connect() as connection:
        return [bytes.fromhex(h) for (h,) in connection.execute(text("SELECT hash FROM audit_events ORDER BY seq"))]


def test_every_event_proves_into_each_head_and_each_head_extends_the_last(engine: Engine, key: TrailKey) -> None:
    heads = []
    for count in (1, 2, 5, 8, 13, 4):
        _append(engine, count, start=sum(h.size for h in heads[-1:]))
        head, made = make_head(engine, key)
        assert made and head.signed_by(key)
        heads.append(head)
    again, made = make_head(engine, key)
    assert not made and again == heads[-1]  # nothing new: no second head over the same events
    entries = _chain_hashes(engine)
    with engine.connect() as connection:
        assert [h.size for h in list_heads(connection)] == sorted((h.size for h in heads), reverse=True)
        for head in heads:
            # the root the head signs is the independent tree's over the chain hashes, in seq order
            assert head.root == naive_mth(entries[: head.size]) == root_at(connection, head.size)
        last = heads[-1]
        for seq in range(1, last.size + 1):
            proof = inclusion_proof(connection, seq, last)
            assert list(proof.path) == naive_path(seq - 1, entries[: last.size])
            assert proof.holds()
        for older in heads:
            check = check_consistency(connection, older.size, older.root, last)
            assert check.consistent, check.detail
            assert list(check.proof) == (naive_proof(older.size, entries[: last.size]) if older.size < last.size
                                         else [])  # fmt: skip


def test_a_head_signed_with_another_key_is_named_forged(engine: Engine, key: TrailKey, tmp_path: Path) -> None:
    _append(engine, 3)
    head, _ = make_head(engine, key)
    write_trail_key(tmp_path / "other")
    other = signing_trail_key(Settings(keys_dir=tmp_path / "other"))
    assert head.signed_by(key) and not head.signed_by(other)
    with engine.connect() as connection:
        event = recording_event(connection, "i0")
        assert event is None  # image.checked is not a recording event: the proof says so, not a guess
        proven = prove_image(connection, "i0", latest_head(connection), other)
    assert proven.status == "missing"


def test_make_head_refuses_to_sign_an_edited_trail(db_settings: Settings, engine: Engine, key: TrailKey) -> None:
    _append(engine, 4)
    make_head(engine, key)
    _append(engine, 3, start=4)
    _tamper(engine, "UPDATE audit_events SET actor = 'U9MALLORY' WHERE seq = 6")
    with pytest.raises(TrailNotSigned, match="event seq 6 does not verify"):
        make_head(engine, key)
    with engine.connect() as connection:
        assert latest_head(connection).size == 4  # nothing half-made: no head, no subtrees past it


def test_image_record_is_proven_and_a_changed_record_is_named(
    db_settings: Settings, engine: Engine, key: TrailKey, add_image: Any
) -> None:
    sessions = make_sessionmaker(engine)
    images = []
    for _ in range(5):
        with sessions.begin() as session:
            images.append(add_image(session).id)
    head, _ = make_head(engine, key)
    with engine.connect() as connection:
        for image_id in images:
            proven = prove_image(connection, image_id, head, key)
            assert proven.status == "held", proven.detail
            assert proven.proof is not None and proven.proof.head == head
        assert prove_image(connection, "nosuchimage", head, key).status == "missing"
        assert prove_image(connection, images[0], head, None).status == "not_checked"  # no key: undecided
    with engine.connect() as connection:
        event = recording_event(connection, images[2])
    _tamper(engine, f'UPDATE audit_events SET payload = \'{{"verdict": "pass"}}\' WHERE seq = {event.seq}')
    _tamper(engine, f"UPDATE images SET verdict = 'pass' WHERE id = '{images[3]}'", table="images")
    with engine.connect() as connection:
        edited = prove_image(connection, images[2], head, key)
        assert edited.status == "changed" and "was edited" in edited.detail
        row_changed = prove_image(connection, images[3], head, key)
        assert row_changed.status == "changed" and "verdict" in row_changed.detail
        assert prove_image(connection, images[4], head, key).status == "held"


# --- the rewrite a database owner could do: change history, recompute every hash, rebuild the tree -----


def _tamper(engine: Engine, statement: str, table: str = "audit_events") -> None:
    with engine.begin() as connection:
        if engine.dialect.name == "postgresql":
            connection.execute(text(f"ALTER TABLE {table} DISABLE TRIGGER USER"))
            connection.execute(text(statement))
            connection.execute(text(f"ALTER TABLE {table} ENABLE TRIGGER USER"))
        else:
            triggers = connection.execute(
                text("SELECT name, sql FROM sqlite_master WHERE type = 'trigger' AND tbl_name = :t"), {"t": table}
            ).all()
            for name, _ in triggers:
                connection.execute(text(f"DROP TRIGGER {name}"))
            connection.execute(text(statement))
            for _, sql in triggers:
                connection.execute(text(sql))


def _rewrite(engine: Engine, how: str, at: int, *, keep_tree: bool = False) -> None:
    """Rewrite the trail from seq `at` (edit, delete, swap with the next, insert before), re-chain it all,
    and throw away the tree and its heads so the owner can sign a fresh one."""
    with make_sessionmaker(engine)() as session:
        events = session.query(AuditEvent).order_by(AuditEvent.seq).all()
        for event in events:
            session.expunge(event)
    rows = [{c: getattr(e, c) for c in ("created_at", "actor", "kind", "subject_type", "subject_id", "payload")}
            for e in events]  # fmt: skip
    i = at - 1
    if how == "edit":
        rows[i]["payload"] = {**rows[i]["payload"], "verdict": "pass"}
    elif how == "delete":
        del rows[i]
    elif how == "reorder":
        rows[i], rows[i + 1] = rows[i + 1], rows[i]
    elif how == "insert":
        rows.insert(i, {**rows[i], "actor": "U9MALLORY", "subject_id": "forged"})
    statements = ["DELETE FROM audit_events"]
    if not keep_tree:
        statements += ["DELETE FROM audit_tree_nodes", "DELETE FROM audit_tree_heads"]
    previous = GENESIS_HASH
    inserts = []
    for seq, row in enumerate(rows, start=1):
        event = AuditEvent(seq=seq, prev_hash=previous, **row)
        event.hash = event_hash(event)
        previous = event.hash
        inserts.append({**row, "seq": seq, "prev_hash": event.prev_hash, "hash": event.hash,
                        "payload": json.dumps(row["payload"])})  # fmt: skip
    with engine.begin() as connection:
        for table in ("audit_events", "audit_tree_nodes", "audit_tree_heads"):
            if engine.dialect.name == "postgresql":
                connection.execute(text(f"ALTER TABLE {table} DISABLE TRIGGER USER"))
            else:
                for (name,) in connection.execute(
                    text("SELECT name FROM sqlite_master WHERE type = 'trigger' AND tbl_name = :t"), {"t": table}
                ).all():
                    connection.execute(text(f"DROP TRIGGER {name}"))
        for statement in statements:
            connection.execute(text(statement))
        connection.execute(
            text("INSERT INTO audit_events (seq, created_at, actor, kind, subject_type, subject_id, payload, "
                 "prev_hash, hash) VALUES (:seq, :created_at, :actor, :kind, :subject_type, :subject_id, :payload, "
                 ":prev_hash, :hash)"),
            inserts,
        )  # fmt: skip


@pytest.mark.parametrize("how", ["edit", "delete", "reorder", "insert"])
def test_a_rewritten_history_with_recomputed_hashes_fails_against_a_published_head(
    db_settings: Settings, engine: Engine, key: TrailKey, how: str
) -> None:
    _append(engine, 12)
    published, _ = make_head(engine, key)  # kept outside the database: posted, or carried by a credential
    entries = _chain_hashes(engine)
    at = 7
    _rewrite(engine, how, at)
    assert verify_chain(engine).intact  # the chain alone cannot tell: every link was recomputed
    _append(engine, 3, start=100)
    rewritten, _ = make_head(engine, key)  # even signed with the real key
    with engine.connect() as connection:
        check = check_consistency(connection, published.size, published.root, rewritten)
        assert not check.consistent and "REWRITTEN" in check.detail
        # heads before the rewritten place still hold: the rewrite is located
        assert check_consistency(connection, at - 1, merkle.fold([naive_mth(entries[: at - 1])]), rewritten).consistent
        # every original event from the rewritten place on fails to prove into the published head
        for seq in range(at, published.size + 1):
            original = entries[seq - 1]
            found = connection.execute(text("SELECT seq FROM audit_events WHERE hash = :h"), {"h": original.hex()})
            where = found.scalar()
            if where is None or where > published.size:
                continue  # not even in the trail any more, or moved past the published head
            proof = inclusion_proof(connection, where, rewritten)
            assert not merkle.verify_inclusion(where - 1, published.size, merkle.leaf_hash(original),
                                               proof.path, published.root)  # fmt: skip


@pytest.mark.parametrize("db_settings", ["sqlite"], indirect=True)
def test_full_verify_recomputes_every_head_from_the_events(
    db_settings: Settings, engine: Engine, key: TrailKey
) -> None:
    from brandgate.db.tree import verify_heads

    _append(engine, 10)
    make_head(engine, key)
    _append(engine, 3, start=10)
    make_head(engine, key)
    assert verify_heads(engine, key).intact and verify_heads(engine, key).heads == 2
    intact = _cli(db_settings, "verify")
    assert intact.returncode == 0 and "2 signed heads, each root recomputed" in intact.stdout, intact.stdout
    _rewrite(engine, "edit", 4, keep_tree=True)  # events re-chained, the heads left as they were
    assert verify_chain(engine).intact
    report = verify_heads(engine, key)
    assert not report.intact and "tree head 10:" in str(report.first_problem)
    caught = _cli(db_settings, "verify", "--json")
    assert caught.returncode == 4 and "disagrees" in json.loads(caught.stdout)["first_bad_head"]


# --- trails recorded before the tree ------------------------------------------------------------------


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def unmigrated(request: pytest.FixtureRequest, settings: Settings) -> Iterator[Settings]:
    if request.param == "sqlite":
        yield settings
        return
    request.getfixturevalue("_pg_reachable")
    name = f"brandgate_t_{uuid.uuid4().hex[:12]}"
    _pg_create(name)
    try:
        yield settings.model_copy(update={"database_url": f"{PG_SERVER}/{name}"})
    finally:
        _pg_drop(name)


def test_a_trail_recorded_before_the_tree_becomes_its_leaves_in_order(unmigrated: Settings) -> None:
    upgrade(unmigrated, "0005_evidence")
    engine = make_engine(unmigrated)
    try:
        _append(engine, 9)
        old_anchor = chain_head(engine)  # what credentials signed before the tree carry
        upgrade(unmigrated)
        write_trail_key(unmigrated.keys_dir)
        head, _ = make_head(engine, signing_trail_key(unmigrated))
        assert head.size == 9 and head.root == naive_mth(_chain_hashes(engine))
        assert verify_chain(engine, anchor=old_anchor).intact
        _append(engine, 2, start=9)
        later, _ = make_head(engine, signing_trail_key(unmigrated))
        with engine.connect() as connection:
            assert check_consistency(connection, head.size, head.root, later).consistent
    finally:
        engine.dispose()


# --- the commands a compliance officer types ------------------------------------------------------------


def _cli(settings: Settings, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "BRANDGATE_DATABASE_URL": settings.database_url, "BRANDGATE_KEYS_DIR": str(settings.keys_dir)}
    return subprocess.run([sys.executable, "-m", "brandgate", "audit", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=120)  # fmt: skip


@pytest.mark.parametrize("db_settings", ["sqlite"], indirect=True)
def test_heads_prove_and_since_head_from_the_command_line(
    db_settings: Settings, engine: Engine, key: TrailKey, add_image: Any
) -> None:
    with make_sessionmaker(engine).begin() as session:
        image_id = add_image(session).id
    made = _cli(db_settings, "heads", "--make", "--json")
    assert made.returncode == 0, made.stderr
    listed = json.loads(made.stdout)
    first = listed["heads"][0]
    assert listed["made"] is True and first["signature_valid"] is True and first["key_id"] == key.key_id
    assert "PRIVATE" not in made.stdout + made.stderr  # the key never shows
    with make_sessionmaker(engine).begin() as session:
        later_image = add_image(session).id
    proved = _cli(db_settings, "prove", later_image, "--json")  # newer than the head: one is made on demand
    assert proved.returncode == 0, proved.stdout + proved.stderr
    document = json.loads(proved.stdout)
    assert document["status"] == "held" and document["head"]["size"] > first["size"]
    inclusion = document["inclusion"]
    path = [bytes.fromhex(p) for p in inclusion["path"]]
    leaf, root = bytes.fromhex(inclusion["leaf_hash"]), bytes.fromhex(inclusion["root"])
    assert merkle.verify_inclusion(inclusion["leaf_index"], inclusion["tree_size"], leaf, path, root)
    assert _cli(db_settings, "prove", image_id).returncode == 0
    assert _cli(db_settings, "prove", "nosuchimage").returncode == 4
    since = _cli(db_settings, "verify", "--since-head", f"{first['size']}:{first['root']}")
    assert since.returncode == 0 and "CONSISTENT" in since.stdout, since.stdout + since.stderr
    forged_root = "f" * 64
    bad = _cli(db_settings, "verify", "--since-head", f"{first['size']}:{forged_root}", "--json")
    assert bad.returncode == 4 and json.loads(bad.stdout)["consistent"] is False
    typo = _cli(db_settings, "verify", "--since-head", "12:abc")
    assert typo.returncode == 2 and "SIZE:ROOT" in typo.stderr and "Traceback" not in typo.stderr
    assert checking_trail_key(db_settings) is not None


# --- `brandgate verify FILE`: the credential's head and the image's record ------------------------------


def test_verify_file_proves_the_image_record_from_its_credential(tmp_path: Path, add_image: Any) -> None:
    from brandgate.verification import verify_file
    from pipeline.provenance.governance import TrailAnchor
    from pipeline.provenance.signer import Signer
    from tests.pipeline.provenance_world import encode, record, scene, settings_with_chain

    settings = settings_with_chain(tmp_path)
    upgrade(settings)
    write_trail_key(settings.keys_dir)
    key = signing_trail_key(settings)
    engine = make_engine(settings)
    try:
        sessions = make_sessionmaker(engine)
        with sessions.begin() as session:
            add_image(session)
        signed_under, _ = make_head(engine, key)

        def signed(name: str, image_id: str, seed: int) -> Path:
            # as the pipeline does: sign under the latest head, then record the image
            seq, digest = chain_head(engine)
            anchor = TrailAnchor(seq, digest, tree_size=signed_under.size, tree_root=signed_under.root.hex())
            data = encode(scene(seed=seed), "image/png")
            path = tmp_path / name
            Signer.from_settings(settings).sign(data, "image/png", record(image_id=image_id, trail=anchor)).write(path)
            return path

        with sessions.begin() as session:
            image = add_image(session)
        ours = signed("ours.png", image.id, 1)
        pending = verify_file(ours, settings)
        assert pending.record is not None and pending.record.status == "not_checked"  # after the latest head
        assert pending.exit_code == 0
        make_head(engine, key)
        held = verify_file(ours, settings)
        assert held.record is not None and held.record.status == "held", held.record.detail
        assert held.exit_code == 0
        assert held.to_json()["trail_record"]["proof"]["since_credential_head"]["consistent"] is True
        by_file = _cli(settings, "prove", str(ours), "--json")  # the credential names the image
        assert by_file.returncode == 0 and json.loads(by_file.stdout)["image_id"] == image.id, by_file.stderr

        stranger = verify_file(signed("stranger.png", "notrecorded", 2), settings)
        assert stranger.record is not None and stranger.record.status == "missing" and stranger.exit_code == 4
        assert "no record of image notrecorded" in stranger.summary

        _tamper(engine, f"UPDATE images SET verdict = 'pass' WHERE id = '{image.id}'", table="images")
        changed = verify_file(ours, settings)
        assert changed.record is not None and changed.record.status == "changed" and changed.exit_code == 4

        # a credential signed before the tree (no head in its anchor) verifies as it always did
        seq, digest = chain_head(engine)
        old = tmp_path / "old.png"
        Signer.from_settings(settings).sign(encode(scene(seed=3), "image/png"), "image/png",
                                            record(trail=TrailAnchor(seq, digest))).write(old)  # fmt: skip
        legacy = verify_file(old, settings)
        assert legacy.record is None and legacy.anchor is not None and legacy.anchor.status == "held"
        assert legacy.exit_code == 0
    finally:
        engine.dispose()


def test_a_folder_s_records_are_proven_together_with_the_answers_verify_file_gives(
    tmp_path: Path, add_image: Any
) -> None:
    from brandgate.verification import verify_file
    from brandgate.verify_many import verify_many
    from pipeline.provenance.governance import TrailAnchor
    from pipeline.provenance.signer import Signer
    from tests.pipeline.provenance_world import encode, record, scene, settings_with_chain

    settings = settings_with_chain(tmp_path)
    upgrade(settings)
    write_trail_key(settings.keys_dir)
    key = signing_trail_key(settings)
    engine = make_engine(settings)
    folder = tmp_path / "found"
    try:
        sessions = make_sessionmaker(engine)
        with sessions.begin() as session:
            add_image(session)
        first, _ = make_head(engine, key)
        with sessions.begin() as session:
            images = [add_image(session).id for _ in range(3)]
        second, _ = make_head(engine, key)

        def signed(name: str, image_id: str, seed: int, under: Any) -> Path:
            seq, digest = chain_head(engine)
            anchor = TrailAnchor(seq, digest, tree_size=under.size, tree_root=under.root.hex())
            path = folder / name
            Signer.from_settings(settings).sign(encode(scene(seed=seed), "image/png"), "image/png",
                                                record(image_id=image_id, trail=anchor)).write(path)  # fmt: skip
            return path

        # two copies of one image, images signed under two heads, one image the trail never recorded
        files = [signed("a.png", images[0], 1, first), signed("b.png", images[0], 1, first),
                 signed("c.png", images[1], 2, second), signed("d.png", images[2], 3, first),
                 signed("e.png", "notrecorded", 4, second)]  # fmt: skip
        _tamper(engine, f"UPDATE images SET verdict = 'pass' WHERE id = '{images[2]}'", table="images")
        alone = [verify_file(path, settings) for path in files]
        together = [outcome.report for outcome in verify_many(files, settings, jobs=1)]
    finally:
        engine.dispose()

    assert [r.record.status if r.record else None for r in alone] == ["held", "held", "held", "changed", "missing"]
    for one, many in zip(alone, together, strict=True):
        assert many is not None and many.record is not None and one.record is not None
        assert (many.record.status, many.record.detail) == (one.record.status, one.record.detail)
        assert many.record.proof == one.record.proof
        assert many.exit_code == one.exit_code


# --- heads on a schedule, and in the daily post -----------------------------------------------------------


@pytest.mark.parametrize("db_settings", ["sqlite"], indirect=True)
def test_the_daily_post_carries_a_signed_head_and_the_head_job_is_scheduled_with_a_key(
    db_settings: Settings, engine: Engine
) -> None:
    from pydantic import SecretStr

    from brandgate.scheduler import HEAD_JOB_ID, build_scheduler, post_chain_head, stop_scheduler
    from tests.fake_slack import FakeSlack, fake_token

    _append(engine, 5)
    keyless = build_scheduler(db_settings, engine)
    try:
        assert keyless.get_job(HEAD_JOB_ID) is None  # nothing to sign with: no job that can only fail
    finally:
        stop_scheduler(keyless, wait=False)
    write_trail_key(db_settings.keys_dir)
    scheduled = build_scheduler(db_settings, engine)
    try:
        assert scheduled.get_job(HEAD_JOB_ID) is not None
    finally:
        stop_scheduler(scheduled, wait=False)
    with FakeSlack() as slack:
        posting = db_settings.model_copy(update={"slack_bot_token": SecretStr(fake_token()),
                                                 "slack_api_url": slack.api_url,
                                                 "slack_compliance_channel": "C0COMPLY"})  # fmt: skip
        posted = post_chain_head(posting, engine)
    with engine.connect() as connection:
        head = latest_head(connection)
    assert head is not None and head.size == 5
    assert f"--since-head {head.text}" in posted
    # the chain anchor still comes first, so `audit verify --anchor` takes the post whole as before
    assert posted.index(f"seq 5 hash {chain_head(engine)[1]}") < posted.index("Signed tree head")
    _append(engine, 2, start=5)
    since = _cli(db_settings, "verify", "--since-head", head.text)
    assert since.returncode == 0, since.stdout + since.stderr
    anchored = _cli(db_settings, "verify", "--anchor", posted)
    assert anchored.returncode == 0 and "1 anchor held" in anchored.stdout


# --- streaming: memory stays bounded while the trail grows -------------------------------------------------


def _peak_bytes(work: Any) -> int:
    import tracemalloc

    tracemalloc.start()
    try:
        work()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_export_verify_and_heads_stream_in_bounded_memory(db_settings: Settings, engine: Engine, key: TrailKey) -> None:
    import io

    from benchmarks.audit_scale import seed
    from brandgate.db.export import export_records, verify_evidence, write_csv, write_jsonl

    def measure() -> list[int]:
        return [
            _peak_bytes(lambda: write_jsonl(export_records(engine, batch=50), io.StringIO())),
            _peak_bytes(lambda: write_csv(export_records(engine, batch=50), _Discard())),
            _peak_bytes(lambda: verify_chain(engine, batch=50)),
            _peak_bytes(lambda: verify_evidence(engine, batch=50)),
        ]

    seed(db_settings.database_url, 0, 100)
    small = measure()
    seed(db_settings.database_url, 100, 700)  # eight times the trail
    large = measure()
    for name, before, after in zip(("jsonl", "csv", "chain", "rows"), small, large, strict=True):
        if name == "jsonl":
            continue  # written into memory here on purpose: only its size shows below
        assert after < before * 2, f"{name}: peak {before} bytes at 100 images, {after} at 800"
    jsonl = io.StringIO()
    write_jsonl(export_records(engine, batch=50), jsonl)
    assert jsonl.getvalue().count("\n") == 800 and '"integrity":"verified"' in jsonl.getvalue()
    assert verify_evidence(engine).intact


class _Discard:
    """A text sink that keeps nothing, so only the exporter's own memory is measured."""

    def write(self, text: str) -> int:
        return len(text)
