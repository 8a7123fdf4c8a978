"""BG401 object-counts: count of the objects named in the brief differs.

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

ID = "BG401"
NAME = "object-counts"
FAMILY = "counts"
DEFAULT_SEVERITY = "flag"


def run(
    creative: Creative, brief: Brief | None, kit: Kit, options: Mapping[str, Any]
) -> Outcome:
    return Outcome("error", "BG401 is not implemented yet", confidence=0.0)
