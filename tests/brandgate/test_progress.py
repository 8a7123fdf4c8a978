"""Progress of long commands: plain lines on stderr under a pipe, a bar on a terminal, nothing under --json."""

from __future__ import annotations

import io
import json
import os
import pty
import select
import subprocess
import sys
from pathlib import Path
from typing import Any

from benchmarks.audit_write import seed_images as seed_bound_trail
from brandgate.cli.progress import ProgressDisplay, duration, mode_for
from brandgate.db.schema import upgrade
from brandgate.settings import Settings

ROOT = Path(__file__).resolve().parents[2]


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_lines_give_counts_elapsed_and_time_left_each_tenth() -> None:
    out, clock = io.StringIO(), Clock()
    with ProgressDisplay("regress run", "renders", 20, mode="lines", stream=out, clock=clock) as display:
        for _ in range(20):
            clock.now += 3.0
            display.advance()
    lines = out.getvalue().splitlines()
    assert lines[0] == "regress run: 0/20 renders, 0s elapsed"
    assert lines[1] == "regress run: 2/20 renders, 6s elapsed, about 54s left"
    assert lines[-1] == "regress run: 20/20 renders, 1m00s elapsed"
    assert len(lines) == 11  # the start and each tenth, not one line per render


def test_off_prints_nothing_and_json_turns_progress_off() -> None:
    out = io.StringIO()
    with ProgressDisplay("generate", "images", 4, mode="off", stream=out) as display:
        display.update(4)
    assert out.getvalue() == ""
    assert mode_for(True) == "off"
    assert mode_for(False, io.StringIO(), io.StringIO()) == "lines"  # not terminals: plain lines


def test_durations_read_as_minutes_and_hours() -> None:
    assert [duration(s) for s in (5, 75, 3725)] == ["5s", "1m15s", "1h02m"]


def _trail(settings: Settings, images: int) -> None:
    """A trail bound to its chain, as the pipeline records it (so the export vouches for every row)."""
    upgrade(settings)
    seed_bound_trail(settings.database_url, images)


def test_audit_export_of_a_large_trail_under_a_pipe_prints_counts_on_stderr(
    settings: Settings, run_cli: Any, tmp_path: Path
) -> None:
    _trail(settings, 1200)
    code, out, err = run_cli(settings, "audit", "export")
    assert code == 0, err
    assert len([json.loads(line) for line in out.splitlines()]) == 1200  # stdout is the trail alone
    lines = [line for line in err.splitlines() if line.startswith("audit export:")]
    assert lines[0] == "audit export: 0/1200 images, 0s elapsed"
    assert lines[-1].startswith("audit export: 1200/1200 images")
    assert err.splitlines()[-1] == "exported 1200 images"


def test_audit_export_bar_on_a_terminal(settings: Settings, tmp_path: Path) -> None:
    _trail(settings, 1200)
    target = tmp_path / "trail.jsonl"
    env = {**os.environ, "BRANDGATE_DATABASE_URL": settings.database_url, "PYTHONPATH": str(ROOT),
           "COLUMNS": "120", "TERM": "xterm"}  # fmt: skip
    leader, follower = pty.openpty()
    process = subprocess.Popen(
        [sys.executable, "-m", "brandgate", "audit", "export", "--out", str(target)],
        stdin=subprocess.DEVNULL, stdout=follower, stderr=follower, env=env, cwd=ROOT,
    )  # fmt: skip
    os.close(follower)
    shown = b""
    while True:
        ready, _, _ = select.select([leader], [], [], 60)
        if not ready:
            break
        try:
            chunk = os.read(leader, 65536)
        except OSError:  # the terminal closed with the process
            break
        if not chunk:
            break
        shown += chunk
    assert process.wait(timeout=60) == 0, shown
    text = shown.decode(errors="replace")
    assert "1200/1200" in text and "images" in text and "━" in text
    assert "audit export: 0/1200" not in text  # a bar, not the piped lines
    assert len(target.read_text().splitlines()) == 1200
