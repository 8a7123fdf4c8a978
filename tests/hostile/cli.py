"""Running the real `brandgate` command on hostile input and judging how it refused.

`run` starts `python -m brandgate` in a fresh process with settings under a temporary folder and
measures the process's peak memory; `assert_refused` asserts what every refusal must look like:
the named exit code, one line on stderr saying what to fix, no traceback, nothing on stdout.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
KITS = ROOT / "brand_kits"
# A guard against a hang, not a timing assertion: each case ends in a second or two.
KILL_AFTER_S = 120
MEMORY_LIMIT_BYTES = 1024**3


@dataclass(frozen=True)
class Ran:
    code: int
    stdout: str
    stderr: str
    peak_rss_bytes: int


def environment(tmp_path: Path, **overrides: str) -> dict[str, str]:
    """BRANDGATE_* settings isolated under tmp_path (no developer var/, no network)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("BRANDGATE_")}
    env.update(
        {
            "BRANDGATE_DATABASE_URL": f"sqlite:///{tmp_path / 'brandgate.db'}",
            "BRANDGATE_ARTIFACTS_DIR": str(tmp_path / "artifacts"),
            "BRANDGATE_KITS_DIR": str(KITS),
            "BRANDGATE_MODELS_DIR": str(tmp_path / "models"),
            "BRANDGATE_PROFILES_DIR": str(tmp_path / "profiles"),
            "BRANDGATE_KEYS_DIR": str(tmp_path / "keys"),
            "BRANDGATE_REGRESS_REPORTS_DIR": str(tmp_path / "reports"),
            "PYTHONPATH": str(ROOT),
        }
    )
    env.update(overrides)
    return env


def run(*args: str, env: dict[str, str], cwd: Path = ROOT) -> Ran:
    """`brandgate ARGS` as a user runs it; peak RSS read from the kernel's account of the child."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "brandgate", *args],
        cwd=cwd,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert proc.stdout is not None and proc.stderr is not None
    streams: dict[str, bytes] = {}
    readers = [
        threading.Thread(target=lambda: streams.__setitem__("out", proc.stdout.read())),  # type: ignore[union-attr]
        threading.Thread(target=lambda: streams.__setitem__("err", proc.stderr.read())),  # type: ignore[union-attr]
    ]
    for reader in readers:
        reader.start()
    killer = threading.Timer(KILL_AFTER_S, proc.kill)
    killer.start()
    try:
        _, status, usage = os.wait4(proc.pid, 0)
    finally:
        killer.cancel()
    proc.returncode = os.waitstatus_to_exitcode(status)
    for reader in readers:
        reader.join()
    proc.stdout.close()
    proc.stderr.close()
    return Ran(
        code=proc.returncode,
        stdout=streams.get("out", b"").decode("utf-8", "replace"),
        stderr=streams.get("err", b"").decode("utf-8", "replace"),
        peak_rss_bytes=usage.ru_maxrss * 1024,
    )


def assert_refused(ran: Ran, *mentions: str, code: int = 2) -> str:
    """The refusal contract; returns the error line."""
    assert "Traceback" not in ran.stderr, ran.stderr[-3000:]
    assert ran.code == code, (ran.code, ran.stderr[-2000:])
    lines = [line for line in ran.stderr.splitlines() if line.strip()]
    errors = [line for line in lines if line.startswith("error:")]
    assert len(errors) == 1, lines[-10:]
    line = errors[0]
    assert len(line) <= 1200, f"{len(line)} characters: {line[:300]}"
    for mention in mentions:
        assert mention in line, line
    assert ran.peak_rss_bytes < MEMORY_LIMIT_BYTES, f"peak RSS {ran.peak_rss_bytes / 2**20:.0f} MiB"
    return line
