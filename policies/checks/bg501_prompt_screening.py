"""BG501 prompt-screening: banned and unsafe terms in the prompt.

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

ID = "BG501"
NAME = "prompt-screening"
FAMILY = "safety"
DEFAULT_SEVERITY = "reject"


def screen(brief: Brief, kit: Kit, options: Mapping[str, Any]) -> Outcome:
    return Outcome("error", "BG501 is not implemented yet", confidence=0.0)
