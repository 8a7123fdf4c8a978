"""Checks that see what a careful reviewer sees: look-alike glyphs, placed text, layout order,
subtle logo recolours and contrast on plates (real OCR engines, real fonts, real kits)."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageFont

from benchmarks.evalset import make_review_item
from pipeline.compose import compose
from policies.brief import Brief
from policies.checks import spec_by_id
from policies.creative import Creative
from policies.engine import run_one
from policies.kit import Kit, load_kit
from policies.ocr import RAPIDOCR, TESSERACT, read_text, recognise
from policies.rendered_text import judge_placed, renders_same
from policies.text_match import best_match

ROOT = Path(__file__).resolve().parents[2]
DEJAVU_BOLD = "/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf"
SERIF_BOLD = "/usr/share/fonts/truetype/liberation2/LiberationSerif-Bold.ttf"


@pytest.fixture(scope="module")
def acme() -> Kit:
    return load_kit(ROOT / "brand_kits" / "acme")


def _brief(**fields: object) -> Brief:
    base: dict[str, object] = {
        "kit": "acme",
        "prompt": "three oranges on a table",
        "headline": "Fresh Deals Friday",
        "disclaimer": "Offer ends Sunday.",
        "logo": "primary",
        "size": (768, 768),
    }
    return Brief.model_validate({**base, **fields})


def _composed(
    acme: Kit, background: tuple[int, int, int] = (30, 60, 90)
) -> tuple[Image.Image, list[dict[str, object]]]:
    made = compose(Image.new("RGB", (768, 768), background), _brief(), acme)
    return made.image, made.placements


def _check(check_id: str, creative: Creative, brief: Brief, kit: Kit) -> object:
    return run_one(spec_by_id(check_id), creative, brief, kit, kit.check_options(check_id))


def test_renders_same_tells_the_faces_apart() -> None:
    assert renders_same("l", "I", DEJAVU_BOLD)  # one stroke in a grotesque sans
    assert not renders_same("l", "I", SERIF_BOLD)  # serifs differ
    assert not renders_same("O", "0", DEJAVU_BOLD)  # the zero is narrower
    assert not renders_same("i", "l", DEJAVU_BOLD)
    assert not renders_same("l", "1", DEJAVU_BOLD)


def test_substitutions_are_forgiven_only_when_the_glyphs_are_the_same_picture() -> None:
    read = {RAPIDOCR: "FRESH DEAIS FRIDAY"}
    assert best_match("Fresh Deals Friday", read, DEJAVU_BOLD).exact  # type: ignore[union-attr]
    assert not best_match("Fresh Deals Friday", read, SERIF_BOLD).exact  # type: ignore[union-attr]
    assert not best_match("Fresh Deals Friday", {RAPIDOCR: "Fresh Dea1s Friday"}, DEJAVU_BOLD).exact  # type: ignore[union-attr]
    assert not best_match("GOOD FOOD", {RAPIDOCR: "G00D F00D"}, DEJAVU_BOLD).exact  # type: ignore[union-attr]
    # Case and spacing stay forgiven.
    assert best_match("Fresh Deals Friday", {RAPIDOCR: "freshdeals\nfriday"}, DEJAVU_BOLD).exact  # type: ignore[union-attr]


def test_placed_headline_is_judged_glyph_by_glyph(acme: Kit) -> None:
    image, placements = _composed(acme)
    brief = _brief()
    clean = _check("BG101", Creative.from_pil(image, "clean.png", "png", placements), brief, acme)
    assert clean.status == "pass"  # type: ignore[attr-defined]
    assert clean.evidence["judged_by"] == "placed glyphs"  # type: ignore[attr-defined]
    assert clean.evidence["glyphs"][0]["worst_glyph_share"] < 0.05  # type: ignore[attr-defined]

    # Paint the headline's "l" over with a "1" of the same face and size where it was placed.
    headline = next(p for p in placements if p["element"] == "headline")
    font = ImageFont.truetype(str(headline["font"]), int(headline["font_px"]))  # type: ignore[call-overload]
    x, y = headline["line_origins"][0]  # type: ignore[index]
    text = str(headline["lines"][0])  # type: ignore[index]
    at = text.index("l")
    altered = image.copy()
    draw = ImageDraw.Draw(altered)
    left = x + font.getlength(text[:at])
    draw.rectangle((left, y, left + font.getlength("l") + 1, y + font.getmetrics()[0]), fill=(214, 40, 40))
    draw.text((left, y), "1", font=font, fill=(255, 255, 255))
    result = _check("BG101", Creative.from_pil(altered, "altered.png", "png", placements), brief, acme)
    assert result.status == "fail"  # type: ignore[attr-defined]
    assert "does not look as placed" in result.message  # type: ignore[attr-defined]


def test_a_same_picture_swap_is_not_a_defect_where_placed() -> None:
    image = Image.new("RGB", (600, 120), (29, 53, 87))
    font = ImageFont.truetype(DEJAVU_BOLD, 48)
    ImageDraw.Draw(image).text((20, 30), "Fresh DeaIs", font=font, fill="white")
    rgb = np.asarray(image)
    assert judge_placed(rgb, "Fresh Deals", DEJAVU_BOLD, 48, (20, 30)).matches  # type: ignore[union-attr]
    serif = Image.new("RGB", (600, 120), (29, 53, 87))
    ImageDraw.Draw(serif).text((20, 30), "Fresh DeaIs", font=ImageFont.truetype(SERIF_BOLD, 48), fill="white")
    judged = judge_placed(np.asarray(serif), "Fresh Deals", SERIF_BOLD, 48, (20, 30))
    assert judged is not None and not judged.matches


def test_placed_lines_survive_jpeg(acme: Kit) -> None:
    image, placements = _composed(acme, (120, 90, 60))
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=60)
    jpeg = Image.open(io.BytesIO(buffer.getvalue())).convert("RGB")
    creative = Creative.from_pil(jpeg, "q60.jpg", "jpeg", placements)
    brief = _brief()
    assert _check("BG101", creative, brief, acme).status == "pass"  # type: ignore[attr-defined]
    assert _check("BG102", creative, brief, acme).status == "pass"  # type: ignore[attr-defined]


def test_placed_text_is_not_read_again_and_the_rest_is_searched(acme: Kit) -> None:
    image, placements = _composed(acme)
    ImageDraw.Draw(image).text((60, 400), "HUGE SALE TODAY", font=ImageFont.truetype(DEJAVU_BOLD, 48), fill="white")
    creative = Creative.from_pil(image, "extra.png", "png", placements)
    ocr = read_text(creative, ("Fresh Deals Friday", "Offer ends Sunday."))
    assert ocr.reading_order == "placed boxes"
    assert {line.placed for line in ocr.lines if line.placed} == {"headline", "disclaimer"}
    assert all(not line.readings for line in ocr.lines if line.placed)
    result = _check("BG104", creative, _brief(), acme)
    assert result.status == "fail" and "HUGE" in result.message.upper()  # type: ignore[attr-defined]


def test_tesseract_skips_lines_rapidocr_read_as_expected() -> None:
    image = Image.new("RGB", (700, 200), (20, 20, 20))
    draw = ImageDraw.Draw(image)
    draw.text((30, 30), "Fresh Deals Friday", font=ImageFont.truetype(DEJAVU_BOLD, 44), fill="white")
    draw.text((30, 120), "Visit our stores", font=ImageFont.truetype(DEJAVU_BOLD, 36), fill="white")
    result = recognise(np.asarray(image), ("Fresh Deals Friday",))
    by_text = {line.readings[RAPIDOCR].text: line for line in result.lines}
    headline = next(line for text, line in by_text.items() if "Fresh" in text)
    other = next(line for text, line in by_text.items() if "Visit" in text)
    assert TESSERACT not in headline.readings
    assert TESSERACT in other.readings


def test_a_wrapped_disclaimer_beside_a_logo_word_is_read_in_layout_order(acme: Kit) -> None:
    image = Image.new("RGB", (900, 300), (29, 53, 87))
    draw = ImageDraw.Draw(image)
    body = ImageFont.truetype("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf", 22)
    draw.text((30, 150), "Offer valid while stocks last. Items", font=body, fill="white")
    draw.text((30, 180), "cannot be returned once opened.", font=body, fill="white")
    draw.text((640, 150), "ACME", font=ImageFont.truetype(DEJAVU_BOLD, 52), fill="white")
    creative = Creative.from_pil(image, "wrapped.png", "png")
    brief = _brief(
        disclaimer="Offer valid while stocks last. Items cannot be returned once opened.",
        logo=None,
        headline=None,
        size=(896, 296),
    )
    result = _check("BG102", creative, brief, acme)
    assert result.status == "pass", result.message  # type: ignore[attr-defined]
    assert result.evidence["reading_order"] == "layout"  # type: ignore[attr-defined]
    reading = read_text(creative).text(RAPIDOCR)
    assert "ACME" not in reading.split("\n")[0] + reading.split("\n")[1]


@pytest.mark.parametrize(("index", "status"), [(6, "fail"), (0, "pass")])
def test_bg201_measures_each_logo_colour(index: int, status: str) -> None:
    # Item 6 of the reviewer's set turns a logo colour by ΔE 6–15; item 0 by ΔE under 3.5.
    item = make_review_item(index)
    assert (item.defect == "logo_hue_shift") == (status == "fail")
    rgb, placements = item.render()
    kit = load_kit(ROOT / "brand_kits" / item.kit_name)
    result = _check("BG201", Creative(item.name, rgb, placements=tuple(placements)), item.brief, kit)
    assert result.status == status, result.message  # type: ignore[attr-defined]
    colours = result.evidence["colours"]  # type: ignore[attr-defined]
    assert colours and all({"reference", "measured", "delta_e"} <= set(c) for c in colours)
    if status == "fail":
        assert "colour off" in result.message or "recoloured" in result.message  # type: ignore[attr-defined]


def test_bg302_measures_white_on_a_red_plate_as_legible(acme: Kit) -> None:
    image = Image.new("RGB", (768, 768), (60, 110, 50))
    draw = ImageDraw.Draw(image)
    draw.rectangle((30, 40, 740, 150), fill=(214, 40, 40))
    draw.text((50, 60), "Fresh Deals Friday", font=ImageFont.truetype(DEJAVU_BOLD, 64), fill="white")
    brief = _brief(logo=None, disclaimer=None)
    result = _check("BG302", Creative.from_pil(image, "plate.png", "png"), brief, acme)
    assert result.status == "pass", result.message  # type: ignore[attr-defined]
    line = result.evidence["lines"][0]  # type: ignore[attr-defined]
    assert line["text_colour"] == "#FFFFFF" and line["background_colour"] == "#D62828"
    assert 4.8 <= line["ratio"] <= 5.1  # WCAG: white on #D62828 is 5.0:1


DEJAVU_SERIF_BOLD = "/usr/share/fonts/truetype/dejavu/DejaVuSerif-Bold.ttf"
DEJAVU_OBLIQUE = "/usr/share/fonts/truetype/dejavu/DejaVuSans-BoldOblique.ttf"


def _bare_headline(text: str, face: str, background: tuple[int, int, int] = (29, 53, 87)) -> Creative:
    """A headline drawn on a plate by someone else: no placement record comes with it."""
    image = Image.new("RGB", (900, 300), background)
    draw = ImageDraw.Draw(image)
    draw.rectangle((30, 60, 870, 170), fill=(230, 190, 40))
    draw.text((60, 75), text, font=ImageFont.truetype(face, 64), fill=(11, 60, 93))
    return Creative.from_pil(image, "bare.png", "png")


def _headline_only(headline: str) -> Brief:
    return _brief(headline=headline, disclaimer=None, logo=None, size=(896, 296))


@pytest.mark.parametrize(
    ("drawn", "face"),
    [
        ("Summer Harvest SaIe", DEJAVU_SERIF_BOLD),  # l→I: apart in a serif face, not in the kit's sans
        ("Surnmer Harvest Sale", DEJAVU_BOLD),  # m→rn
        ("Summer Harvest Sa1e", DEJAVU_BOLD),  # l→1
    ],
)
def test_a_lookalike_without_placement_is_told_by_its_glyphs(acme: Kit, drawn: str, face: str) -> None:
    brief = _headline_only("Summer Harvest Sale")
    result = _check("BG101", _bare_headline(drawn, face), brief, acme)
    assert result.status == "fail", result.message  # type: ignore[attr-defined]
    assert repr(drawn) in result.message  # type: ignore[attr-defined]
    if "glyphs" in result.evidence["judged_by"]:  # type: ignore[attr-defined]
        # An engine read the headline as asked: the glyphs, in the face found, told otherwise.
        assert "look-alike" in result.message  # type: ignore[attr-defined]
        line = result.evidence["line_glyphs"][0]  # type: ignore[attr-defined]
        assert line["outcome"] == "look-alike" and line["shows"] == drawn
        assert line["font"] == face.rsplit("/", 1)[-1]


def test_the_glyphs_overrule_an_engine_that_reads_through_a_lookalike(acme: Kit) -> None:
    # In DejaVu Serif an I is not an l; an engine that reads "Sale" there is overruled.
    creative = _bare_headline("Summer Harvest SaIe", DEJAVU_SERIF_BOLD)
    result = _check("BG101", creative, _headline_only("Summer Harvest Sale"), acme)
    assert result.status == "fail", result.message  # type: ignore[attr-defined]
    assert result.evidence["judged_by"].endswith("+ glyphs")  # type: ignore[attr-defined]
    assert result.evidence["line_glyphs"][0]["shows"] == "Summer Harvest SaIe"  # type: ignore[attr-defined]


@pytest.mark.parametrize("face", [DEJAVU_SERIF_BOLD, DEJAVU_BOLD, SERIF_BOLD])
def test_a_correct_headline_without_placement_passes_in_the_face_found(acme: Kit, face: str) -> None:
    result = _check("BG101", _bare_headline("Summer Harvest Sale", face), _headline_only("Summer Harvest Sale"), acme)
    assert result.status == "pass", result.message  # type: ignore[attr-defined]
    line = result.evidence["line_glyphs"][0]  # type: ignore[attr-defined]
    assert line["outcome"] == "as expected" and line["font"] == face.rsplit("/", 1)[-1]


def test_a_face_we_do_not_have_decides_nothing(acme: Kit) -> None:
    # An oblique face is among no candidates: the glyphs cannot be judged, so OCR's reading
    # stands and the evidence says no face fitted, rather than a look-alike being invented.
    result = _check(
        "BG101", _bare_headline("Summer Harvest Sale", DEJAVU_OBLIQUE), _headline_only("Summer Harvest Sale"), acme
    )
    assert result.status == "pass", result.message  # type: ignore[attr-defined]
    assert result.evidence["line_glyphs"][0]["outcome"] in ("no candidate face fits", "undecided")  # type: ignore[attr-defined]


def test_small_print_the_detector_half_missed_is_read_closer(acme: Kit) -> None:
    # Item 91 of the reviewer's set: a 14 px disclaimer on gravel whose second line the
    # detector finds only in part at its usual resolution.
    item = make_review_item(91)
    assert item.defect is None and not item.placed and item.background == "gravel"
    rgb, _ = item.render()
    creative = Creative(item.name, rgb)
    result = _check("BG102", creative, item.brief, acme)
    assert result.status == "pass", result.message  # type: ignore[attr-defined]
    judged = [d["judged_by"] for d in result.evidence["disclaimers"]]  # type: ignore[attr-defined]
    assert "ocr, enlarged region" in judged


@pytest.mark.parametrize(
    ("seed", "index", "check_id", "status", "why"),
    [
        (0, 28, "BG101", "fail", "l→1 on a plate with specks of grass in the OCR box before the first glyph"),
        (0, 244, "BG101", "fail", "l→1 after JPEG q60 on a photograph, the last glyph close to the plate's edge"),
        (1, 116, "BG101", "fail", "i→l in DejaVu Sans Bold, no placement, one engine read it as asked"),
        (1, 28, "BG101", "fail", "i→l in Liberation Sans Bold after JPEG q90 (the expected text fits at 0.996)"),
        (1, 133, "BG102", "fail", "l→f in a placed 20 px line: the glyphs alone measure it under the mismatch bar"),
        (1, 261, "BG102", "fail", "e→a in a placed 26 px line after JPEG q70"),
        (1, 151, "BG302", "fail", "a low-contrast plate whose OCR box spills onto the photograph"),
        (1, 50, "BG104", "pass", "a wrapped disclaimer line read only in part: 'Items cannot be return'"),
        (1, 90, "BG104", "pass", "the wordmark read as two lines, 'NOR' and 'DWIND'"),
        (1, 330, "BG104", "pass", "'HHI' read across a box seven line heights wide on brick"),
        (2, 176, "BG102", "pass", "a wrapped line ending in a full stop, judged with it (not as 'srnaller')"),
        (2, 346, "BG102", "pass", "a kit disclaimer whose second line the detector missed, beside the first"),
        (2, 19, "BG201", "pass", "a thin-lined mono logo after JPEG q60, its strokes smeared, not missing"),
        (3, 269, "BG102", "fail", "e→a in a placed 20 px line: its worst glyph measures 0.08"),
        (3, 209, "BG104", "pass", "the wordmark inside the logo read in part and misread: ', NORE'"),
        (3, 376, "BG104", "pass", "the wordmark inside the logo read in part and misread: 'NOI'"),
    ],
)
def test_items_of_the_reviewer_set_the_checks_once_got_wrong(
    seed: int, index: int, check_id: str, status: str, why: str
) -> None:
    # Items of the reviewer's set the rules once got wrong (they were first written against seed 0).
    item = make_review_item(index, seed=seed)
    rgb, placements = item.render()
    kit = load_kit(ROOT / "brand_kits" / item.kit_name)
    result = _check(check_id, Creative(item.name, rgb, placements=tuple(placements)), item.brief, kit)
    assert result.status == status, f"{why}: {result.message}"  # type: ignore[attr-defined]
