"""Shared pieces of the generation tests: paths, the fast profile, writing profile files."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from brandgate.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
KITS = ROOT / "brand_kits"

FAST_PROFILE: dict[str, Any] = {
    "name": "fast",
    "model": "tiny-sd",
    "dtype": "fp32",
    "device": "cpu",
    "scheduler": {"name": "EulerDiscreteScheduler", "config": {"timestep_spacing": "trailing"}},
    "steps": 4,
    "max_steps": 8,
    "guidance_scale": 5.0,
    "resolution": [64, 64],
    "max_batch_size": 2,
    "cpu_threads": 2,
}


def write_profile(settings: Settings, **changes: Any) -> Path:
    """A profile file in the settings' profiles folder: the fast one with `changes` applied."""
    data = {**FAST_PROFILE, **changes}
    settings.profiles_dir.mkdir(parents=True, exist_ok=True)
    path = settings.profiles_dir / f"{data['name']}.yaml"
    path.write_text(yaml.safe_dump(data))
    return path
