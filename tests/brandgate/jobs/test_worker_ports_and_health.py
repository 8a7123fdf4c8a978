"""Two real Celery workers on one host: each pool process serves /metrics on a port of its own, both are
scraped, and `brandgate health` (the real CLI) sees them consuming, names their ports, and stays bounded."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import redis

from brandgate.db.schema import upgrade
from pipeline.keys import issue_chain, write_dev_chain
from tests.brandgate.jobs.support import ROOT
from tests.brandgate.jobs.test_jobs_celery import _empty_redis_db

pytestmark = pytest.mark.redis

SPAN = 8


@dataclass
class Worker:
    process: subprocess.Popen[bytes]
    log: Path

    def lines(self) -> list[dict[str, object]]:
        found = []
        for line in self.log.read_text(errors="replace").splitlines():
            if line.startswith("{"):
                with contextlib.suppress(json.JSONDecodeError):
                    found.append(json.loads(line))
        return found

    def stop(self) -> None:
        # The worker and its pool children share the session we started: end exactly those.
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()


def _free_block(size: int) -> int:
    """A base port with `size` free ports after it (checked by binding each)."""
    for _ in range(50):
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            base = int(probe.getsockname()[1])
        if base + size >= 65535:
            continue
        probes = []
        try:
            for port in range(base, base + size):
                s = socket.socket()
                probes.append(s)
                s.bind(("0.0.0.0", port))
            return base
        except OSError:
            continue
        finally:
            for s in probes:
                s.close()
    pytest.skip("no block of free ports to test with")


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    from brandgate.settings import Settings

    home = tmp_path_factory.mktemp("two-workers")
    redis_db = _empty_redis_db()
    values = {
        "BRANDGATE_DATABASE_URL": f"sqlite:///{home / 'brandgate.db'}",
        "BRANDGATE_QUEUE": "celery",
        "BRANDGATE_BROKER_URL": f"redis://127.0.0.1:6379/{redis_db}",
        "BRANDGATE_ARTIFACTS_DIR": str(home / "artifacts"),
        "BRANDGATE_KEYS_DIR": str(home / "keys"),
        "BRANDGATE_KITS_DIR": str(ROOT / "brand_kits"),
        "BRANDGATE_METRICS_PORT": str(_free_block(SPAN)),
        "BRANDGATE_METRICS_PORT_SPAN": str(SPAN),
        "BRANDGATE_LOG_FORMAT": "json",
    }
    upgrade(Settings(database_url=values["BRANDGATE_DATABASE_URL"]))
    write_dev_chain(home / "keys", issue_chain())
    yield {**os.environ, **values, "PYTHONPATH": str(ROOT)}
    broker = redis.Redis(host="127.0.0.1", port=6379, db=redis_db)
    for key in broker.scan_iter():
        broker.delete(key)


def _start(env: dict[str, str], log: Path, queues: str, concurrency: int) -> Worker:
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "brandgate", "worker", "--queues", queues, "--concurrency", str(concurrency)],
            cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
        )
    return Worker(process, log)


def _wait_serving(worker: Worker, count: int, timeout: float = 180.0) -> list[int]:
    """The ports the worker's pool processes logged serving /metrics on, once all `count` do."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if worker.process.poll() is not None:
            raise AssertionError(f"worker exited {worker.process.returncode}:\n{worker.log.read_text()[-3000:]}")
        ports = sorted(int(str(line["port"])) for line in worker.lines() if line.get("event") == "metrics.serving")
        if len(ports) == count and " ready." in worker.log.read_text(errors="replace"):
            return ports
        time.sleep(0.3)
    raise AssertionError(f"worker did not serve metrics:\n{worker.log.read_text()[-3000:]}")


def _scrape(port: int) -> str:
    return urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10).read().decode()


