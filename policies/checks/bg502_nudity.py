"""BG502 nudity: explicit nudity.

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

ID = "BG502"
NAME = "nudity"
FAMILY = "safety"
DEFAULT_SEVERITY = "reject"


def run(
    creative: Creative, brief: Brief | None, kit: Kit, options: Mapping[str, Any]
) -> Outcome:
    return Outcome("error", "BG502 is not implemented yet", confidence=0.0)
