"""Detector and model folders are operator settings, handed to BG401/BG402 as options; a kit's own option wins."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from brandgate.kits import resolve_kit
from brandgate.settings import Settings

ROOT = Path(__file__).resolve().parents[2]


def test_settings_fill_the_detector_options(tmp_path: Path) -> None:
    settings = Settings(
        kits_dir=ROOT / "brand_kits",
        models_dir=tmp_path / "models",
        counts_detector=tmp_path / "owl",
        hand_models_dir=tmp_path / "hands",
    )
    kit = resolve_kit("acme", settings)
    assert kit.check_options("BG401")["detector"] == str(tmp_path / "owl")
    # No anatomy detector of its own: BG402 falls back to the counting one, as before.
    assert kit.check_options("BG402")["detector"] == str(tmp_path / "owl")
    assert kit.check_options("BG402")["hand_models"] == str(tmp_path / "hands")
    # Options the kit's policy.yaml sets itself are kept.
    assert kit.check_options("BG101") == resolve_kit("acme", Settings(kits_dir=ROOT / "brand_kits")).check_options(
        "BG101"
    )


def test_a_kit_option_wins_over_the_setting(tmp_path: Path) -> None:
    kits = tmp_path / "kits"
    shutil.copytree(ROOT / "brand_kits" / "acme", kits / "acme")
    with (kits / "acme" / "policy.yaml").open("a") as policy:
        policy.write("BG401: {detector: /kit/own/detector}\n")
    kit = resolve_kit("acme", Settings(kits_dir=kits, counts_detector=tmp_path / "owl"))
    assert kit.check_options("BG401")["detector"] == "/kit/own/detector"


def test_without_settings_no_detector_is_named(tmp_path: Path) -> None:
    kit = resolve_kit("acme", Settings(kits_dir=ROOT / "brand_kits", models_dir=tmp_path))
    assert "detector" not in kit.check_options("BG401")
    assert "detector" not in kit.check_options("BG402")
    assert "hand_models" not in kit.check_options("BG402")  # the check's own default: var/models/mediapipe


def test_brandgate_check_reads_the_hand_models_setting(
    run_cli, settings: Settings, tmp_path: Path, monkeypatch
) -> None:
    from policies.checks import bg402_anatomy
    from policies.hands import MODEL_FILES, models_present

    if not models_present(bg402_anatomy.DEFAULT_HAND_MODELS):
        pytest.skip("hand models not installed: `make setup` puts them in var/models/mediapipe")
    elsewhere = tmp_path / "operator-models"
    elsewhere.mkdir()
    for name in MODEL_FILES:
        shutil.copy(bg402_anatomy.DEFAULT_HAND_MODELS / name, elsewhere / name)
    monkeypatch.setenv("BRANDGATE_HAND_MODELS_DIR", str(elsewhere))
    image = tmp_path / "grey.png"
    rng = np.random.default_rng(0)
    Image.fromarray(rng.integers(90, 160, (128, 128, 3), dtype=np.uint8)).save(image)
    _, out, _ = run_cli(settings, "check", str(image), "--kit", "acme", "--json")
    checks = {c["id"]: c for c in json.loads(out)["results"][0]["checks"]}
    assert checks["BG402"]["evidence"]["models"] == str(elsewhere)
    assert checks["BG402"]["evidence"]["method"] == "hand-models"
