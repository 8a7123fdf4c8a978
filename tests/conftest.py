"""Shared test fixtures: paths, settings pointing at temporary folders."""

from __future__ import annotations

from pathlib import Path

import pytest

from brandgate.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "tests" / "fixtures"
KITS = ROOT / "brand_kits"


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """Settings isolated from the developer's var/: a fresh SQLite file and folders per test."""
    return Settings(
        database_url=f"sqlite:///{tmp_path / 'brandgate.db'}",
        artifacts_dir=tmp_path / "artifacts",
        kits_dir=KITS,
        models_dir=tmp_path / "models",
        keys_dir=tmp_path / "keys",
    )
