"""BG101 headline-text: headline from the brief missing or misspelt.

Not implemented yet: reports `error`, which never counts as a pass.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from policies.engine import Outcome

if TYPE_CHECKING:
    from policies.brief import Brief
    from policies.creative import Creative
    from policies.kit import Kit

ID = "BG101"
NAME = "headline-text"
FAMILY = "text"
DEFAULT_SEVERITY = "flag"


def run(
    creative: Creative, brief: Brief | None, kit: Kit, options: Mapping[str, Any]
) -> Outcome:
    return Outcome("error", "BG101 is not implemented yet", confidence=0.0)
