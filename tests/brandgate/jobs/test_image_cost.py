"""What an image is charged: its own model call, never the model's first-call warm-up (real CLI, tiny model)."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import pytest
import yaml

from brandgate.settings import Settings
from tests.brandgate.jobs.support import PLAIN_BRIEF, Records


def test_the_model_is_warmed_up_once_at_load_and_billed_to_no_image(
    job_settings: Settings, records: Records, run_cli: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    for name in ("models_dir", "keys_dir", "profiles_dir"):
        monkeypatch.setenv(f"BRANDGATE_{name.upper()}", str(getattr(job_settings, name)))
    brief = tmp_path / "three.yaml"
    brief.write_text(yaml.safe_dump({**PLAIN_BRIEF, "n": 3, "size": [64, 64]}))
    with caplog.at_level(logging.INFO, logger="brandgate.requests.run"):
        code, out, err = run_cli(job_settings, "generate", "--brief", str(brief), "--json")
    assert code == 0, err
    document = json.loads(out)
    [warmed] = [r for r in caplog.records if getattr(r, "event", None) == "model.warmed_up"]
    assert warmed.warm_up_seconds > 0  # type: ignore[attr-defined]
    first_image = min(r.created for r in caplog.records if getattr(r, "event", None) == "image.recorded")
    assert warmed.created < first_image  # paid before any image's call was metered
    # The request is charged exactly its images: the warm-up is in no image and in no request.
    request = records.request(document["request_id"])
    images = records.images(document["request_id"])
    assert len(images) == 3
    assert request.gpu_seconds == pytest.approx(sum(i.gpu_seconds for i in images))
    for image in images:
        metering = image.generation_config["metering"]
        assert image.gpu_seconds == pytest.approx(metering["device_seconds"], abs=1e-6)  # stored to the µs
        assert metering["device_seconds"] == pytest.approx(metering["wall_seconds"])  # its own call, no one else's
