"""The shared OCR reading: thread safety, one reading per creative, degrading to one engine."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

from policies.creative import Creative
from policies.ocr import RAPIDOCR, TESSERACT, read_text, recognise
from policies.text_match import best_match, normalise, tokens

ROOT = Path(__file__).resolve().parents[2]
BOLD = "/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf"


def creative(text: str, colour: tuple[int, int, int]) -> Creative:
    image = Image.new("RGB", (480, 200), colour)
    ImageDraw.Draw(image).text((30, 70), text, font=ImageFont.truetype(BOLD, 40), fill="white")
    return Creative.from_pil(image, f"{text}.png")


def test_concurrent_readings_match_sequential_ones() -> None:
    creatives = [creative("Fresh Deals", (29, 53, 87)), creative("Snow Boots", (120, 20, 40))]
    sequential = [recognise(c.rgb).texts() for c in creatives]
    fresh = [Creative(name=c.name, rgb=c.rgb) for c in creatives for _ in range(2)]
    with ThreadPoolExecutor(max_workers=4) as pool:
        concurrent = list(pool.map(lambda c: read_text(c).texts(), fresh))
    assert concurrent == [sequential[0], sequential[0], sequential[1], sequential[1]]
    assert sequential[1] == {RAPIDOCR: "Snow Boots", TESSERACT: "Snow Boots"}


def test_without_tesseract_rapidocr_reads_alone(tmp_path: Path) -> None:
    """A machine without the tesseract program: the reading says so and the checks still work."""
    image = tmp_path / "ad.png"
    Image.new("RGB", (480, 200), (29, 53, 87)).save(image)
    with Image.open(image) as opened:
        drawn = opened.copy()
    ImageDraw.Draw(drawn).text((30, 70), "Fresh Deals", font=ImageFont.truetype(BOLD, 40), fill="white")
    drawn.save(image)
    script = textwrap.dedent(
        f"""
        import json
        from policies.creative import load_creative
        from policies.ocr import read_text
        result = read_text(load_creative({str(image)!r}))
        print(json.dumps({{"engines": result.engines, "errors": dict(result.errors), "texts": result.texts()}}))
        """
    )
    env = {**os.environ, "PATH": str(tmp_path)}  # no tesseract on this PATH
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr
    reading = json.loads(done.stdout.strip().splitlines()[-1])
    assert reading["engines"] == [RAPIDOCR]
    assert "tesseract is not installed" in reading["errors"][TESSERACT]
    assert reading["texts"] == {RAPIDOCR: "Fresh Deals"}


def test_normalised_comparison() -> None:
    assert normalise("FRESH  DEALS\nFriday!") == normalise("Fresh Deals Friday") == "freshdealsfriday"
    assert normalise("C0ffee") == normalise("Coffee")  # RapidOCR's O/0 confusion is forgiven
    assert normalise("Café") == "cafe"
    assert tokens("Free-money, now!") == ["free", "money", "now"]
    match = best_match("Fresh Deals Friday", {"rapidocr": "SALE\nFresh Deels Friday\nends Sunday"})
    assert match is not None and not match.exact
    assert match.read == "Fresh Deels Friday"
    assert round(match.similarity, 3) == round(1 - 1 / 16, 3)
