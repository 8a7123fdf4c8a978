"""Finding kits by name under the kits folder, or by path, without path tricks."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from brandgate.errors import UserError
from brandgate.settings import Settings
from policies.brief import KIT_NAME_PATTERN
from policies.characters import quote
from policies.checks import known_ids
from policies.kit import Kit, load_kit

_NAME = re.compile(KIT_NAME_PATTERN)


def kit_root(name_or_path: str, settings: Settings) -> Path:
    """A bare name is looked up under the kits folder; anything with a slash is a path."""
    if not name_or_path.strip():
        raise UserError("kit: give a kit name or a path to a kit folder")
    if "/" in name_or_path or "\\" in name_or_path or name_or_path in (".", ".."):
        return Path(name_or_path)
    if not _NAME.match(name_or_path):
        raise UserError(f"kit: {quote(name_or_path, 64)} is not a kit name (lower-case letters, digits, '-' and '_')")
    root = settings.kits_dir / name_or_path
    if not root.is_dir():
        available = ", ".join(list_kits(settings)) or "none"
        raise UserError(f"kit: no kit named {quote(name_or_path, 64)} in {settings.kits_dir} (available: {available})")
    return root


def resolve_kit(name_or_path: str, settings: Settings) -> Kit:
    return with_operator_options(load_kit(kit_root(name_or_path, settings), known_check_ids=known_ids()), settings)


def with_operator_options(kit: Kit, settings: Settings) -> Kit:
    """The kit with the operator's check options (detector and model folders) where its policy.yaml is silent.

    Checks read only their options; which detector runs is the operator's setting, not a kit's,
    unless the kit names one itself.
    """
    hand_models = settings.hand_models_dir
    if hand_models is None and (settings.models_dir / "mediapipe").is_dir():
        hand_models = settings.models_dir / "mediapipe"
    # With neither, BG402 looks in the project's var/models/mediapipe, where `make setup` puts them.
    defaults: dict[str, dict[str, Any]] = {
        "BG401": {"detector": settings.counts_detector, "hand_models": hand_models},  # people: faces, poses
        "BG402": {"detector": settings.anatomy_detector or settings.counts_detector, "hand_models": hand_models},
    }
    policy = {check_id: dict(options) for check_id, options in kit.policy.items()}
    for check_id, options in defaults.items():
        for key, value in options.items():
            if value is not None and key not in policy.get(check_id, {}):
                policy.setdefault(check_id, {})[key] = str(value)
    return kit.model_copy(update={"policy": policy})


def list_kits(settings: Settings) -> list[str]:
    if not settings.kits_dir.is_dir():
        return []
    return sorted(p.name for p in settings.kits_dir.iterdir() if (p / "kit.yaml").is_file())
