"""The local backend end to end: tiny model, real checks, real C2PA signing, SQLite, audit chain."""

from __future__ import annotations

import hashlib
import logging
import shutil
from pathlib import Path

import pytest
import yaml
from sqlalchemy import select

from brandgate.db.approvals import decide
from brandgate.db.audit import verify_chain
from brandgate.db.engine import make_engine
from brandgate.db.export import export_records, verify_evidence
from brandgate.db.models import AuditEvent
from brandgate.errors import UserError
from brandgate.jobs.contract import BriefRefused
from brandgate.jobs.local import LocalQueue
from brandgate.settings import Settings
from pipeline.provenance.verifier import Verifier
from tests.brandgate.jobs.support import (
    BRANDED_BRIEF,
    ROOT,
    Records,
    submission,
    wait_for,
)

FINISHED = ("done", "failed", "cancelled")


def finished(status) -> bool:  # type: ignore[no-untyped-def]
    return status.state in FINISHED


def test_request_runs_end_to_end(job_settings: Settings, records: Records) -> None:
    queue = LocalQueue(job_settings)
    try:
        accepted = queue.submit(submission(key="slack:T1:trigger-1", n=2))
        status = queue.wait(accepted.request_id, timeout=300)
    finally:
        queue.close()

    assert status.state == "done", status
    assert len(status.images) == 2
    request = records.request(accepted.request_id)
    images = records.images(accepted.request_id)
    assert [i.index for i in images] == [0, 1]
    assert len({i.seed for i in images}) == 2  # each image its own derived seed

    verifier = Verifier.from_settings(job_settings)
    for view, row in zip(status.images, images, strict=True):
        data = Path(view.artifact_path).read_bytes()
        assert hashlib.sha256(data).hexdigest() == row.sha256
        assert view.verdict == row.verdict in ("pass", "unverified", "flag", "reject")
        credentials = verifier.read(data)
        assert credentials.state == "trusted"
        assert credentials.governance is not None
        assert credentials.governance.request_id == accepted.request_id
        assert credentials.governance.image_id == row.id
        assert credentials.governance.verdict == row.verdict
        assert credentials.governance.seed == row.seed
        # the chain head at signing: the request's own queued event at least
        trail = credentials.governance.trail
        assert trail is not None and trail.seq >= 1
        assert verify_chain(records.engine, anchors=[(trail.seq, trail.hash)]).intact
        sidecar = Path(view.manifest_path or "")
        assert hashlib.sha256(sidecar.read_bytes()).hexdigest() == row.manifest_sha256
        assert row.gpu_seconds > 0 and row.cost_usd > 0
        assert {"generating", "checking", "signing", "storing", "finishing"} <= set(row.timings)
        # the part of signing spent waiting for the encode thread, as benchmarks/throughput.py shows it
        assert 0 <= row.timings["signing_encode_wait"] <= row.timings["signing"]
        assert row.timings["generating_lock_wait"] >= 0  # the wait for the model, beside its call
        assert row.generation_config["seed"] == row.seed
        assert row.model_revision == row.generation_config["model"]["content_hash"]

    # One charge per image, and the request's total is exactly their sum.
    assert request.cost_usd == pytest.approx(sum(i.cost_usd for i in images))
    assert status.cost_usd == pytest.approx(request.cost_usd, abs=1e-6)
    assert {"preparing", "screening", "generating", "checking", "signing", "storing", "total"} \
        <= set(request.stage_timings)
    assert request.attempts == 1 and request.worker is None
    assert records.kinds(accepted.request_id) == [
        "request.queued", "image.created", "image.created", "request.done"
    ]
    assert verify_chain(records.engine).intact
    assert verify_evidence(records.engine).intact
    assert {r["integrity"] for r in export_records(records.engine)} == {"verified"}


