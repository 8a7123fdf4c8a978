"""Fixtures of the job-queue tests: a real tiny model, real keys, migrated databases."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from brandgate.settings import Settings
from tests.brandgate.jobs.support import Records, make_settings


@pytest.fixture(scope="session")
def tiny_models_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The offline tiny model, built once per test session (the build is deterministic)."""
    from pipeline.tiny_model import build_tiny_model

    models = tmp_path_factory.mktemp("models")
    build_tiny_model(models)
    return models


@pytest.fixture(scope="session")
def keys_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from pipeline.keys import issue_chain, write_dev_chain

    directory = tmp_path_factory.mktemp("keys")
    write_dev_chain(directory, issue_chain())
    return directory


@pytest.fixture(scope="session")
def profiles_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Operator profiles for tests, looked up before the built-in ones.

    One CPU thread each: on a machine shared by many test runs, two OpenMP threads per model
    call spin against each other and a 0.2 s image takes 30 s. `slow` has enough denoising
    steps to cancel one mid-way.
    """
    from pipeline.profiles import BUILTIN_PROFILES_DIR

    directory = tmp_path_factory.mktemp("profiles")
    preview = yaml.safe_load((BUILTIN_PROFILES_DIR / "preview.yaml").read_text())
    export = yaml.safe_load((BUILTIN_PROFILES_DIR / "export.yaml").read_text())
    profiles = {
        "preview": {**preview, "cpu_threads": 1},
        "export": {**export, "cpu_threads": 1, "steps": 16},
        "slow": {
            **preview,
            "name": "slow",
            "steps": 60,
            "max_steps": 60,
            "max_batch_size": 1,
            "resolution": [128, 128],
            "cpu_threads": 1,
        },
    }
    for name, profile in profiles.items():
        (directory / f"{name}.yaml").write_text(yaml.safe_dump(profile))
    return directory


@pytest.fixture
def job_settings(tmp_path: Path, tiny_models_dir: Path, keys_dir: Path, profiles_dir: Path) -> Settings:
    """SQLite settings, migrated to head, with the tiny model and a development key chain."""
    from brandgate.db.schema import upgrade

    settings = make_settings(tmp_path, tiny_models_dir, keys_dir, profiles_dir)
    upgrade(settings)
    return settings


@pytest.fixture
def records(job_settings: Settings) -> Iterator[Records]:
    view = Records(job_settings)
    yield view
    view.close()
