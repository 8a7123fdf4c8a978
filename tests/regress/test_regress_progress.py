"""`regress run` and `models promote` show counts of renders under a pipe and nothing extra under --json."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from brandgate.settings import Settings
from tests.regress.gate_world import GateWorld, build_world


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> GateWorld:
    return build_world(tmp_path_factory.mktemp("progress-world"))


@pytest.fixture
def gate(world: GateWorld, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Settings:
    from brandgate.db.schema import upgrade

    settings = world.settings.model_copy(
        update={
            "database_url": f"sqlite:///{tmp_path / 'gate.db'}",
            "artifacts_dir": tmp_path / "artifacts",
            "regress_reports_dir": tmp_path / "reports",
        }
    )
    upgrade(settings)
    for name in ("models_dir", "profiles_dir", "keys_dir", "regress_reports_dir", "regress_suite",
                 "regress_seeds", "preview_profile"):  # fmt: skip
        monkeypatch.setenv(f"BRANDGATE_{name.upper()}", str(getattr(settings, name)))
    return settings


def progress_lines(err: str, what: str) -> list[str]:
    return [line for line in err.splitlines() if line.startswith(f"{what}:")]


def test_regress_run_counts_renders_on_stderr_and_json_stays_one_document(gate: Settings, run_cli: Any) -> None:
    code, out, err = run_cli(gate, "regress", "run", "--concurrency", "1")
    assert code == 0, err
    lines = progress_lines(err, "regress run")
    # one seed of two briefs plus the watchdog's repeat of the first: three renders
    assert lines[0].startswith("regress run: 0/3 renders, ")
    assert lines[-1].startswith("regress run: 3/3 renders, ")
    assert "renders" not in out  # stdout keeps the summary

    code, out, err = run_cli(gate, "regress", "run", "--concurrency", "1", "--limit", "1", "--no-watchdog", "--json")
    assert code == 0, err
    assert json.loads(out)["status"] == "complete"
    assert progress_lines(err, "regress run") == []


@pytest.mark.slow  # four suite runs of the tiny model; the regress-run test above covers the runner's counts
def test_models_promote_counts_both_runs_and_json_stays_one_document(gate: Settings, run_cli: Any) -> None:
    code, out, err = run_cli(gate, "models", "promote", "cand-same", "--limit", "1", "--concurrency", "1")
    assert code in (0, 4), err  # promoted or refused (latency on a shared machine): either way both runs ran
    lines = progress_lines(err, "models promote")
    # the first brief's seed and its watchdog repeat, once on the active profile and once on the candidate
    assert lines[0].startswith("models promote: 0/4 renders")
    assert any("(candidate)" in line for line in lines)
    assert lines[-1].startswith("models promote: 4/4 renders")

    code, out, err = run_cli(gate, "models", "promote", "cand-weights", "--limit", "1", "--concurrency", "1", "--json")
    assert code in (0, 4), err
    assert json.loads(out)["candidate"]["profile"] == "cand-weights"
    assert progress_lines(err, "models promote") == []
