"""A brief the kit's policy refuses is answered at intake, through the real CLI: `refused`, exit 2, nothing recorded."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from brandgate.settings import Settings
from tests.brandgate.jobs.support import Records

REFUSED = {
    "banned word in the headline": ({"headline": "Cheapest Apples Ever"}, "kit banned word 'cheapest' in the headline"),
    "banned phrase in the prompt": ({"prompt": "a jar of free money on a desk"}, "'free money' in the prompt"),
    "unsafe term in the disclaimer": ({"disclaimer": "Contains no cocaine."}, "unsafe term 'cocaine'"),
}


def _brief(tmp_path: Path, **changes: Any) -> Path:
    data = {"kit": "acme", "prompt": "five red apples on a wooden table", "size": [128, 128], "n": 1, **changes}
    path = tmp_path / "brief.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


@pytest.mark.parametrize("case", list(REFUSED), ids=list(REFUSED))
def test_generate_and_brief_validate_refuse_alike(
    case: str, job_settings: Settings, records: Records, run_cli: Any, tmp_path: Path
) -> None:
    changes, named = REFUSED[case]
    brief = _brief(tmp_path, **changes)
    code, out, err = run_cli(job_settings, "generate", "--brief", str(brief), "--out", str(tmp_path / "out"))
    assert code == 2, err
    assert err.startswith("refused: BG501 prompt-screening:") and named in err, err
    assert "nothing was queued or recorded" in err and "Traceback" not in err
    assert records.requests() == [] and records.events() == []
    assert not (tmp_path / "out").exists()

    code, out, err = run_cli(job_settings, "generate", "--brief", str(brief), "--json")
    document = json.loads(out)
    assert code == 2 and document["state"] == "refused" and document["request_id"] is None
    assert document["refused_by"] == ["BG501"] and named in document["reason"]

    code, out, err = run_cli(job_settings, "brief", "validate", str(brief))
    assert code == 2 and "refused" in err and named in err and "is valid" not in out

    code, out, err = run_cli(job_settings, "brief", "validate", str(brief), "--json")
    document = json.loads(out)
    assert code == 2 and document["valid"] is False and document["state"] == "refused"
    assert records.requests() == []


def test_text_that_cannot_fit_or_be_drawn_is_refused_before_queueing(
    job_settings: Settings, records: Records, run_cli: Any, tmp_path: Path
) -> None:
    for changes, named in (
        ({"headline": "Fresh " * 20, "size": [64, 64]}, "headline"),
        ({"headline": "Fresh \u0E01 Deals"}, "U+0E01"),
    ):
        brief = _brief(tmp_path, **changes)
        code, _, err = run_cli(job_settings, "generate", "--brief", str(brief))
        assert code == 2 and err.startswith("error: ") and named in err, err
        code, _, err = run_cli(job_settings, "brief", "validate", str(brief))
        assert code == 2 and named in err, err
    assert records.requests() == [] and records.events() == []


def test_a_brief_the_policy_accepts_is_still_valid(job_settings: Settings, run_cli: Any, tmp_path: Path) -> None:
    code, out, _ = run_cli(job_settings, "brief", "validate", str(_brief(tmp_path, headline="Fresh Deals")))
    assert code == 0 and "is valid" in out


def test_a_kit_that_bans_the_wording_after_intake_refuses_in_the_worker_without_a_failure_alert(
    job_settings: Settings, records: Records, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    import logging
    import shutil

    from brandgate.db.engine import make_engine, make_sessionmaker
    from brandgate.jobs.contract import Submission
    from brandgate.jobs.execution import JobExecutor
    from brandgate.jobs.request_side import QueueFront
    from brandgate.metrics import Metrics
    from brandgate.requests.run import WorkerParts
    from tests.brandgate.jobs.support import ROOT, brief

    kits = tmp_path / "kits"
    shutil.copytree(ROOT / "brand_kits" / "acme", kits / "acme", ignore=shutil.ignore_patterns("*.py"))
    settings = job_settings.model_copy(update={"kits_dir": kits})
    front = QueueFront(settings)
    try:
        accepted = front.submit(Submission(brief=brief(prompt="a bowl of juicy pears"), requested_by="ana"))
    finally:
        front.close()
    kit_file = kits / "acme" / "kit.yaml"
    data = yaml.safe_load(kit_file.read_text())
    kit_file.write_text(yaml.safe_dump({**data, "banned_words": [*data["banned_words"], "pears"]}))

    engine = make_engine(settings)
    metrics = Metrics()
    executor = JobExecutor(WorkerParts.from_settings(settings, make_sessionmaker(engine)), metrics)
    with caplog.at_level(logging.INFO):
        executed = executor.execute(accepted.request_id, "worker-test")
    engine.dispose()
    assert executed.outcome == "failed" and "BG501" in (executed.error or "")
    finished = metrics.exposition().decode()
    assert 'brandgate_jobs_finished_total{state="refused"} 1.0' in finished
    assert 'state="failed"' not in finished
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR], [r.getMessage() for r in caplog.records]
    assert records.request(accepted.request_id).gpu_seconds == 0  # refused before any GPU time
