"""`regress run` and `regress compare` through the real CLI: exit codes follow outcomes, compare keeps
to its own files, and `--post` sends a Block Kit summary beside the previous run to the fake Slack."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import pytest

from brandgate.db.models import RegressionRun
from brandgate.regress import actions
from brandgate.regress.runner import load_view
from brandgate.settings import Settings
from tests.fake_slack import FakeSlack, fake_token
from tests.regress.gate_world import GateWorld, build_world


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> GateWorld:
    return build_world(tmp_path_factory.mktemp("outcomes-world"))


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


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_exit_codes_follow_outcomes_and_compare_writes_its_own_files(
    gate: Settings, run_cli: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "out"
    # A blank model on the eggs brief: the run completes and nothing passes.
    code, stdout, err = run_cli(
        gate, "regress", "run", "--profile", "cand-blank", "--family", "small-objects", "--no-watchdog",
        "--concurrency", "1", "--out", str(out), "--json",
    )
    assert code == 4, err
    blank = json.loads(stdout)
    assert blank["status"] == "complete" and blank["summary"]["pass_rate"] == 0.0
    assert blank["outcome"] == "bad" and blank["headline"].startswith("NOTHING PASSED")
    own_report, own_summary = Path(blank["report"]), Path(blank["summary_file"])
    tile = own_report.read_text().split('id="contact-sheet"')[1]
    assert "three eggs in a bowl" in tile and "BG601 blank-image" in tile
    # a run recorded before the plan kept the prompts: the report finds them through its requests
    with actions.database(gate) as sessions:
        with sessions.begin() as session:
            row = session.get(RegressionRun, blank["run_id"])
            assert row is not None and row.plan["briefs"]["eggs-a"]["prompt"] == "three eggs in a bowl"
            row.plan = {k: v for k, v in row.plan.items() if k != "briefs"}
        assert load_view(sessions, blank["run_id"]).briefs["eggs-a"].prompt == "three eggs in a bowl"
    before = {own_report: _digest(own_report), own_summary: _digest(own_summary)}

    # Screening stops what it must on the active profile: everything as expected, exit 0.
    code, stdout, err = run_cli(gate, "regress", "run", "--family", "edge-cases", "--no-watchdog", "--json")
    assert code == 0, err
    good = json.loads(stdout)
    assert good["summary"]["pass_rate"] == 1.0 and good["outcome"] == "good"

    code, stdout, err = run_cli(gate, "regress", "compare", blank["run_id"], good["run_id"], "--out", str(out))
    assert code == 0, err
    assert "gate: refused: " in stdout
    # run A's own files are untouched; the comparison has files of its own beside them
    assert {p: _digest(p) for p in before} == before
    stem = f"compare-{blank['run_id']}-vs-{good['run_id']}"
    html, document = out / f"{stem}.html", json.loads((out / f"{stem}.json").read_text())
    assert f"report: {html}" in stdout
    assert document["passed"] is False and document["candidate_summary"]["run_id"] == blank["run_id"]
    page = html.read_text()
    assert 'id="gate"' in page and "Gate: REFUSED: " in page
    for criterion in document["criteria"]:
        assert criterion["name"] in page

    # --post: the summary goes to Slack beside the previous run of the same profile and suite
    with FakeSlack() as slack:
        monkeypatch.setenv("BRANDGATE_SLACK_API_URL", slack.api_url)
        monkeypatch.setenv("BRANDGATE_SLACK_BOT_TOKEN", fake_token())
        monkeypatch.setenv("BRANDGATE_SLACK_REPORT_CHANNEL", "CREPORTS")
        code, stdout, err = run_cli(
            gate, "regress", "run", "--family", "edge-cases", "--no-watchdog", "--post", "--json"
        )
    assert code == 0, err
    [message] = slack.calls_to("chat.postMessage")
    context = message.params["blocks"][1]["elements"][0]["text"]
    assert f"previous run: run `{good['run_id'][:12]}`" in context
    fields = [f["text"] for b in message.params["blocks"] for f in b.get("fields", [])]
    assert fields[:2] == ["*This run*", "*Previous run*"]
    assert str(gate.regress_suite.parent) not in json.dumps(message.params)
    assert len(slack.calls_to("files.completeUploadExternal")) == 1
