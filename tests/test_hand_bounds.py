"""benchmarks/hand_bounds.py reads BG402's bounds from the check's code, and docs/checks-visual.md
shows its printed table with the bounds the code holds."""

from __future__ import annotations

from pathlib import Path

from benchmarks.hand_bounds import BOUNDS, defaults_in_code

ROOT = Path(__file__).resolve().parents[1]


def test_the_script_finds_every_bound_the_check_reads() -> None:
    assert set(defaults_in_code()) == set(BOUNDS)


def test_the_docs_print_the_bounds_in_code_beside_the_measured_ones() -> None:
    visual = (ROOT / "docs" / "checks-visual.md").read_text(encoding="utf-8")
    assert "python -m benchmarks.hand_bounds" in visual
    for bound, value in defaults_in_code().items():
        rows = [line.split() for line in visual.splitlines() if line.startswith(bound + " ")]
        assert rows, f"docs/checks-visual.md has no printed row for {bound}: run benchmarks.hand_bounds"
        assert any(row[3] == f"{value:g}" for row in rows), f"the printed {bound} is not the code's {value:g}"
