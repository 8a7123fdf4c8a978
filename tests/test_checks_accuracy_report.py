"""checks_accuracy's per-check table and headline cover every registered check, and say which were left out."""

from __future__ import annotations

import collections

import pytest

from benchmarks.checks_accuracy import _headline, per_check_table
from policies.checks import builtin_specs

IDS = [spec.id for spec in builtin_specs()]


def test_every_registered_check_gets_a_line_and_unjudged_ones_are_named(capsys: pytest.CaptureFixture[str]) -> None:
    statuses: dict[str, collections.Counter[str]] = {
        "BG101": collections.Counter({"pass": 9, "fail": 1}),
        "BG303": collections.Counter({"skip": 10}),
    }
    left_out = per_check_table(statuses, {"BG101": [4, 3]}, {"BG101": ["misspelt_headline"]}, set())
    lines = capsys.readouterr().out.splitlines()
    for check_id in IDS:
        assert sum(line.startswith(check_id + " ") for line in lines) == 1, check_id
    row = {line.split()[0]: line for line in lines if line[:2] == "BG"}
    assert "0.100 (1/10)" in row["BG101"] and "0.750 (3/4) (misspelt_headline)" in row["BG101"]
    assert "not exercised" in row["BG303"] and "skip on every clean image" in row["BG303"]
    assert "not exercised: not enabled in the kits" in row["BG602"]
    assert left_out == [i for i in IDS if i not in ("BG101", "BG303")]
    headline = _headline(1, 10, left_out)
    assert headline.startswith("clean images falsely flagged by any of 2 checks: 1 of 10")
    assert all(check_id in headline for check_id in left_out)


def test_the_headline_says_when_every_check_was_run() -> None:
    assert _headline(0, 72, []).endswith(f"any of {len(IDS)} checks: 0 of 72 (every registered check)")


def test_checks_left_out_by_only_are_said_so(capsys: pytest.CaptureFixture[str]) -> None:
    left_out = per_check_table({"BG201": collections.Counter({"pass": 3})}, {}, {}, {"BG201"})
    out = capsys.readouterr().out
    assert "BG101  not run (--only)" in out
    assert "BG201" not in left_out and "BG101" in left_out
