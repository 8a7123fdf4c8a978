"""Under CI=true a test that needs PostgreSQL or Redis fails when the server is missing; elsewhere it skips."""

from __future__ import annotations

import os
import socket
import subprocess
import sys

import pytest

from tests.conftest import ROOT

# One test of each kind: the first needs PostgreSQL, the second Redis (and PostgreSQL).
NEEDS = {
    "postgres": (
        "BRANDGATE_TEST_PG_PORT",
        "tests/brandgate/test_audit_chain.py::test_eight_concurrent_writers_make_one_unbroken_chain_on_postgres",
    ),
    "redis": (
        "BRANDGATE_TEST_REDIS_PORT",
        "tests/brandgate/jobs/test_jobs_celery.py::test_cancel_queued_and_running_jobs_across_processes",
    ),
}


def _closed_port() -> int:
    """A loopback port with nothing listening on it: bound, then released."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _run(test: str, env_name: str, ci: bool) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "CI"}
    env[env_name] = str(_closed_port())
    if ci:
        env["CI"] = "true"
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-o", "addopts=-ra", test],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


@pytest.mark.parametrize("service", sorted(NEEDS))
def test_a_missing_server_fails_the_test_under_ci(service: str) -> None:
    env_name, test = NEEDS[service]
    run = _run(test, env_name, ci=True)
    summary = run.stdout.strip().splitlines()[-1]
    assert run.returncode == 1, run.stdout[-2000:]
    assert "skipped" not in summary and ("error" in summary or "failed" in summary), summary
    assert "a test server that is missing is a failure" in run.stdout


@pytest.mark.parametrize("service", sorted(NEEDS))
def test_a_missing_server_skips_the_test_with_its_reason_elsewhere(service: str) -> None:
    env_name, test = NEEDS[service]
    run = _run(test, env_name, ci=False)
    summary = run.stdout.strip().splitlines()[-1]
    assert run.returncode == 0, run.stdout[-2000:]
    assert "1 skipped" in summary, summary
    assert "unreachable" in run.stdout
