"""Reading a check's options from policy.yaml: numbers, whole numbers and switches, with ranges.

The one reader every check uses, so a wrong value always reads the same way: the check ID, the
option, what it must be, and what it was (raised as ValueError, which the engine reports as the
check's `error`, never a pass).
"""

from __future__ import annotations

import operator
from collections.abc import Mapping
from typing import Any


def number(
    options: Mapping[str, Any],
    check_id: str,
    key: str,
    default: float,
    *,
    at_least: float | None = None,
    above: float | None = None,
    at_most: float | None = None,
    below: float | None = None,
) -> float:
    """`options[key]` as a float, `default` when absent; a non-number or one out of range is an error."""
    value = options.get(key, default)
    bounds = [
        (at_least, "≥", operator.ge),
        (above, ">", operator.gt),
        (at_most, "≤", operator.le),
        (below, "<", operator.lt),
    ]
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or not all(ok(value, bound) for bound, _, ok in bounds if bound is not None)
    ):
        within = " and ".join(f"{sign} {bound:g}" for bound, sign, _ in bounds if bound is not None)
        raise ValueError(f"{check_id}.{key} must be a number{' ' + within if within else ''}, got {value!r}")
    return float(value)


def whole(options: Mapping[str, Any], check_id: str, key: str, default: int, *, at_least: int = 0) -> int:
    """`options[key]` as an int ≥ `at_least`, `default` when absent."""
    value = options.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int) or value < at_least:
        raise ValueError(f"{check_id}.{key} must be a whole number ≥ {at_least}, got {value!r}")
    return value


def switch(options: Mapping[str, Any], check_id: str, key: str, default: bool) -> bool:
    """`options[key]` as true or false, `default` when absent."""
    value = options.get(key, default)
    if not isinstance(value, bool):
        raise ValueError(f"{check_id}.{key} must be true or false, got {value!r}")
    return value
