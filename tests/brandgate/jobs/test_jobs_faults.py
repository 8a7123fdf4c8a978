"""Bad input and broken surroundings: each ends with a clear reason and loses nothing recorded."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from brandgate.db.audit import verify_chain
from brandgate.db.schema import upgrade
from brandgate.jobs.contract import QueueUnavailable, UnknownRequest
from brandgate.jobs.local import LocalQueue
from brandgate.settings import Settings
from tests.brandgate.jobs.db_proxy import CuttableProxy
from tests.brandgate.jobs.support import (
    PLAIN_BRIEF,
    ROOT,
    Records,
    make_settings,
    submission,
    wait_for,
)

FINISHED = ("done", "failed", "cancelled")


def _mount_tmpfs(path: Path, options: str) -> bool:
    """A real small or read-only file system (needs root); False where mounting is not allowed."""
    path.mkdir(parents=True, exist_ok=True)
    result = subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(path)],
                            capture_output=True, check=False)
    return result.returncode == 0


@contextlib.contextmanager
def tmpfs(path: Path, options: str) -> Iterator[bool]:
    mounted = _mount_tmpfs(path, options)
    try:
        yield mounted
    finally:
        if mounted:
            subprocess.run(["umount", "-l", str(path)], check=False)


def test_unknown_request_and_image(job_settings: Settings) -> None:
    queue = LocalQueue(job_settings, start_workers=False)
    try:
        with pytest.raises(UnknownRequest):
            queue.status("0" * 32)
        with pytest.raises(UnknownRequest):
            queue.cancel("0" * 32, by="ana")
        with pytest.raises(UnknownRequest, match="no image"):
            queue.export("f" * 32, "ana")
    finally:
        queue.close()


def test_artifact_folder_not_writable_fails_before_any_gpu_time(
    job_settings: Settings, records: Records, tmp_path: Path
) -> None:
    folder = tmp_path / "readonly-artifacts"
    with tmpfs(folder, "ro,size=1m") as mounted:
        if not mounted:
            folder.chmod(0o500)
            if os.access(folder, os.W_OK):
                pytest.skip("cannot make a folder unwritable here (root without mount rights)")
        queue = LocalQueue(job_settings.model_copy(update={"artifacts_dir": folder}))
        try:
            status = queue.wait(queue.submit(submission()).request_id, timeout=120)
        finally:
            queue.close()
    assert status.state == "failed" and status.stage == "preparing"
    assert f"cannot write to the artifacts folder {folder}" in (status.failure_reason or "")
    assert "BRANDGATE_ARTIFACTS_DIR" in (status.failure_reason or "")
    row = records.requests()[0]
    assert row.gpu_seconds == 0 and "generating" not in row.stage_timings
    assert records.kinds(row.id) == ["request.queued", "request.failed"]


def test_disk_full_at_the_store_fails_with_reason_and_still_charges(
    job_settings: Settings, records: Records, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "tiny-disk"
    with tmpfs(folder, "size=12k") as mounted:
        if not mounted:
            # No mount rights: fail the write itself at the store's boundary instead.
            import errno

            import brandgate.artifacts as artifacts

            @contextlib.contextmanager
            def full(target: Path, mode: str = "wb") -> Iterator[None]:
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(target))
                yield  # pragma: no cover

            monkeypatch.setattr(artifacts, "atomic_file", full)
        queue = LocalQueue(job_settings.model_copy(update={"artifacts_dir": folder}))
        try:
            status = queue.wait(queue.submit(submission()).request_id, timeout=300)
        finally:
            queue.close()
    assert status.state == "failed" and status.stage == "storing", status
    assert "No space left on device" in (status.failure_reason or "")
    assert "disk is full" in (status.failure_reason or "")
    row = records.requests()[0]
    assert records.images(row.id) == []  # no half-written image row
    assert row.gpu_seconds > 0 and row.cost_usd > 0  # the GPU time was spent all the same
    failed = records.events(row.id)[-1]
    assert failed.kind == "request.failed" and failed.payload["unrecorded_cost_usd"] > 0
    assert verify_chain(records.engine).intact


def test_bad_brief_on_the_command_line_exits_2_and_records_nothing(job_settings: Settings, tmp_path: Path) -> None:
    brief = tmp_path / "too-many.yaml"
    brief.write_text(yaml.safe_dump({**PLAIN_BRIEF, "n": 17}))
    env = {**os.environ, "BRANDGATE_DATABASE_URL": job_settings.database_url,
           "BRANDGATE_MODELS_DIR": str(job_settings.models_dir), "BRANDGATE_KEYS_DIR": str(job_settings.keys_dir)}
    result = subprocess.run([sys.executable, "-m", "brandgate", "generate", "--brief", str(brief), "--json"],
                            cwd=ROOT, env=env, capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 2, result.stderr
    assert "n" in result.stderr and "16" in result.stderr
    assert result.stderr.count("\n") <= 3 and "Traceback" not in result.stderr
    assert result.stdout == ""


# --- the database going away mid-job -----------------------------------------------------


@pytest.fixture
def proxied_pg(pg_migrated_url: str) -> Iterator[tuple[str, CuttableProxy]]:
    proxy = CuttableProxy(("127.0.0.1", 5432))
    url = pg_migrated_url.replace("127.0.0.1:5432", f"127.0.0.1:{proxy.port}")
    try:
        yield url, proxy
    finally:
        proxy.close()


def _outage_settings(tmp_path: Path, url: str, models: Path, keys: Path, profiles: Path, **more: object) -> Settings:
    return make_settings(tmp_path, models, keys, profiles, database_url=url, job_retry_delay_s=0.3,
                         job_lease_s=5.0, **more)


def _cut_until_the_job_notices(proxy: CuttableProxy, caplog: pytest.LogCaptureFixture, request_id: str) -> None:
    """Take the database away until the running job has hit the outage at a write and handed the
    job back for a retry; however slow this machine's model is, the outage falls mid-job."""
    proxy.cut()
    try:
        deadline = time.monotonic() + 300
        while not any(getattr(r, "event", None) == "job.retry" and getattr(r, "request_id", None) == request_id
                      for r in caplog.records):
            assert time.monotonic() < deadline, "the job never noticed the database was gone"
            time.sleep(0.1)
    finally:
        proxy.restore()


