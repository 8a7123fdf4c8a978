"""Faults around a request: each ends in one line, and leaves the trail intact with no half-made
rows or files (`audit verify`, then every stored file has its image row and every row its file)."""

from __future__ import annotations

import os
import sqlite3
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.hostile.cli import ROOT, assert_refused, environment, run

BRIEF = ROOT / "tests" / "fixtures" / "briefs" / "acme_apples.yaml"


def assert_consistent(tmp_path: Path, env: dict[str, str]) -> None:
    """The trail verifies, and stored images and image rows match one for one."""
    verified = run("audit", "verify", env=env)
    assert verified.code == 0, verified.stdout + verified.stderr[-2000:]
    database = Path(env["BRANDGATE_DATABASE_URL"].removeprefix("sqlite:///"))
    with sqlite3.connect(database) as db:
        rows = {sha for (sha,) in db.execute("select sha256 from images")}
        assert db.execute("select count(*) from requests where state = 'queued'").fetchone() == (0,)
    artifacts = Path(env["BRANDGATE_ARTIFACTS_DIR"])
    stored = {p.stem for p in artifacts.rglob("*.png")} if artifacts.exists() else set()
    assert stored == rows, (stored ^ rows)


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A real 2 MB file system (tmpfs; needs root), unmounted after."""
    mount = tmp_path / "small-disk"
    mount.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(mount)],
                      capture_output=True, check=False).returncode != 0:
        pytest.skip("cannot mount a small file system here (needs root)")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def test_a_full_disk_at_submit_is_one_line_and_records_nothing(tmp_path: Path, small_disk: Path) -> None:
    env = environment(tmp_path, BRANDGATE_DATABASE_URL=f"sqlite:///{small_disk / 'brandgate.db'}")
    assert run("db", "upgrade", env=env).code == 0
    # Leave room to open the database, not to record a request in it.
    free = os.statvfs(small_disk).f_bavail * os.statvfs(small_disk).f_frsize
    filler = small_disk / "filler"
    filler.write_bytes(b"\0" * max(0, free - 40 * 1024))
    ran = run("generate", "--brief", str(BRIEF), "--n", "1", env=env)
    assert_refused(ran, "could not record the request", "nothing was queued", "full", code=1)
    filler.unlink()
    with sqlite3.connect(small_disk / "brandgate.db") as db:
        assert db.execute("select count(*) from requests").fetchone() == (0,)
    assert_consistent(tmp_path, env)


@pytest.mark.postgres
def test_postgres_backends_terminated_during_a_run_end_without_a_traceback(
    tmp_path: Path, pg_migrated_url: str, made: tuple[Path, Path]
) -> None:
    import sys
    import threading
    import time

    import psycopg

    models, keys = made
    env = environment(tmp_path, BRANDGATE_DATABASE_URL=pg_migrated_url, BRANDGATE_MODELS_DIR=str(models),
                      BRANDGATE_KEYS_DIR=str(keys))
    database = pg_migrated_url.rsplit("/", 1)[1]
    generate = subprocess.Popen(
        [sys.executable, "-m", "brandgate", "generate", "--brief", str(BRIEF), "--n", "1", "--json"],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL,
    )
    terminated = 0

    def terminate_backends() -> None:
        nonlocal terminated
        with psycopg.connect(f"host=127.0.0.1 user=postgres dbname={database}", autocommit=True) as admin:
            # Once the request runs, a burst of terminations (a failover, an operator's script):
            # often enough that some land on a status poll in flight, not only on idle connections.
            while generate.poll() is None and admin.execute(
                    "SELECT count(*) FROM requests WHERE state <> 'queued'").fetchone() == (0,):
                time.sleep(0.2)
            for _ in range(60):
                if generate.poll() is not None:
                    break
                rows = admin.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                                     "WHERE datname = %s AND pid <> pg_backend_pid()", (database,)).fetchall()
                terminated += sum(1 for (done,) in rows if done)
                time.sleep(0.05)

    killer = threading.Thread(target=terminate_backends, daemon=True)
    killer.start()
    out, err = generate.communicate(timeout=600)
    killer.join(timeout=30)
    stderr = err.decode("utf-8", "replace")
    assert terminated > 0, "no backend was terminated during the run"
    assert "Traceback" not in stderr, stderr[-3000:]
    assert generate.returncode == 0, stderr[-2000:]
    assert b'"state": "done"' in out
    verified = run("audit", "verify", env=env)
    assert verified.code == 0, verified.stdout + verified.stderr[-2000:]


def test_sqlite_locked_for_45_seconds_during_a_run_leaves_nothing_half_made(
    tmp_path: Path, made: tuple[Path, Path]
) -> None:
    import json
    import sys
    import threading
    import time

    models, keys = made
    env = environment(tmp_path, BRANDGATE_MODELS_DIR=str(models), BRANDGATE_KEYS_DIR=str(keys))
    assert run("db", "upgrade", env=env).code == 0
    generate = subprocess.Popen(
        [sys.executable, "-m", "brandgate", "generate", "--brief", str(BRIEF), "--n", "1", "--json"],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL,
    )
    held = threading.Event()

    def lock_the_database() -> None:
        # Another process (a backup, a sqlite3 shell) takes the write lock once the request runs.
        while generate.poll() is None:
            with sqlite3.connect(tmp_path / "brandgate.db") as db:
                if db.execute("select count(*) from requests where state = 'running'").fetchone() != (0,):
                    break
            time.sleep(0.2)
        locker = sqlite3.connect(tmp_path / "brandgate.db", isolation_level=None)
        try:
            locker.execute("BEGIN EXCLUSIVE")
            held.set()
            time.sleep(45)
            locker.execute("COMMIT")
        finally:
            locker.close()

    locking = threading.Thread(target=lock_the_database, daemon=True)
    locking.start()
    out, err = generate.communicate(timeout=900)
    locking.join(timeout=60)
    stderr = err.decode("utf-8", "replace")
    assert held.is_set(), "the lock was never taken during the run"
    assert "Traceback" not in stderr, stderr[-3000:]
    if generate.returncode == 0:
        assert json.loads(out)["state"] == "done"
    else:
        errors = [line for line in stderr.splitlines() if line.startswith("error:")]
        assert generate.returncode == 1 and len(errors) == 1, stderr[-2000:]
    assert_consistent(tmp_path, env)


def test_a_database_that_takes_no_more_writes_ends_generate_with_one_line(
    tmp_path: Path, made: tuple[Path, Path]
) -> None:
    """Writes refused for good mid-run (here another process never lets go of SQLite's write lock,
    as a read-only database would refuse them): `generate` ends in one line instead of waiting
    forever or printing a traceback; the worker, unable to count its attempts in the database,
    counts them itself and gives up."""
    import sys
    import threading
    import time

    models, keys = made
    env = environment(tmp_path, BRANDGATE_MODELS_DIR=str(models), BRANDGATE_KEYS_DIR=str(keys),
                      BRANDGATE_JOB_RETRY_DELAY_S="0.2", BRANDGATE_JOB_MAX_ATTEMPTS="1")
    assert run("db", "upgrade", env=env).code == 0
    generate = subprocess.Popen(
        [sys.executable, "-m", "brandgate", "generate", "--brief", str(BRIEF), "--n", "1", "--json"],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL,
    )
    release = threading.Event()

    def hold_the_write_lock() -> None:
        while generate.poll() is None:
            with sqlite3.connect(tmp_path / "brandgate.db") as db:
                if db.execute("select count(*) from requests where state = 'running'").fetchone() != (0,):
                    break
            time.sleep(0.2)
        locker = sqlite3.connect(tmp_path / "brandgate.db", isolation_level=None)
        locker.execute("BEGIN EXCLUSIVE")
        release.wait(600)
        locker.execute("ROLLBACK")
        locker.close()

    holder = threading.Thread(target=hold_the_write_lock, daemon=True)
    holder.start()
    try:
        out, err = generate.communicate(timeout=600)
    finally:
        release.set()
        holder.join(timeout=30)
    stderr = err.decode("utf-8", "replace")
    assert "Traceback" not in stderr, stderr[-3000:]
    errors = [line for line in stderr.splitlines() if line.startswith("error:")]
    assert generate.returncode == 1 and len(errors) == 1, stderr[-2000:]
    # Whichever notices first: the worker giving up, or the status poll that cannot take the lock.
    assert ("could not be finished: the database would not record it" in errors[0]
            or "database is locked" in errors[0]), errors[0]
    assert out == b""
