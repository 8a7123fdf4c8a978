"""BG603 degenerate-output: real photographs pass, broken-model backgrounds fail, under the brand elements."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from benchmarks.evalset import kit
from benchmarks.photoset import DEGENERATE, degenerate_background, photo_items
from policies.brief import Brief
from policies.checks import bg603_degenerate_output as bg603
from policies.creative import Creative

ROOT = Path(__file__).resolve().parents[2]
ITEMS = {item.name: item for item in photo_items()}
PHOTOS = sorted(name for name, item in ITEMS.items() if item.kind == "real-photo" and name.endswith("-acme"))
NAMED = {
    "colour_noise": "coloured noise",
    "smooth_colour_noise": "coloured noise",
    "grey_noise": "pixel noise",
    "stripes": "stripes or tiled repetition",
    "diagonal_stripes": "stripes or tiled repetition",
    "colour_stripes": "stripes or tiled repetition",
    "tiled": "stripes or tiled repetition",
    "washed_out": "washed-out grey",
}


def _run(name: str, options: dict[str, object] | None = None):
    item = ITEMS[name]
    return bg603.run(Creative(name, item.render()), item.brief, kit(item.kit_name), options or {})


@pytest.mark.parametrize("name", PHOTOS)
def test_real_photographs_under_the_brand_elements_pass(name):
    outcome = _run(name)
    assert outcome.status == "pass", outcome.message
    assert outcome.evidence["background_share"] < 0.8  # headline, disclaimer and logo left out


@pytest.mark.parametrize("kind", DEGENERATE)
@pytest.mark.parametrize("kit_name", ["acme", "nordwind"])
def test_degenerate_backgrounds_under_the_brand_elements_fail(kind, kit_name):
    outcome = _run(f"{kit_name}-{kind}")
    assert outcome.status == "fail"
    assert NAMED[kind] in outcome.message


def test_near_copy_of_an_earlier_image_of_the_request_fails():
    photo = ITEMS["chelsea-acme"]
    picture = photo.render()
    background = photo.background()
    creative = Creative("second", picture)
    creative.earlier = [bg603.background_copy(Image.fromarray(degenerate_background("washed_out")))]
    assert bg603.run(creative, photo.brief, kit("acme"), {}).status == "pass"
    creative = Creative("second", picture)
    creative.earlier = [bg603.background_copy(Image.fromarray(background))]
    outcome = bg603.run(creative, photo.brief, kit("acme"), {})
    assert outcome.status == "fail"
    assert "a near-copy of image 1 of this request" in outcome.message
    assert outcome.evidence["nearest_earlier"]["index"] == 0


def test_thresholds_are_options():
    outcome = _run("chelsea-acme", {"max_colour_noise": 0.5})
    assert outcome.status == "fail" and "coloured noise" in outcome.message
    with pytest.raises(ValueError, match=r"BG603\.max_repetition"):
        _run("chelsea-acme", {"max_repetition": "high"})


def test_all_brand_elements_and_no_background_skips():
    rgb = np.full((64, 64, 3), 200, np.uint8)
    brief = Brief(kit="acme", prompt="x", headline="Hi", disclaimer="Terms apply.", logo="primary", size=(64, 64))
    outcome = bg603.run(Creative("tiny", rgb), brief, kit("acme"), {})
    assert outcome.status == "skip"


def _write(path: Path, rgb: np.ndarray) -> Path:
    Image.fromarray(rgb).save(path)
    return path


def _brief_file(path: Path, item) -> Path:  # type: ignore[no-untyped-def]
    brief = item.brief
    lines = [
        f"kit: {brief.kit}",
        f'prompt: "{brief.prompt}"',
        f'headline: "{brief.headline}"',
        f'disclaimer: "{brief.disclaimer}"',
        f"logo: {brief.logo}",
        f"size: [{brief.size[0]}, {brief.size[1]}]",
    ]
    path.write_text("\n".join(lines) + "\n")
    return path


def test_brandgate_check_flags_noise_and_passes_a_photograph(tmp_path, monkeypatch, capsys):
    from brandgate.cli.main import main

    noise = ITEMS["acme-smooth_colour_noise"]
    photo = ITEMS["chelsea-acme"]
    brief = _brief_file(tmp_path / "brief.yaml", noise)
    images = [_write(tmp_path / "noise.png", noise.render()), _write(tmp_path / "cat.png", photo.render())]
    monkeypatch.setattr(
        sys, "argv", ["brandgate", "check", *map(str, images), "--kit", "acme", "--brief", str(brief), "--json"]
    )
    with pytest.raises(SystemExit) as exited:
        main()
    document = json.loads(capsys.readouterr().out)
    by_image = {Path(r["image"]).name: {c["id"]: c for c in r["checks"]} for r in document["results"]}
    assert by_image["noise.png"]["BG603"]["status"] == "fail"
    assert by_image["noise.png"]["BG603"]["message"].startswith("degenerate picture: coloured noise")
    assert by_image["cat.png"]["BG603"]["status"] == "pass"
    assert exited.value.code != 0  # the noise is never a pass