@pytest.mark.postgres
def test_database_outage_mid_job_is_retried_and_finishes(
    proxied_pg: tuple[str, CuttableProxy], tmp_path: Path, tiny_models_dir: Path, keys_dir: Path,
    profiles_dir: Path, caplog: pytest.LogCaptureFixture,
) -> None:
    url, proxy = proxied_pg
    settings = _outage_settings(tmp_path, url, tiny_models_dir, keys_dir, profiles_dir)
    queue = LocalQueue(settings)
    try:
        accepted = queue.submit(submission())
        wait_for(queue, accepted.request_id, lambda s: s.stage == "generating")
        _cut_until_the_job_notices(proxy, caplog, accepted.request_id)
        status = wait_for(queue, accepted.request_id, lambda s: s.state in FINISHED, timeout=300)
    finally:
        queue.close()
    assert status.state == "done", status
    view = Records(settings)
    try:
        row = view.request(accepted.request_id)
        assert row.attempts == 2
        assert len(view.images(accepted.request_id)) == 1
        assert "request.redelivered" in view.kinds(accepted.request_id)
        assert verify_chain(view.engine).intact
    finally:
        view.close()


@pytest.mark.postgres
def test_database_outage_fails_the_job_after_its_attempts(
    proxied_pg: tuple[str, CuttableProxy], tmp_path: Path, tiny_models_dir: Path, keys_dir: Path,
    profiles_dir: Path, caplog: pytest.LogCaptureFixture,
) -> None:
    url, proxy = proxied_pg
    settings = _outage_settings(tmp_path, url, tiny_models_dir, keys_dir, profiles_dir, job_max_attempts=1)
    queue = LocalQueue(settings)
    try:
        accepted = queue.submit(submission())
        wait_for(queue, accepted.request_id, lambda s: s.stage == "generating")
        _cut_until_the_job_notices(proxy, caplog, accepted.request_id)
        status = wait_for(queue, accepted.request_id, lambda s: s.state in FINISHED, timeout=300)
    finally:
        queue.close()
    assert status.state == "failed"
    assert "gave up after 1 attempt(s): database unavailable" in (status.failure_reason or "")


def test_broker_down_refuses_and_queues_nothing(job_settings: Settings, records: Records) -> None:
    from brandgate.jobs.celery_queue import CeleryQueue

    closed = CuttableProxy(("127.0.0.1", 6379))
    closed.cut()  # a port nothing listens on
    settings = job_settings.model_copy(update={
        "queue": "celery", "broker_url": f"redis://:s3cret@127.0.0.1:{closed.port}/0",
    })
    queue = CeleryQueue(settings)
    try:
        with pytest.raises(QueueUnavailable) as refused:
            queue.submit(submission(key="slack-click-1"))
    finally:
        queue.close()
    message = str(refused.value)
    assert f"cannot reach the job broker at redis://***@127.0.0.1:{closed.port}/0" in message
    assert "nothing was queued" in message and "s3cret" not in message
    assert records.requests() == [] and records.events() == []


def test_migrations_behind_is_a_clear_error(tmp_path: Path) -> None:
    from brandgate.errors import DatabaseError

    settings = Settings(database_url=f"sqlite:///{tmp_path / 'old.db'}", artifacts_dir=tmp_path / "a")
    upgrade(settings, revision="0001")
    with pytest.raises(DatabaseError, match="brandgate db upgrade"):
        LocalQueue(settings, start_workers=False)
