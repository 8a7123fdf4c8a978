"""The Celery backend for real: Redis broker, PostgreSQL, a `brandgate worker` subprocess, real kills."""

from __future__ import annotations

import contextlib
import json
import os
import random
import signal
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import redis

from brandgate.db.approvals import decide
from brandgate.db.audit import verify_chain
from brandgate.db.schema import upgrade
from brandgate.jobs.celery_queue import CeleryQueue
from brandgate.jobs.contract import RequestStatus
from brandgate.settings import Settings
from pipeline.provenance.verifier import Verifier
from tests.brandgate.jobs.support import ROOT, Records, make_settings, submission, wait_for
from tests.services import REDIS_HOST, REDIS_PORT, unavailable

pytestmark = [pytest.mark.postgres, pytest.mark.redis]

FINISHED = ("done", "failed", "cancelled")
MAX_ATTEMPTS = 2


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _empty_redis_db() -> int:
    """A Redis database index no one else is using, so other test runs are never touched."""
    try:
        redis.Redis(host=REDIS_HOST, port=REDIS_PORT, socket_connect_timeout=2).ping()
    except redis.RedisError as exc:
        unavailable(f"Redis on {REDIS_HOST}:{REDIS_PORT} is unreachable: {exc}")
    for index in random.sample(range(1, 16), 15):
        if redis.Redis(host=REDIS_HOST, port=REDIS_PORT, db=index).dbsize() == 0:
            return index
    unavailable("no empty Redis database index (1-15) to test in")


@dataclass
class CeleryWorld:
    settings: Settings
    worker: subprocess.Popen[bytes]
    log: Path
    metrics_port: int

    def pool_child(self) -> int:
        """The pool process that runs jobs (what the OOM killer would pick)."""
        children = Path(f"/proc/{self.worker.pid}/task/{self.worker.pid}/children").read_text().split()
        assert len(children) == 1, children
        return int(children[0])

    def log_lines(self) -> list[dict[str, object]]:
        lines = []
        for line in self.log.read_text(errors="replace").splitlines():
            if line.startswith("{"):
                try:
                    lines.append(json.loads(line))
                except json.JSONDecodeError:
                    continue
        return lines


