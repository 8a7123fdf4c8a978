"""`brandgate generate` with n > 1: a line per image on stderr under a pipe, nothing extra under --json."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from brandgate.settings import Settings
from tests.brandgate.jobs.support import PLAIN_BRIEF


def test_generate_prints_images_done_under_a_pipe_and_nothing_extra_under_json(
    job_settings: Settings, run_cli: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("models_dir", "keys_dir", "profiles_dir"):
        monkeypatch.setenv(f"BRANDGATE_{name.upper()}", str(getattr(job_settings, name)))
    brief = tmp_path / "two.yaml"
    brief.write_text(yaml.safe_dump({**PLAIN_BRIEF, "n": 2, "size": [64, 64]}))

    code, out, err = run_cli(job_settings, "generate", "--brief", str(brief))
    assert code == 0, err
    assert "generating 1/2" in err and "generating 2/2" in err
    assert err.count("generating 2/2") == 1  # a line per image, not per denoising step

    code, out, err = run_cli(job_settings, "generate", "--brief", str(brief), "--seed", "5", "--json")
    assert code == 0, err
    assert len(json.loads(out)["images"]) == 2
    assert "generating" not in err and "queued" not in err


def test_images_made_between_two_looks_still_get_their_line() -> None:
    from brandgate.cli.jobs import _images_passed_unseen
    from brandgate.jobs.contract import RequestStatus
    from brandgate.requests.images import ImageView

    image = ImageView(
        image_id="i", request_id="r", index=0, verdict="flag", seed=1, kit="acme", requested_by="cli:me",
        channel=None, artifact_path="a.png", manifest_path=None, cost_usd=0.0
    )
    done = RequestStatus(request_id="r", state="done", n_images=2, images=(image, image))
    assert list(_images_passed_unseen(done, 0)) == [1, 2]
    assert list(_images_passed_unseen(done, 2)) == []
    # the image being generated prints its own line, with its step
    running = RequestStatus(
        request_id="r", state="running", n_images=3, stage="generating", image_index=3, step=1, steps=4
    )
    assert list(_images_passed_unseen(running, 1)) == [2]
