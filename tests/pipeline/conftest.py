"""Fixtures for the generation tests: the tiny model built once per session, fast profiles."""

from __future__ import annotations

from pathlib import Path

import pytest

from brandgate.settings import Settings
from pipeline.profiles import Profile, load_profile
from pipeline.tiny_model import build_tiny_model
from tests.pipeline.generation_world import KITS, write_profile


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


@pytest.fixture
def fast_profile(gen_settings: Settings) -> Profile:
    write_profile(gen_settings)
    return load_profile("fast", gen_settings)
