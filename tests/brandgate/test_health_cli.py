"""`brandgate health` through the real CLI on the local backend: signing keys and disk are checked,
each failure is one line naming what to fix, and the exit code says whether all held."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from brandgate.db.schema import upgrade
from brandgate.settings import Settings
from pipeline.keys import issue_chain, write_dev_chain

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def home(tmp_path: Path) -> dict[str, str]:
    url = f"sqlite:///{tmp_path / 'brandgate.db'}"
    upgrade(Settings(database_url=url))
    return {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "BRANDGATE_QUEUE": "local",
        "BRANDGATE_DATABASE_URL": url,
        "BRANDGATE_ARTIFACTS_DIR": str(tmp_path / "artifacts"),
        "BRANDGATE_KEYS_DIR": str(tmp_path / "keys"),
    }


def _health(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "brandgate", "health", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=300, check=False)


def test_missing_signing_keys_are_one_failed_line_and_exit_1(home: dict[str, str], tmp_path: Path) -> None:
    done = _health(home)
    assert done.returncode == 1, done.stdout + done.stderr
    lines = done.stdout.splitlines()
    assert lines[0] == "database: ok: reachable and migrated"
    assert "workers: ok: not checked: BRANDGATE_QUEUE=local" in lines[1]
    [keys] = [line for line in lines if line.startswith("signing keys: ")]
    assert keys.startswith("signing keys: FAILED: signing certificate chain ") and "brandgate keys init" in keys
    assert done.stderr.strip().splitlines()[-1] == "error: unhealthy: signing keys"
    assert "Traceback" not in done.stderr

    write_dev_chain(tmp_path / "keys", issue_chain())
    done = _health(home, "--json")
    assert done.returncode == 0, done.stdout + done.stderr
    report = json.loads(done.stdout)
    assert report["healthy"] and report["database"] == "ok" and report["broker"] is None
    assert [c["name"] for c in report["checks"]] == ["database", "workers", "signing keys", "disk"]


def test_too_little_free_disk_fails_its_own_line(home: dict[str, str], tmp_path: Path) -> None:
    write_dev_chain(tmp_path / "keys", issue_chain())
    done = _health({**home, "BRANDGATE_HEALTH_MIN_FREE_BYTES": str(2**62)})
    assert done.returncode == 1
    [disk] = [line for line in done.stdout.splitlines() if line.startswith("disk: ")]
    assert disk.startswith("disk: FAILED: artifacts has ") and "BRANDGATE_HEALTH_MIN_FREE_BYTES" in disk
    assert "signing keys: ok: " in done.stdout
    assert done.stderr.strip().splitlines()[-1] == "error: unhealthy: disk"
