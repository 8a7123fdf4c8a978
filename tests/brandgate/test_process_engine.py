"""One engine per process and database: every part of a process shares one connection pool."""

from __future__ import annotations

from pathlib import Path

from brandgate.db.engine import MAX_PROCESS_ENGINES, process_engine
from brandgate.jobs.request_side import QueueFront
from brandgate.settings import Settings


def _settings(tmp_path: Path, name: str) -> Settings:
    return Settings(database_url=f"sqlite:///{tmp_path / name}.db", artifacts_dir=tmp_path / "artifacts")


def test_the_same_database_gets_the_same_engine(settings: Settings, tmp_path: Path) -> None:
    from brandgate.db.schema import upgrade

    upgrade(settings)
    again = settings.model_copy()
    assert process_engine(settings) is process_engine(again)
    front = QueueFront(settings)
    front.close()
    assert front.engine is process_engine(settings)  # closing a front leaves the process's engine alone
    assert process_engine(_settings(tmp_path, "other")) is not process_engine(settings)


def test_engines_of_databases_no_longer_used_are_let_go(tmp_path: Path) -> None:
    first = process_engine(_settings(tmp_path, "first"))
    for index in range(MAX_PROCESS_ENGINES):
        process_engine(_settings(tmp_path, f"later-{index}"))
    assert process_engine(_settings(tmp_path, "first")) is not first