def test_two_workers_on_one_host_each_serve_and_health_sees_them(env: dict[str, str], tmp_path: Path) -> None:
    base = int(env["BRANDGATE_METRICS_PORT"])
    preview = _start(env, tmp_path / "preview.log", "preview", 2)
    export = None
    try:
        assert _wait_serving(preview, 2) == [base, base + 1]
        export = _start(env, tmp_path / "export.log", "export", 1)
        # the same BRANDGATE_METRICS_PORT: the second worker takes the next free port, says so, and serves
        [taken] = _wait_serving(export, 1)
        assert taken == base + 2
        [moved] = [line for line in export.lines() if line.get("event") == "metrics.serving"]
        assert moved["level"] == "warning" and moved["wanted_port"] == base
        [announced] = [line for line in export.lines() if line.get("event") == "metrics.ports"]
        assert announced["ports"] == [base + 2]

        for port in (base, base + 1, base + 2):
            text = _scrape(port)
            assert "brandgate_jobs" in text and "brandgate_stage_seconds" in text
        pids = {int(str(line["pid"])) for w in (preview, export) for line in w.lines()
                if line.get("event") == "metrics.serving"}
        assert len(pids) == 3  # three pool processes, three endpoints

        done = subprocess.run(
            [sys.executable, "-m", "brandgate", "health", "--json"],
            cwd=ROOT, env=env, capture_output=True, text=True, timeout=300,
        )
        assert done.returncode == 0, done.stdout + done.stderr
        report = json.loads(done.stdout)
        checks = {c["name"]: c for c in report["checks"]}
        assert report["healthy"] and all(c["ok"] for c in checks.values())
        workers = checks["workers"]["detail"]
        assert workers.startswith("2 consuming: ")
        assert f"preview; metrics :{base}, :{base + 1}" in workers and f"export; metrics :{base + 2}" in workers
        assert "sign a probe image" in checks["signing keys"]["detail"]
        assert "free" in checks["disk"]["detail"]
    finally:
        preview.stop()
        if export is not None:
            export.stop()

    # nothing consumes now: health says so in one line and exits 1
    done = subprocess.run(
        [sys.executable, "-m", "brandgate", "health"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 1
    assert "workers: FAILED: no worker answered within" in done.stdout
    assert done.stderr.strip().splitlines()[-1] == "error: unhealthy: workers"


def test_health_against_a_tls_url_on_plain_redis_ends_in_bounded_time(env: dict[str, str]) -> None:
    tls = {**env, "BRANDGATE_BROKER_URL": env["BRANDGATE_BROKER_URL"].replace("redis://", "rediss://"),
           "BRANDGATE_HEALTH_TIMEOUT_S": "2"}
    done = subprocess.run(
        [sys.executable, "-m", "brandgate", "health"], cwd=ROOT, env=tls, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 1, done.stdout + done.stderr
    assert "broker: FAILED: no answer within 2 s: a rediss:// (TLS) URL" in done.stdout
    assert "workers: FAILED: not checked: the broker did not answer" in done.stdout
    assert done.stderr.strip().splitlines()[-1] == "error: unhealthy: broker, workers"


def test_a_worker_with_no_metrics_port_left_refuses_to_start(env: dict[str, str], tmp_path: Path) -> None:
    base = int(env["BRANDGATE_METRICS_PORT"])
    with socket.socket() as held:
        held.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        held.bind(("0.0.0.0", base))
        held.listen(1)
        done = subprocess.run(
            [sys.executable, "-m", "brandgate", "worker", "--queues", "preview"],
            cwd=ROOT, env={**env, "BRANDGATE_METRICS_PORT_SPAN": "1"}, capture_output=True, text=True, timeout=300,
        )
    assert done.returncode == 1
    assert done.stderr.strip().splitlines()[-1] == (
        f"error: metrics ports {base}-{base} are all taken; give each worker its own BRANDGATE_METRICS_PORT "
        "(or a wider BRANDGATE_METRICS_PORT_SPAN)"
    )