def test_branded_image_is_composited_and_exports_with_its_parent(
    job_settings: Settings, records: Records
) -> None:
    queue = LocalQueue(job_settings)
    try:
        preview = queue.wait(queue.submit(submission(**BRANDED_BRIEF)).request_id, timeout=300)
        assert preview.state == "done", preview
        image = preview.images[0]
        assert image.verdict != "reject", image.failed_checks
        if image.verdict != "pass":
            # the tiny model's noise is never a pass: without an approval there is no HQ export
            with pytest.raises(UserError, match="must approve it before the HQ export"):
                queue.export(image.image_id, "ana", idempotency_key="export-click-0")
            decide(records.sessions, image.image_id, "approved", "slack:T1:UMANAGER", "fine for the test")

        first = queue.export(image.image_id, "ana", idempotency_key="export-click-1")
        again = queue.export(image.image_id, "ana", idempotency_key="export-click-1")
        assert again.request_id == first.request_id and again.duplicate
        exported = queue.wait(first.request_id, timeout=300)
    finally:
        queue.close()

    assert exported.state == "done", exported
    export_row = records.images(first.request_id)[0]
    preview_row = records.images(preview.request_id)[0]
    assert export_row.kind == "export"
    assert export_row.parent_image_id == preview_row.id
    assert export_row.seed == preview_row.seed
    assert records.request(first.request_id).queue == "export"
    assert export_row.generation_config["profile"]["name"] == job_settings.export_profile

    verifier = Verifier.from_settings(job_settings)
    preview_credentials = verifier.read(Path(image.artifact_path).read_bytes())
    roles = {i["role"] for i in preview_credentials.ingredients}
    assert {"background", "logo"} <= roles
    export_credentials = verifier.read(Path(exported.images[0].artifact_path).read_bytes())
    assert export_credentials.state == "trusted"
    parents = [i for i in export_credentials.ingredients if i["relationship"] == "parentOf"]
    assert len(parents) == 1 and parents[0]["has_credentials"]
    assert "image.exported" in records.kinds(first.request_id)
    if image.verdict != "pass":  # the export's audit event names the decision that allowed it
        with records.sessions() as session:
            event = session.scalars(select(AuditEvent).where(AuditEvent.kind == "image.exported")).one()
        assert event.payload["approval"]["decision"] == "approved"
        assert event.payload["approval"]["decided_by"] == "slack:T1:UMANAGER"
        assert event.payload["approval"]["reason"] == "fine for the test"
        # and the export's audit row names the decision on its preview beside its own (none)
        [row] = [r for r in export_records(make_engine(job_settings)) if r["image_id"] == export_row.id]
        assert row["approval"] is None and row["parent_image_id"] == preview_row.id
        assert row["preview_approval"] == {
            "preview_image_id": preview_row.id, "decision": "approved", "decided_by": "slack:T1:UMANAGER",
            "decided_at": row["preview_approval"]["decided_at"],
        }
        assert row["preview_approval"]["decided_at"]


def test_resubmitting_with_the_same_key_queues_once(job_settings: Settings, records: Records) -> None:
    queue = LocalQueue(job_settings, start_workers=False)
    try:
        first = queue.submit(submission(key="slack-retry-abc"))
        second = queue.submit(submission(key="slack-retry-abc"))
        other = queue.submit(submission(key="slack-retry-def"))
    finally:
        queue.close()
    assert not first.duplicate and second.duplicate
    assert second.request_id == first.request_id
    assert other.request_id != first.request_id
    assert len(records.requests()) == 2
    assert records.kinds(first.request_id) == ["request.queued"]


def test_cancel_before_start_removes_it_from_the_queue(job_settings: Settings, records: Records) -> None:
    queue = LocalQueue(job_settings, start_workers=False)
    try:
        first = queue.submit(submission(user="ana"))
        second = queue.submit(submission(user="ben"))
        assert queue.status(second.request_id).describe() == "queued, 1 ahead of you"
        cancelled = queue.cancel(first.request_id, by="ana")
        assert cancelled.state == "cancelled"
        assert queue.status(second.request_id).describe() == "queued, next up"
        queue.start()
        done = queue.wait(second.request_id, timeout=300)
    finally:
        queue.close()
    assert done.state == "done"
    row = records.request(first.request_id)
    assert row.state == "cancelled" and row.started_at is None and row.attempts == 0
    assert records.images(first.request_id) == []
    assert records.kinds(first.request_id) == ["request.queued", "request.cancelled"]


def test_cancel_while_running_stops_at_the_next_step(job_settings: Settings, records: Records) -> None:
    queue = LocalQueue(job_settings)
    try:
        accepted = queue.submit(submission(profile="slow", n=3))
        running = wait_for(queue, accepted.request_id,
                           lambda s: s.state == "running" and s.stage == "generating" and (s.step or 0) >= 2)
        assert running.describe().startswith("generating 1/3, step ")
        queue.cancel(accepted.request_id, by="ana")
        status = wait_for(queue, accepted.request_id, finished)
    finally:
        queue.close()
    assert status.state == "cancelled"
    row = records.request(accepted.request_id)
    assert row.failure_reason == "cancelled by ana"
    assert len(records.images(accepted.request_id)) < 3
    # The denoising steps already run were spent and are charged to the request.
    assert row.gpu_seconds > 0 and row.cost_usd > 0
    kinds = records.kinds(accepted.request_id)
    assert kinds[-2:] == ["request.cancel_requested", "request.cancelled"]
    assert verify_chain(records.engine).intact


