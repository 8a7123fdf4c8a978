"""The one reader of check options: every check's bad value reads the same way, naming check and option."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from policies.options import number, switch, whole


def test_absent_options_take_their_defaults() -> None:
    assert number({}, "BG502", "threshold", 0.5, above=0, at_most=1) == 0.5
    assert whole({}, "BG101", "max_edits", 0) == 0
    assert switch({}, "BG602", "check_format", True) is True


def test_present_options_are_read_as_their_type() -> None:
    assert number({"threshold": 1}, "BG502", "threshold", 0.5, above=0, at_most=1) == 1.0
    assert whole({"min_chars": 4}, "BG104", "min_chars", 3, at_least=1) == 4
    assert switch({"allow_blends": False}, "BG301", "allow_blends", True) is False


@pytest.mark.parametrize(
    ("read", "message"),
    [
        (
            lambda: number({"threshold": 0}, "BG502", "threshold", 0.5, above=0, at_most=1),
            "BG502.threshold must be a number > 0 and ≤ 1, got 0",
        ),
        (
            lambda: number({"min_object_area": 1}, "BG401", "min_object_area", 0.001, above=0, below=1),
            "BG401.min_object_area must be a number > 0 and < 1, got 1",
        ),
        (
            lambda: number({"detector_threshold": True}, "BG402", "detector_threshold", 0.3),
            "BG402.detector_threshold must be a number, got True",
        ),
        (lambda: whole({"max_edits": 1.5}, "BG101", "max_edits", 0), "BG101.max_edits must be a whole number ≥ 0"),
        (
            lambda: switch({"check_format": "yes"}, "BG602", "check_format", True),
            "BG602.check_format must be true or false, got 'yes'",
        ),
    ],
)
def test_a_bad_value_names_the_check_the_option_and_the_value(read: Callable[[], object], message: str) -> None:
    with pytest.raises(ValueError) as caught:
        read()
    assert str(caught.value).startswith(message)
