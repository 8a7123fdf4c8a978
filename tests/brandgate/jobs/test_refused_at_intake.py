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
