"""BG602 size-format: the image's size or file format differs from what the brief asked for.

Compares the image's width × height with the brief's `size` and the file's format (read from
its content, not its name) with the brief's `format` (png, jpeg or webp). An image given as
pixels, with no file, is compared by size only.

Statuses: `pass` both as asked; `fail` the differences, each with asked and got; `skip` there
is no brief.

Options in policy.yaml under `BG602`:
- `severity`: `flag` (default) or `reject`.
- `check_format`: compare the file format too (default true).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from policies.check import Outcome
from policies.options import switch

if TYPE_CHECKING:
    from policies.brief import Brief
    from policies.creative import Creative
    from policies.kit import Kit

ID = "BG602"
NAME = "size-format"
FAMILY = "technical"
DEFAULT_SEVERITY = "flag"


def run(creative: Creative, brief: Brief | None, kit: Kit, options: Mapping[str, Any]) -> Outcome:
    if brief is None:
        return Outcome("skip", "no brief: nothing to compare size and format with")
    check_format = switch(options, ID, "check_format", True)
    asked_w, asked_h = brief.size
    got_format = (creative.source_format or "").lower().replace("jpg", "jpeg") or None
    evidence: dict[str, Any] = {
        "asked": {"size": [asked_w, asked_h], "format": brief.format},
        "got": {"size": [creative.width, creative.height], "format": got_format},
    }
    problems = []
    if (creative.width, creative.height) != (asked_w, asked_h):
        problems.append(f"size is {creative.width}×{creative.height}, the brief asks for {asked_w}×{asked_h}")
    if check_format and got_format is not None and got_format != brief.format:
        problems.append(f"format is {got_format}, the brief asks for {brief.format}")
    if problems:
        return Outcome("fail", "; ".join(problems), 1.0, evidence)
    note = "" if got_format is not None or not check_format else " (format not known: pixels without a file)"
    shown = f"{creative.width}×{creative.height}" + (f" {got_format}" if got_format else "")
    return Outcome("pass", f"{shown} as the brief asks{note}", 1.0, evidence)
