"""Shared by the hostile tests that run the real pipeline: a tiny model and a signing chain."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def made(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A tiny model and a signing chain, built once per session."""
    from pipeline.keys import issue_chain, write_dev_chain
    from pipeline.tiny_model import build_tiny_model

    models = tmp_path_factory.mktemp("models")
    build_tiny_model(models)
    keys = tmp_path_factory.mktemp("keys")
    write_dev_chain(keys, issue_chain())
    return models, keys
