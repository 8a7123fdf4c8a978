"""Functional tests of the text checks (BG101-BG104) and headline contrast (BG302).

Each creative is rendered here with PIL and a kit font, on a flat, a gradient and a busy
photo-like background, and read by the real OCR engines (RapidOCR and Tesseract). One OCR
reading per creative is shared by every check, as in production.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageFont

from policies.brief import Brief
from policies.checks import (
    bg101_headline_text,
    bg102_disclaimer_text,
    bg103_banned_words,
    bg104_unexpected_text,
    bg302_headline_contrast,
)
from policies.creative import Creative
from policies.kit import Kit, load_kit
from policies.ocr import RAPIDOCR, TESSERACT, read_text

KITS = Path(__file__).resolve().parents[2] / "brand_kits"
BOLD = "/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf"
REGULAR = "/usr/share/fonts/truetype/liberation2/LiberationSans-Regular.ttf"
W, H = 640, 400
BACKGROUNDS = ("flat", "gradient", "photo")


@pytest.fixture(scope="module")
def acme() -> Kit:
    return load_kit(KITS / "acme")


def background(kind: str, seed: int = 7) -> Image.Image:
    rng = np.random.default_rng(seed)
    if kind == "flat":
        return Image.new("RGB", (W, H), (29, 53, 87))
    if kind == "gradient":
        t = np.linspace(0.0, 1.0, W)[None, :, None]
        start, end = np.array([20, 40, 110]), np.array([120, 20, 60])
        row = (start * (1 - t) + end * t) * np.ones((H, 1, 1))
        return Image.fromarray(row.astype(np.uint8))
    # Photo-like: smooth colour blobs at several scales plus grain, like foliage or a market stall.
    field = np.zeros((H, W, 3))
    for cells, weight in ((4, 0.5), (16, 0.3), (64, 0.2)):
        small = rng.integers(0, 256, (cells * H // W + 1, cells, 3)).astype(np.uint8)
        field += weight * np.asarray(Image.fromarray(small).resize((W, H), Image.Resampling.BICUBIC), float)
    field += rng.normal(0, 18, field.shape)
    return Image.fromarray(np.clip(field, 0, 255).astype(np.uint8))


def render(
    kind: str,
    headline: str | None,
    *,
    lines: tuple[tuple[str, int], ...] = (),
    text_colour: tuple[int, int, int] = (255, 255, 255),
    size: int = 44,
) -> Creative:
    """Headline near the top (may hold '\\n'), further (text, y) lines in a smaller font."""
    image = background(kind)
    draw = ImageDraw.Draw(image)
    stroke = 4 if kind == "photo" else 0  # outlined, as designers set text on photos
    if headline is not None:
        draw.multiline_text(
            (40, 40),
            headline,
            font=ImageFont.truetype(BOLD, size),
            fill=text_colour,
            stroke_width=stroke,
            stroke_fill=(0, 0, 0),
            spacing=12,
        )
    for text, y in lines:
        draw.text(
            (40, y),
            text,
            font=ImageFont.truetype(REGULAR, 26),
            fill=(255, 255, 255),
            stroke_width=stroke,
            stroke_fill=(0, 0, 0),
        )
    return Creative.from_pil(image, f"{kind}.png", source_format="png")


def brief(**fields: Any) -> Brief:
    base: dict[str, Any] = {"kit": "acme", "prompt": "apples on a table", "size": (W, H)}
    base.update(fields)
    return Brief.model_validate(base)


def status(module: Any, creative: Creative, b: Brief | None, kit: Kit, options: Mapping[str, Any] | None = None) -> str:
    outcome = module.run(creative, b, kit, options or {})
    return str(outcome.status)


# One clean and one defective creative per background; built once, OCR'd once.
CLEAN_BRIEF = brief(headline="Fresh Deals Friday", disclaimer="Offer ends Sunday.")


@pytest.fixture(scope="module")
def clean() -> dict[str, Creative]:
    return {k: render(k, "Fresh Deals Friday", lines=(("Offer ends Sunday.", 340),)) for k in BACKGROUNDS}


@pytest.fixture(scope="module")
def defective() -> dict[str, Creative]:
    # misspelt headline, no disclaimer, a banned word and text nobody asked for
    return {
        k: render(k, "Fresh Deels Friday", lines=(("Cheapest apples in town", 250), ("Win a car today", 320)))
        for k in BACKGROUNDS
    }


@pytest.mark.parametrize("kind", BACKGROUNDS)
def test_both_engines_read_each_line(kind: str, clean: dict[str, Creative]) -> None:
    ocr = read_text(clean[kind])
    assert ocr.engines == (RAPIDOCR, TESSERACT)
    assert len(ocr.lines) == 2
    assert ocr.lines[0].box[1] < ocr.lines[1].box[1]  # reading order: headline first
    assert all(w.box[2] > w.box[0] for w in ocr.words(RAPIDOCR))


def test_ocr_is_shared_per_creative(clean: dict[str, Creative]) -> None:
    creative = clean["flat"]
    assert read_text(creative) is read_text(creative)


@pytest.mark.parametrize("kind", BACKGROUNDS)
def test_bg101_passes_the_exact_headline(kind: str, clean: dict[str, Creative], acme: Kit) -> None:
    outcome = bg101_headline_text.run(clean[kind], CLEAN_BRIEF, acme, {})
    assert outcome.status == "pass"
    assert outcome.evidence["similarity"] == 1.0


@pytest.mark.parametrize("kind", BACKGROUNDS)
def test_bg101_fails_a_one_letter_change(kind: str, defective: dict[str, Creative], acme: Kit) -> None:
    outcome = bg101_headline_text.run(defective[kind], CLEAN_BRIEF, acme, {})
    assert outcome.status == "fail"
    assert "Deels" in outcome.evidence["read"]
    assert 0.85 <= outcome.evidence["similarity"] < 1.0
    assert "Fresh Deals Friday" in outcome.message


def test_bg101_max_edits_option_accepts_one_letter(defective: dict[str, Creative], acme: Kit) -> None:
    assert status(bg101_headline_text, defective["flat"], CLEAN_BRIEF, acme, {"max_edits": 1}) == "pass"


def test_bg101_forgives_case_and_line_breaks(acme: Kit) -> None:
    creative = render("gradient", "FRESH DEALS\nFRIDAY", size=52)
    assert status(bg101_headline_text, creative, CLEAN_BRIEF, acme) == "pass"
    # the same creative does not carry another headline
    assert status(bg101_headline_text, creative, brief(headline="Fresh Meals Friday"), acme) == "fail"


def test_bg101_fails_when_the_headline_is_missing_and_skips_without_one(acme: Kit) -> None:
    creative = render("flat", None, lines=(("Offer ends Sunday.", 340),))
    assert status(bg101_headline_text, creative, CLEAN_BRIEF, acme) == "fail"
    assert status(bg101_headline_text, creative, brief(), acme) == "skip"
    assert status(bg101_headline_text, creative, None, acme) == "skip"


def test_bg101_fails_a_headline_drawn_with_a_missing_glyph(acme: Kit) -> None:
    """DejaVu Sans Bold has no U+4E00: drawn, it is the .notdef box, whatever OCR makes of it."""
    headline = "Fresh Deals \u4e00 Friday"
    creative = render("flat", headline, size=52)
    outcome = bg101_headline_text.run(creative, brief(headline=headline), acme, {})
    assert outcome.status == "fail"
    assert outcome.evidence["missing_glyphs"] == ["U+4E00"]
    assert "DejaVuSans-Bold.ttf has no glyph for U+4E00" in outcome.message


@pytest.mark.parametrize("kind", BACKGROUNDS)
def test_bg102_disclaimer(kind: str, clean: dict[str, Creative], defective: dict[str, Creative], acme: Kit) -> None:
    assert status(bg102_disclaimer_text, clean[kind], CLEAN_BRIEF, acme) == "pass"
    outcome = bg102_disclaimer_text.run(defective[kind], CLEAN_BRIEF, acme, {})
    assert outcome.status == "fail"
    assert "Offer ends Sunday." in outcome.message


def test_bg102_uses_the_kits_required_disclaimers(clean: dict[str, Creative]) -> None:
    nordwind = load_kit(KITS / "nordwind")
    outcome = bg102_disclaimer_text.run(clean["flat"], brief(kit="nordwind"), nordwind, {})
    assert outcome.status == "fail"
    assert "Prices in EUR incl. VAT." in outcome.message
    assert status(bg102_disclaimer_text, clean["flat"], brief(), load_kit(KITS / "acme")) == "skip"


def test_bg102_reads_small_print_on_a_large_creative() -> None:
    """14 px (the kits' smallest text) at the foot of a 1024² creative, alone."""
    nordwind = load_kit(KITS / "nordwind")
    image = Image.new("RGB", (1024, 1024), (11, 60, 93))
    small_print = ImageFont.truetype(REGULAR, 14)
    ImageDraw.Draw(image).text((60, 980), "Prices in EUR incl. VAT.", font=small_print, fill="white")
    creative = Creative.from_pil(image, "small.png", source_format="png")
    assert status(bg102_disclaimer_text, creative, brief(kit="nordwind"), nordwind) == "pass"
    also_asked = brief(kit="nordwind", disclaimer="Offer ends Sunday.")
    assert status(bg102_disclaimer_text, creative, also_asked, nordwind) == "fail"


@pytest.mark.parametrize("kind", BACKGROUNDS)
def test_bg103_banned_words(kind: str, clean: dict[str, Creative], defective: dict[str, Creative], acme: Kit) -> None:
    assert status(bg103_banned_words, clean[kind], CLEAN_BRIEF, acme) == "pass"
    outcome = bg103_banned_words.run(defective[kind], CLEAN_BRIEF, acme, {})
    assert outcome.status == "fail"
    assert [f["word"] for f in outcome.evidence["found"]] == ["cheapest"]


def test_bg103_matches_phrases_and_whole_words_only(defective: dict[str, Creative], acme: Kit) -> None:
    creative = defective["flat"]
    assert status(bg103_banned_words, creative, None, acme, {"extra_words": ["win a car"]}) == "fail"
    # "car" is inside no banned word; "apple" is not "apples"; "ten" is inside "often" and "town"-less
    clean_kit = acme.model_copy(update={"spec": acme.spec.model_copy(update={"banned_words": ["app", "wn"]})})
    assert status(bg103_banned_words, creative, None, clean_kit) == "pass"
    empty = acme.model_copy(update={"spec": acme.spec.model_copy(update={"banned_words": []})})
    assert status(bg103_banned_words, creative, None, empty) == "skip"


@pytest.mark.parametrize("kind", BACKGROUNDS)
def test_bg104_unexpected_text(
    kind: str, clean: dict[str, Creative], defective: dict[str, Creative], acme: Kit
) -> None:
    assert status(bg104_unexpected_text, clean[kind], CLEAN_BRIEF, acme) == "pass"
    outcome = bg104_unexpected_text.run(defective[kind], CLEAN_BRIEF, acme, {})
    assert outcome.status == "fail"
    flagged = " ".join(u["text"] for u in outcome.evidence["unexpected"]).lower()
    assert "car" in flagged


def test_bg104_tolerates_the_logo_wordmark_and_allowed_text(acme: Kit) -> None:
    creative = render("flat", "Fresh Deals Friday", lines=(("ACME", 250), ("acme.example", 320)))
    outcome = bg104_unexpected_text.run(creative, CLEAN_BRIEF, acme, {})
    assert outcome.status == "fail"  # the URL was not asked for
    assert [u["text"] for u in outcome.evidence["unexpected"]] == ["acme.example"]
    assert status(bg104_unexpected_text, creative, CLEAN_BRIEF, acme, {"allowed_text": ["acme.example"]}) == "pass"


@pytest.mark.parametrize("kind", BACKGROUNDS)
def test_bg302_passes_white_headline(kind: str, clean: dict[str, Creative], acme: Kit) -> None:
    outcome = bg302_headline_contrast.run(clean[kind], CLEAN_BRIEF, acme, {})
    assert outcome.status == "pass", outcome.message
    assert outcome.evidence["ratio"] >= 4.5


@pytest.mark.parametrize(("kind", "colour"), [("flat", (70, 90, 130)), ("gradient", (120, 80, 150))])
def test_bg302_fails_low_contrast_headline(kind: str, colour: tuple[int, int, int], acme: Kit) -> None:
    creative = render(kind, "Fresh Deals Friday", text_colour=colour, size=56)
    outcome = bg302_headline_contrast.run(creative, CLEAN_BRIEF, acme, {})
    assert outcome.status == "fail", outcome.message
    assert outcome.evidence["ratio"] < 4.5


def test_bg302_threshold_is_an_option_and_skips_without_headline(clean: dict[str, Creative], acme: Kit) -> None:
    ratio = bg302_headline_contrast.run(clean["flat"], CLEAN_BRIEF, acme, {}).evidence["ratio"]
    stricter = {"min_ratio": ratio + 1, "min_ratio_large": ratio + 1}  # the 44 px headline is large text
    assert status(bg302_headline_contrast, clean["flat"], CLEAN_BRIEF, acme, stricter) == "fail"
    assert status(bg302_headline_contrast, clean["flat"], brief(), acme) == "skip"


def test_wcag_contrast_formula() -> None:
    lum = bg302_headline_contrast.relative_luminance
    black, white = lum(np.array([0, 0, 0])), lum(np.array([255, 255, 255]))
    assert float(bg302_headline_contrast.contrast_ratio(white, black)) == pytest.approx(21.0)
    grey = lum(np.array([118, 118, 118]))  # the classic AA boundary grey on white
    assert float(bg302_headline_contrast.contrast_ratio(white, grey)) == pytest.approx(4.54, abs=0.02)



def test_bg302_names_the_colour_its_ratio_was_taken_at() -> None:
    """White strokes whose surround is mostly dark with a light part: the ratio comes from the least
    contrasting 10 % of the surround, so the colour named beside it is that part's, not the ring's
    median (a dark colour beside a ratio near 2:1 would name something the ratio was not taken at)."""
    crop = np.full((60, 200, 3), (12, 10, 10), np.uint8)
    crop[:, 150:] = (176, 172, 168)  # a light part under the last quarter of the line
    text = np.zeros((60, 200), bool)
    for x in range(10, 190, 12):  # vertical strokes 4 px wide along the line
        text[15:45, x : x + 4] = True
    crop[text] = (255, 255, 255)
    measured = bg302_headline_contrast._against_surround(crop, text, 10.0)
    assert measured is not None
    assert measured["ratio"] < 2.5  # white on the light part
    least = tuple(int(measured["least_contrasting_colour"][i : i + 2], 16) for i in (1, 3, 5))
    median = tuple(int(measured["background_colour"][i : i + 2], 16) for i in (1, 3, 5))
    assert min(least) > 150 and max(median) < 60  # light where the ratio was taken, dark at the median
