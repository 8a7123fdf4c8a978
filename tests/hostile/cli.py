"""Running the real `brandgate` command on hostile input and judging how it refused.

`run` starts brandgate's entry point in a fresh process with settings under a temporary folder,
and the process reports its own peak memory; `assert_refused` asserts what every refusal must look like:
the named exit code, one line on stderr saying what to fix, no traceback, nothing on stdout.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
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


# The child reports its own peak memory (VmHWM of its post-exec address space): the kernel's
# ru_maxrss for a child would also count the pytest process it was forked from.
_MEASURED_MAIN = (
    "import atexit, os, runpy, sys\n"
    "def _report():\n"
    "    with open('/proc/self/status') as status, open(os.environ['BRANDGATE_TEST_PEAK'], 'w') as out:\n"
    "        out.write(next(line for line in status if line.startswith('VmHWM')).split()[1])\n"
    "atexit.register(_report)\n"
    "sys.argv = ['brandgate', *sys.argv[1:]]\n"
    "runpy.run_module('brandgate', run_name='__main__', alter_sys=True)\n"
)


def run(*args: str, env: dict[str, str], cwd: Path = ROOT) -> Ran:
    """`brandgate ARGS` as a user runs it, in a fresh process that reports its peak memory."""
    with tempfile.TemporaryDirectory() as scratch:
        peak_file = Path(scratch) / "peak"
        completed = subprocess.run(
            [sys.executable, "-c", _MEASURED_MAIN, *args],
            cwd=cwd,
            env={**env, "BRANDGATE_TEST_PEAK": str(peak_file)},
            stdin=subprocess.DEVNULL,
            capture_output=True,
            timeout=KILL_AFTER_S,
        )
        peak_kib = int(peak_file.read_text()) if peak_file.exists() else 0
    return Ran(
        code=completed.returncode,
        stdout=completed.stdout.decode("utf-8", "replace"),
        stderr=completed.stderr.decode("utf-8", "replace"),
        peak_rss_bytes=peak_kib * 1024,
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
