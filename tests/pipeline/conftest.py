"""Fixtures for the generation tests: the tiny model built once per session, fast profiles."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from brandgate.settings import Settings
from pipeline.profiles import Profile, load_profile
from pipeline.tiny_model import build_tiny_model

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


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """(models folder, content hash) of the tiny model, built once for the whole session."""
    models_dir = tmp_path_factory.mktemp("models")
    folder, content_hash = build_tiny_model(models_dir)
    return folder.parent, content_hash


@pytest.fixture
def gen_settings(tiny_model: tuple[Path, str], tmp_path: Path) -> Settings:
    return Settings(
        database_url=f"sqlite:///{tmp_path / 'brandgate.db'}",
        artifacts_dir=tmp_path / "artifacts",
        kits_dir=KITS,
        models_dir=tiny_model[0],
        profiles_dir=tmp_path / "profiles",
        keys_dir=tmp_path / "keys",
        gpu_hourly_usd=3.6,
    )


def write_profile(settings: Settings, **changes: Any) -> Path:
    """A profile file in the settings' profiles folder: the fast one with `changes` applied."""
    data = {**FAST_PROFILE, **changes}
    settings.profiles_dir.mkdir(parents=True, exist_ok=True)
    path = settings.profiles_dir / f"{data['name']}.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


@pytest.fixture
def fast_profile(gen_settings: Settings) -> Profile:
    write_profile(gen_settings)
    return load_profile("fast", gen_settings)
