"""The explicit registry of built-in checks, in the order they run and are reported."""

from __future__ import annotations

from functools import lru_cache
from importlib import import_module

from policies.check import CheckSpec

# The built-in checks by module name (named after their ID), in the order they run and are reported.
BUILTIN_MODULE_NAMES = (
    "bg101_headline_text",
    "bg102_disclaimer_text",
    "bg103_banned_words",
    "bg104_unexpected_text",
    "bg201_logo_match",
    "bg202_logo_size_clear_space",
    "bg301_palette",
    "bg302_headline_contrast",
    "bg303_imagery_colour",
    "bg401_object_counts",
    "bg402_anatomy",
    "bg501_prompt_screening",
    "bg502_nudity",
    "bg601_blank_image",
    "bg602_size_format",
    "bg603_degenerate_output",
)
BUILTIN_MODULES = tuple(import_module(f"policies.checks.{name}") for name in BUILTIN_MODULE_NAMES)


@lru_cache(maxsize=1)
def builtin_specs() -> tuple[CheckSpec, ...]:
    return tuple(CheckSpec.from_module(m) for m in BUILTIN_MODULES)


def known_ids() -> frozenset[str]:
    return frozenset(spec.id for spec in builtin_specs())


def spec_by_id(check_id: str) -> CheckSpec:
    for spec in builtin_specs():
        if spec.id == check_id:
            return spec
    raise KeyError(check_id)