def _wait_ready(world: CeleryWorld, timeout: float = 180.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if world.worker.poll() is not None:
            raise AssertionError(f"worker exited {world.worker.returncode}:\n{world.log.read_text()[-4000:]}")
        if " ready." in world.log.read_text(errors="replace"):
            return
        time.sleep(0.2)
    raise AssertionError(f"worker not ready:\n{world.log.read_text()[-4000:]}")


@pytest.fixture(scope="module")
def celery_world(
    _pg_template: str, tiny_models_dir: Path, keys_dir: Path, profiles_dir: Path,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[CeleryWorld]:
    from tests.conftest import PG_SERVER, _pg_create, _pg_drop

    name = f"brandgate_celery_{uuid.uuid4().hex[:10]}"
    _pg_create(name, template=_pg_template)
    redis_db = _empty_redis_db()
    home = tmp_path_factory.mktemp("celery")
    metrics_port = _free_port()
    settings = make_settings(
        home, tiny_models_dir, keys_dir, profiles_dir,
        database_url=f"{PG_SERVER}/{name}", queue="celery", broker_url=f"redis://{REDIS_HOST}:{REDIS_PORT}/{redis_db}",
        job_max_attempts=MAX_ATTEMPTS, job_lease_s=5.0, metrics_port=metrics_port,
    )
    upgrade(settings)
    env = {
        **os.environ,
        "BRANDGATE_DATABASE_URL": settings.database_url,
        "BRANDGATE_QUEUE": "celery",
        "BRANDGATE_BROKER_URL": settings.broker_url,
        "BRANDGATE_ARTIFACTS_DIR": str(settings.artifacts_dir),
        "BRANDGATE_MODELS_DIR": str(settings.models_dir),
        "BRANDGATE_KEYS_DIR": str(settings.keys_dir),
        "BRANDGATE_PROFILES_DIR": str(settings.profiles_dir),
        "BRANDGATE_KITS_DIR": str(settings.kits_dir),
        "BRANDGATE_JOB_MAX_ATTEMPTS": str(MAX_ATTEMPTS),
        "BRANDGATE_JOB_LEASE_S": "5",
        "BRANDGATE_METRICS_PORT": str(metrics_port),
        "BRANDGATE_LOG_FORMAT": "json",
    }
    log = home / "worker.log"
    with log.open("wb") as out:
        worker = subprocess.Popen(
            [sys.executable, "-m", "brandgate", "worker", "--queues", "preview,export", "--concurrency", "1"],
            cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
        )
    world = CeleryWorld(settings, worker, log, metrics_port)
    try:
        _wait_ready(world)
        yield world
    finally:
        # The worker and its pool child share a session we started: end exactly those.
        try:
            os.killpg(worker.pid, signal.SIGTERM)
            worker.wait(timeout=30)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            with_kill = worker.pid
            with contextlib.suppress(ProcessLookupError):
                os.killpg(with_kill, signal.SIGKILL)
        broker = redis.Redis(host=REDIS_HOST, port=REDIS_PORT, db=redis_db)
        for key in broker.scan_iter():
            broker.delete(key)
        _pg_drop(name)


@pytest.fixture
def front(celery_world: CeleryWorld) -> Iterator[CeleryQueue]:
    queue = CeleryQueue(celery_world.settings)
    yield queue
    queue.close()


def _finished(status: RequestStatus) -> bool:
    return status.state in FINISHED


def test_jobs_run_on_a_worker_process_with_progress_visible_here(
    celery_world: CeleryWorld, front: CeleryQueue
) -> None:
    accepted = front.submit(submission(user="ana", key="celery-e2e", n=2))
    assert front.submit(submission(user="ana", key="celery-e2e", n=2)).duplicate
    seen = wait_for(front, accepted.request_id, lambda s: s.state == "running" and s.step is not None)
    assert seen.describe().startswith("generating ")
    status = wait_for(front, accepted.request_id, _finished, timeout=300)
    assert status.state == "done", status
    assert len(status.images) == 2

    verifier = Verifier.from_settings(celery_world.settings)
    for view in status.images:
        assert verifier.read(Path(view.artifact_path).read_bytes()).state == "trusted"

    if status.images[0].verdict != "pass":  # the tiny model's noise: approved before its HQ export
        approving = Records(celery_world.settings)
        try:
            decide(approving.sessions, status.images[0].image_id, "approved", "slack:T1:UMANAGER", "test")
        finally:
            approving.close()
    exported = front.export(status.images[0].image_id, "ana")
    done = wait_for(front, exported.request_id, _finished, timeout=300)
    assert done.state == "done", done

    records = Records(celery_world.settings)
    try:
        assert records.request(exported.request_id).queue == "export"
        assert records.images(exported.request_id)[0].parent_image_id == status.images[0].image_id
        assert records.request(accepted.request_id).attempts == 1
    finally:
        records.close()

    # Structured logs: one JSON line per event, with the request and image IDs.
    recorded = [line for line in celery_world.log_lines() if line.get("event") == "image.recorded"]
    assert {line["request_id"] for line in recorded} >= {accepted.request_id, exported.request_id}
    assert all(line.get("image_id") for line in recorded)

    # The worker's metrics endpoint: jobs by state from the database, stage latency, cost.
    text = urllib.request.urlopen(f"http://127.0.0.1:{celery_world.metrics_port}/metrics", timeout=5).read().decode()
    assert 'brandgate_jobs{state="done"}' in text
    assert 'brandgate_queue_depth{queue="preview"}' in text
    assert 'brandgate_stage_seconds_count{stage="generating"}' in text
    assert "brandgate_cost_usd_total" in text


def test_cancel_queued_and_running_jobs_across_processes(celery_world: CeleryWorld, front: CeleryQueue) -> None:
    running = front.submit(submission(user="dan", profile="slow", n=2))
    wait_for(front, running.request_id, lambda s: s.state == "running" and (s.step or 0) >= 1)
    waiting = front.submit(submission(user="eve"))
    assert front.status(waiting.request_id).describe() == "queued, next up"

    assert front.cancel(waiting.request_id, by="eve").state == "cancelled"
    front.cancel(running.request_id, by="dan")
    stopped = wait_for(front, running.request_id, _finished, timeout=120)
    assert stopped.state == "cancelled"

    records = Records(celery_world.settings)
    try:
        removed = records.request(waiting.request_id)
        assert removed.started_at is None and removed.attempts == 0
        assert records.images(waiting.request_id) == []
        assert records.request(running.request_id).failure_reason == "cancelled by dan"
        assert len(records.images(running.request_id)) < 2
    finally:
        records.close()


def test_killed_worker_process_is_redelivered_and_records_each_image_once(
    celery_world: CeleryWorld, front: CeleryQueue
) -> None:
    accepted = front.submit(submission(user="ben", profile="slow", n=2))
    # Image 1 is recorded and image 2 is half-way through its denoising steps.
    wait_for(front, accepted.request_id,
             lambda s: s.state == "running" and s.image_index == 2 and (s.step or 0) >= 3, timeout=300)
    os.kill(celery_world.pool_child(), signal.SIGKILL)
    status = wait_for(front, accepted.request_id, _finished, timeout=300)
    assert status.state == "done", status

    records = Records(celery_world.settings)
    try:
        request = records.request(accepted.request_id)
        images = records.images(accepted.request_id)
        assert request.attempts == 2
        assert [i.index for i in images] == [0, 1]
        # One charge per image: the request's cost is the sum of its two images, nothing twice.
        assert request.cost_usd == pytest.approx(sum(i.cost_usd for i in images))
        kinds = records.kinds(accepted.request_id)
        assert kinds.count("image.created") == 2
        assert kinds.count("request.redelivered") == 1
        assert kinds[-1] == "request.done"
        assert verify_chain(records.engine).intact
    finally:
        records.close()


def test_a_job_that_keeps_killing_its_worker_fails_after_its_attempts(
    celery_world: CeleryWorld, front: CeleryQueue
) -> None:
    accepted = front.submit(submission(user="cara", profile="slow", n=1))
    records = Records(celery_world.settings)
    try:
        for attempt in range(1, MAX_ATTEMPTS + 1):
            wait_for(front, accepted.request_id,
                     lambda s, a=attempt: s.state == "running" and (s.step or 0) >= 2
                     and records.request(accepted.request_id).attempts == a, timeout=300)
            os.kill(celery_world.pool_child(), signal.SIGKILL)
        status = wait_for(front, accepted.request_id, _finished, timeout=300)
        assert status.state == "failed"
        assert f"gave up after {MAX_ATTEMPTS} attempt(s)" in (status.failure_reason or "")
        assert records.images(accepted.request_id) == []
        assert records.kinds(accepted.request_id)[-1] == "request.failed"
    finally:
        records.close()
