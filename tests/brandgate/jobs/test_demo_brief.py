"""The demo brief through the real command line and pipeline: its images are never `pass`, and say why."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from brandgate.settings import Settings
from tests.brandgate.jobs.support import ROOT, Records

DEMO_BRIEF = ROOT / "examples" / "acme_demo.yaml"


def _run(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, cwd=ROOT, env=env, capture_output=True, text=True, timeout=600, check=False)


def test_the_demo_brief_is_never_a_pass_and_the_demo_says_why(
    job_settings: Settings, records: Records, tmp_path: Path
) -> None:
    for name in ("BRANDGATE_ANATOMY_DETECTOR", "BRANDGATE_COUNTS_DETECTOR"):
        assert name not in os.environ, f"{name} is set: this test is about a machine with no detector"
    env = {
        **os.environ,
        "BRANDGATE_DATABASE_URL": job_settings.database_url,
        "BRANDGATE_MODELS_DIR": str(job_settings.models_dir),
        "BRANDGATE_KEYS_DIR": str(job_settings.keys_dir),
        "BRANDGATE_PROFILES_DIR": str(job_settings.profiles_dir),
        "BRANDGATE_ARTIFACTS_DIR": str(job_settings.artifacts_dir),
    }
    out = tmp_path / "demo"
    made = _run([sys.executable, "-m", "brandgate", "generate", "--brief", str(DEMO_BRIEF), "--n", "1",
                 "--out", str(out), "--json"], env)  # fmt: skip
    assert made.returncode == 0, made.stderr
    document = json.loads(made.stdout)
    [image] = document["images"]
    assert image["verdict"] in ("unverified", "flag", "reject")
    assert f"-{image['verdict']}." in Path(image["path"]).name  # the file name says it too
    sheet = (out / "contact-sheet.html").read_text()
    assert "every check that applies passed" not in sheet and f">{image['verdict']}<" in sheet

    # the counts the brief never gave were read from its prompt, and the request keeps them
    [request] = records.requests()
    assert request.brief["counts"] == {"apple": 5} and request.brief["counts_inferred"] is True

    audit = out / "audit.jsonl"
    exported = _run([sys.executable, "-m", "brandgate", "audit", "export", "--request", document["request_id"],
                     "--out", str(audit)], env)  # fmt: skip
    assert exported.returncode == 0, exported.stderr
    [row] = [json.loads(line) for line in audit.read_text().splitlines()]
    assert row["verdict"] == image["verdict"]
    bg401 = next(c for c in row["checks"] if c["id"] == "BG401")
    assert bg401["status"] in ("unverified", "fail"), bg401

    told = _run([sys.executable, "scripts/demo_report.py", str(audit)], env)
    assert told.returncode == 0, told.stderr
    assert "passed: 0 of 1" in told.stdout
    assert "coloured noise" in told.stdout
    assert "BG401" in told.stdout and "nothing here is usable" in told.stdout

    # an image nobody approved is not exported in high quality: one line, exit 2, nothing queued
    refused = _run([sys.executable, "-m", "brandgate", "export", image["image_id"]], env)
    assert refused.returncode == 2, refused.stderr
    assert "Traceback" not in refused.stderr
    if image["verdict"] != "reject":
        assert "a brand manager must approve it before the HQ export" in refused.stderr
    assert len(records.requests()) == 1
