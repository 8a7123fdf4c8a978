"""Reading a check's numeric options from policy.yaml, with the check and key named on error."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def number(options: Mapping[str, Any], check_id: str, key: str, default: float) -> float:
    """`options[key]` as a float, `default` when absent; a non-number is an error naming it."""
    value = options.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"{check_id}.{key} must be a number, got {value!r}")
    return float(value)