def test_rejected_prompt_is_refused_at_intake_and_records_nothing(
    job_settings: Settings, records: Records, caplog: pytest.LogCaptureFixture
) -> None:
    queue = LocalQueue(job_settings)
    try:
        with caplog.at_level("INFO", logger="brandgate.jobs.intake"), pytest.raises(BriefRefused) as refused:
            queue.submit(submission(prompt="a miracle cure in a bottle"))  # acme bans 'miracle'
    finally:
        queue.close()
    assert refused.value.check_ids == ("BG501",) and "miracle" in refused.value.reason
    assert records.requests() == [] and records.events() == []
    [logged] = [r for r in caplog.records if getattr(r, "event", None) == "request.refused"]
    assert logged.levelname == "INFO"
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


@pytest.fixture
def strict_kits(tmp_path: Path) -> Path:
    """acme with a blank-image policy no real picture can pass: every image is rejected."""
    kits = tmp_path / "kits"
    shutil.copytree(ROOT / "brand_kits" / "acme", kits / "acme")
    policy_file = kits / "acme" / "policy.yaml"
    policy = yaml.safe_load(policy_file.read_text()) or {}
    policy["BG601"] = {"severity": "reject", "min_std": 250.0}
    policy_file.write_text(yaml.safe_dump(policy))
    return kits


def test_rejected_images_are_still_billed_and_audited(
    job_settings: Settings, strict_kits: Path, records: Records
) -> None:
    settings = job_settings.model_copy(update={"kits_dir": strict_kits})
    queue = LocalQueue(settings)
    try:
        accepted = queue.submit(submission())
        status = queue.wait(accepted.request_id, timeout=300)
    finally:
        queue.close()
    assert status.state == "done"  # the request did its job: the verdicts are the answer
    assert [v.verdict for v in status.images] == ["reject"]
    assert all(any(c["id"] == "BG601" for c in v.failed_checks) for v in status.images)
    images = records.images(accepted.request_id)
    assert all(i.cost_usd > 0 for i in images)
    assert records.request(accepted.request_id).cost_usd == pytest.approx(sum(i.cost_usd for i in images))
    created = [e for e in records.events(accepted.request_id) if e.kind == "image.created"]
    assert [e.payload["verdict"] for e in created] == ["reject"]
    assert all("BG601" in e.payload["failed_checks"] for e in created)
    assert all(e.payload["cost_usd"] > 0 for e in created)


def test_preview_traffic_follows_the_profile_the_gate_made_active(job_settings: Settings, records: Records) -> None:
    from dataclasses import replace

    from brandgate import model_registry

    queue = LocalQueue(job_settings, start_workers=False)
    try:
        with queue.sessions.begin() as session:
            model_registry.ensure_active(session, job_settings, actor="test")
            model_registry.make_active(session, model_registry.register(session, "slow", job_settings), "test", {})
        followed = queue.submit(submission(user="ana"))
        pinned = queue.submit(replace(submission(user="ben"), pin_profile=True))
        explicit_export = queue.submit(submission(user="cara", profile="export"))
        with queue.sessions.begin() as session:
            model_registry.rollback(session, actor="test", reason="test")
        after_rollback = queue.submit(submission(user="dan"))
    finally:
        queue.close()
    profiles = {r.id: r.profile_name for r in records.requests()}
    assert profiles[followed.request_id] == "slow"
    assert profiles[pinned.request_id] == "preview"
    assert profiles[explicit_export.request_id] == "export"
    assert profiles[after_rollback.request_id] == "preview"


def test_a_pipeline_image_proves_its_record_from_its_credential(
    job_settings: Settings, records: Records, tmp_path: Path
) -> None:
    """Signed under a head, recorded after it: `verify` proves the record once a later head covers it."""
    from brandgate.db.tree import make_head
    from brandgate.trail_key import signing_trail_key, write_trail_key
    from brandgate.verification import verify_file

    private, _ = write_trail_key(tmp_path / "trail")  # not the shared keys folder: other tests keep theirs
    checking = job_settings.model_copy(update={"trail_key": private})
    key = signing_trail_key(checking)
    queue = LocalQueue(job_settings)
    try:
        first = queue.wait(queue.submit(submission(key="slack:T1:tree-1", n=1)).request_id, timeout=300)
        signed_under, _ = make_head(records.engine, key)
        second = queue.wait(queue.submit(submission(key="slack:T1:tree-2", n=1)).request_id, timeout=300)
    finally:
        queue.close()
    assert first.state == second.state == "done"
    path = Path(second.images[0].artifact_path)
    pending = verify_file(path, checking)
    trail = pending.credentials.governance.trail
    assert (trail.tree_size, trail.tree_root) == (signed_under.size, signed_under.root.hex())
    assert pending.record is not None and pending.record.status == "not_checked"
    make_head(records.engine, key)
    held = verify_file(path, checking)
    assert held.record is not None and held.record.status == "held", held.record.detail
    assert held.exit_code == 0
