"""`brandgate check` on files with a look-alike swapped into an unplaced headline (issue 22, item 5):
headlines set in the kit's and common installed faces at 40-80 px on flat, gradient and
photographic backgrounds, each beside the same headline set correctly, judged by BG101 alone
through the real entry point (real OCR engines, real fonts)."""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageFont

from brandgate.cli.main import main

ROOT = Path(__file__).resolve().parents[2]
DEJAVU = Path("/usr/share/fonts/truetype/dejavu")
LIBERATION = Path("/usr/share/fonts/truetype/liberation2")
W, H = 768, 512

# (headline asked for, headline drawn, face, px, background)
CASES = [
    ("Fresh Local Deals", "Fresh Loca1 Deals", DEJAVU / "DejaVuSans-Bold.ttf", 40, "flat"),
    ("Fresh Local Deals", "Fresh Loca1 Deals", DEJAVU / "DejaVuSans.ttf", 56, "gradient"),
    ("Fresh Local Deals", "Fresh Loca1 Deals", LIBERATION / "LiberationSans-Bold.ttf", 80, "photo"),
    ("Fresh Local Deals", "Fresh Loca1 Deals", LIBERATION / "LiberationSerif-Bold.ttf", 40, "gradient"),
    ("Fresh Local Deals", "Fresh LocaI Deals", LIBERATION / "LiberationSerif-Bold.ttf", 72, "photo"),
    ("New Outdoor Gear", "New 0utdoor Gear", LIBERATION / "LiberationSans-Bold.ttf", 56, "flat"),
    ("New Outdoor Gear", "New 0utdoor Gear", LIBERATION / "LiberationSerif-Bold.ttf", 72, "gradient"),
    ("New Outdoor Gear", "New 0utdoor Gear", DEJAVU / "DejaVuSans-Bold.ttf", 64, "photo"),
    ("Summer Sale", "Surnmer Sale", DEJAVU / "DejaVuSans.ttf", 40, "gradient"),
    ("Summer Sale", "5ummer Sale", DEJAVU / "DejaVuSerif.ttf", 72, "gradient"),
    ("Spring Picks", "Sprlng Picks", LIBERATION / "LiberationSans-Regular.ttf", 80, "gradient"),
    ("Big Brand Week", "8ig Brand Week", LIBERATION / "LiberationSans-Bold.ttf", 56, "photo"),
    ("Bold Deals", "Bolcl Deals", LIBERATION / "LiberationSans-Bold.ttf", 56, "flat"),
    ("New Arrivals Week", "Nevv Arrivals Week", DEJAVU / "DejaVuSans.ttf", 56, "flat"),
]


def _background(kind: str) -> Image.Image:
    if kind == "flat":
        return Image.new("RGB", (W, H), (29, 53, 87))
    if kind == "gradient":
        t = np.linspace(0.0, 1.0, W)[None, :, None]
        row = (np.array([20, 40, 110]) * (1 - t) + np.array([120, 20, 60]) * t) * np.ones((H, 1, 1))
        return Image.fromarray(row.astype(np.uint8))
    with Image.open(ROOT / "tests" / "fixtures" / "photos" / "pasta.jpg") as photo:
        return photo.convert("RGB").resize((W, H))


def _creative(path: Path, text: str, face: Path, px: int, kind: str) -> Path:
    image = _background(kind)
    draw = ImageDraw.Draw(image)
    font = ImageFont.truetype(str(face), px)
    if kind == "photo":  # a dark plate, as a headline over a busy picture is set
        x0, y0, x1, y1 = draw.textbbox((40, 60), text, font=font)
        draw.rectangle((x0 - 12, y0 - 12, x1 + 12, y1 + 12), fill=(20, 20, 24))
    draw.text((40, 60), text, font=font, fill=(250, 250, 250))
    image.save(path)
    return path


@pytest.fixture
def headline_only_kit(tmp_path: Path) -> Path:
    """acme with BG101 alone enabled."""
    root = tmp_path / "acme"
    shutil.copytree(ROOT / "brand_kits" / "acme", root)
    others = ["BG102", "BG103", "BG104", "BG201", "BG202", "BG301", "BG302", "BG303", "BG401", "BG402", "BG501"]
    others += ["BG502", "BG601", "BG602", "BG603"]
    (root / "policy.yaml").write_text("".join(f"{i}: {{enabled: false}}\n" for i in others))
    return root


def _bg101(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], *args: str) -> dict[str, str]:
    monkeypatch.setattr(sys, "argv", ["brandgate", "check", *args, "--json"])
    capsys.readouterr()
    with pytest.raises(SystemExit):
        main()
    document = json.loads(capsys.readouterr().out)
    return {
        Path(result["image"]).name: next(c["status"] for c in result["checks"] if c["id"] == "BG101")
        for result in document["results"]
    }


@pytest.mark.parametrize("headline", sorted({case[0] for case in CASES}))
def test_lookalike_swaps_fail_and_the_same_headline_set_right_passes(
    headline: str,
    tmp_path: Path,
    headline_only_kit: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    brief = tmp_path / "brief.yaml"
    brief.write_text(f'kit: acme\nprompt: "a shop window"\nheadline: "{headline}"\nsize: [{W}, {H}]\n')
    files, expected = [], {}
    for i, (asked, drawn, face, px, kind) in enumerate(CASES):
        if asked != headline:
            continue
        for name, text, status in ((f"swap-{i}.png", drawn, "fail"), (f"clean-{i}.png", asked, "pass")):
            files.append(str(_creative(tmp_path / name, text, face, px, kind)))
            expected[name] = status
    judged = _bg101(monkeypatch, capsys, *files, "--kit", str(headline_only_kit), "--brief", str(brief))
    assert judged == expected
