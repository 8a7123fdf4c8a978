"""Brand compositing: text read back by OCR, plates where contrast needs them, logo rules."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import numpy as np
import pytesseract
import pytest
from PIL import Image

from pipeline.compose import AA_NORMAL, check_brief_fits, compose, contrast_ratio, relative_luminance
from policies.brief import Brief
from policies.errors import InvalidInput
from policies.kit import FontSpec, Kit, load_kit
from tests.pipeline.generation_world import KITS

BRIEF = dict(
    kit="acme",
    prompt="apples",
    headline="Fresh Deals Friday",
    disclaimer="Offer ends Sunday.",
    logo="primary",
    size=(512, 512),
)


@pytest.fixture(scope="module")
def acme() -> Kit:
    return load_kit(KITS / "acme")


def noisy_background(size: int = 512, seed: int = 0) -> Image.Image:
    """Busy, mid-grey colour noise: low contrast for any text colour."""
    rng = np.random.default_rng(seed)
    return Image.fromarray((rng.random((size, size, 3)) * 255).astype("uint8"))


def with_layout(kit: Kit, **changes: object) -> Kit:
    layout = kit.spec.layouts["default"].model_copy(update=changes)
    return kit.model_copy(update={"spec": kit.spec.model_copy(update={"layouts": {"default": layout}})})


def read_text(image: Image.Image, box: list[int]) -> str:
    crop = image.crop(tuple(box))
    crop = crop.resize((crop.width * 3, crop.height * 3), Image.Resampling.LANCZOS)
    return pytesseract.image_to_string(crop, config="--psm 7").strip()


def normalised(text: str) -> str:
    return re.sub(r"\s+", "", text).casefold()


def placement(composition, element: str) -> dict:
    return next(p for p in composition.placements if p["element"] == element)


def test_placed_headline_and_disclaimer_read_back_by_ocr(acme: Kit) -> None:
    composition = compose(noisy_background(), Brief(**BRIEF), acme)
    headline = placement(composition, "headline")
    disclaimer = placement(composition, "disclaimer")
    assert normalised(read_text(composition.image, headline["plate_box"])) == normalised("Fresh Deals Friday")
    assert normalised(read_text(composition.image, disclaimer["plate_box"])) == normalised("Offer ends Sunday.")
    # auto-sized: as large as the box allows, never below the kit's minimum
    assert headline["font_px"] > 30
    assert disclaimer["font_px"] >= acme.spec.layouts["default"].min_font_px


def test_long_headline_wraps_inside_its_box(acme: Kit) -> None:
    text = "Fresh Deals Every Friday And Saturday Too"
    composition = compose(noisy_background(), Brief(**{**BRIEF, "headline": text}), acme)
    headline = placement(composition, "headline")
    assert len(headline["lines"]) >= 2
    box, text_box = headline["box"], headline["text_box"]
    assert box[0] <= text_box[0] and text_box[2] <= box[2] and box[1] <= text_box[1] and text_box[3] <= box[3]
    plate = headline["plate_box"]
    assert normalised(pytesseract.image_to_string(composition.image.crop(tuple(plate)))) == normalised(text)


def test_plate_only_where_contrast_is_below_aa(acme: Kit) -> None:
    dark = Image.new("RGB", (512, 512), (10, 20, 30))
    composition = compose(dark, Brief(**BRIEF), acme)
    headline = placement(composition, "headline")
    assert headline["plate"] is None  # white on near-black already passes
    assert headline["contrast_before"] >= AA_NORMAL
    light = Image.new("RGB", (512, 512), (245, 245, 240))
    headline = placement(compose(light, Brief(**BRIEF), acme), "headline")
    assert headline["plate"]["kind"] == "plate" and headline["plate"]["colour"] == "acme-red"
    assert headline["contrast_before"] < headline["contrast_required"] <= headline["contrast_after"]


def test_scrim_when_the_kit_has_no_plate_colour(acme: Kit) -> None:
    kit = with_layout(acme, plate_colour=None)
    light = Image.new("RGB", (512, 512), (250, 250, 250))
    composition = compose(light, Brief(**BRIEF), kit)
    headline = placement(composition, "headline")
    assert headline["plate"]["kind"] == "scrim" and headline["plate"]["colour"] == "#000000"
    assert headline["contrast_after"] >= headline["contrast_required"]
    # measure it ourselves on the output: text pixels against the scrim behind them
    x0, y0, x1, y1 = headline["plate_box"]
    region = np.asarray(composition.image.crop((x0, y0, x1, y1))).reshape(-1, 3)
    lum = relative_luminance(region)
    assert float(contrast_ratio(lum.max(), lum.min())) >= headline["contrast_required"]


def test_scrim_for_dark_text_is_white(acme: Kit) -> None:
    kit = with_layout(acme, plate_colour=None, text_colour="acme-navy")
    headline = placement(compose(Image.new("RGB", (512, 512), (40, 40, 60)), Brief(**BRIEF), kit), "headline")
    assert headline["plate"]["kind"] == "scrim" and headline["plate"]["colour"] == "#FFFFFF"
    assert headline["contrast_after"] >= headline["contrast_required"]


def test_logo_is_placed_at_least_at_minimum_size_with_clear_space(acme: Kit) -> None:
    background = Image.new("RGB", (256, 256), (30, 30, 30))
    brief = Brief(**{**BRIEF, "size": (256, 256), "headline": "Deals", "disclaimer": None})
    composition = compose(background, brief, acme)
    logo = placement(composition, "logo")
    spec = acme.spec.logos["primary"]
    assert logo["width_px"] == spec.min_width_px > round(0.26 * 256)  # the template's 26 % would be too small
    left, top, right, bottom = logo["clear_zone"]
    assert left >= 0 and top >= 0 and right <= 256 and bottom <= 256
    assert logo["clear_space_px"] >= spec.clear_space * spec.min_width_px
    x0, y0, x1, y1 = logo["box"]
    placed = np.asarray(composition.image.crop((x0, y0, x1, y1))).astype(int)
    assert np.abs(placed - 30).max() > 100  # logo pixels really are there
    with Image.open(acme.logo_path("primary")) as original:
        assert abs((x1 - x0) / (y1 - y0) - original.width / original.height) < 0.05


def test_canvas_too_small_for_the_logo_is_refused(acme: Kit) -> None:
    brief = Brief(**{**BRIEF, "size": (96, 96), "headline": None, "disclaimer": None})
    with pytest.raises(InvalidInput, match="cannot hold logo 'primary' at its minimum width 96px"):
        compose(Image.new("RGB", (96, 96)), brief, acme)


def test_text_boxed_into_the_logo_clear_space_moves_out_of_it(acme: Kit) -> None:
    kit = with_layout(acme, headline_box=(0.5, 0.8, 0.5, 0.2))
    composition = compose(noisy_background(), Brief(**BRIEF), kit)
    headline, logo = placement(composition, "headline"), placement(composition, "logo")
    assert headline["box_grown"]
    x0, y0, x1, y1 = headline["plate_box"] or headline["text_box"]
    zx0, zy0, zx1, zy1 = logo["clear_zone"]
    assert not (x0 < zx1 and zx0 < x1 and y0 < zy1 and zy0 < y1)


def test_headline_too_long_for_any_box_is_refused(acme: Kit) -> None:
    long = "Supercalifragilisticexpialidocious Everything Must Go"
    brief = Brief(**{**BRIEF, "headline": long, "size": (128, 128), "logo": None})
    with pytest.raises(InvalidInput) as caught:
        compose(noisy_background(128), brief, acme)
    assert "does not fit the headline box of layout 'default'" in str(caught.value)
    assert "minimum font size 14px" in str(caught.value)


@pytest.mark.parametrize("kit_name", ["acme", "nordwind"])
@pytest.mark.parametrize("side", [256, 384, 512, 1024, 2048])
def test_every_kit_composes_from_256_to_2048(kit_name: str, side: int) -> None:
    """Boxes grow to the minimum font size and the disclaimer wraps: text stays clear of the logo."""
    kit = load_kit(KITS / kit_name)
    brief = Brief(**{**BRIEF, "kit": kit_name, "size": (side, side)})
    composition = compose(Image.new("RGB", (side, side), (90, 120, 90)), brief, kit)
    logo = placement(composition, "logo")
    zx0, zy0, zx1, zy1 = logo["clear_zone"]
    texts = [placement(composition, e) for e in ("headline", "disclaimer")]
    for text in texts:
        x0, y0, x1, y1 = text["plate_box"] or text["text_box"]
        assert 0 <= x0 < x1 <= side and 0 <= y0 < y1 <= side
        assert not (x0 < zx1 and zx0 < x1 and y0 < zy1 and zy0 < y1), (text, logo)
        assert text["font_px"] >= kit.layout(None).min_font_px
    a, b = (t["plate_box"] or t["text_box"] for t in texts)
    assert not (a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3])


def test_a_glyph_the_font_lacks_is_refused_before_drawing(acme: Kit) -> None:
    brief = Brief(**{**BRIEF, "headline": "Fresh \u4e00 Deals"})
    with pytest.raises(InvalidInput, match=r"headline: DejaVuSans-Bold\.ttf has no glyph for U\+4E00"):
        compose(noisy_background(), brief, acme)


def test_missing_kit_font_is_refused(acme: Kit) -> None:
    fonts = {**acme.spec.fonts, "headline": FontSpec(file="NoSuchBrandSans.ttf", licence="x")}
    kit = acme.model_copy(update={"spec": acme.spec.model_copy(update={"fonts": fonts})})
    with pytest.raises(InvalidInput, match=r"font 'NoSuchBrandSans\.ttf' not found"):
        compose(noisy_background(), Brief(**BRIEF), kit)


def test_ingredients_name_background_logo_and_fonts_with_hashes(acme: Kit) -> None:
    background = noisy_background()
    composition = compose(background, Brief(**BRIEF), acme)
    by_role = {}
    for ingredient in composition.ingredients:
        by_role.setdefault(ingredient["role"], []).append(ingredient)
    assert by_role["background"][0]["pixels_sha256"] == hashlib.sha256(background.tobytes()).hexdigest()
    logo = by_role["logo"][0]
    assert logo["sha256"] == hashlib.sha256(Path(logo["path"]).read_bytes()).hexdigest()
    assert {f["font_role"] for f in by_role["font"]} == {"headline", "body"}
    for font in by_role["font"]:
        assert font["sha256"] == hashlib.sha256(Path(font["path"]).read_bytes()).hexdigest()


def test_kit_required_disclaimer_is_added(acme: Kit) -> None:
    nordwind = load_kit(KITS / "nordwind")
    brief = Brief(kit="nordwind", prompt="tent", headline="Into the Wild", size=(512, 512))
    composition = compose(noisy_background(), brief, nordwind)
    disclaimer = placement(composition, "disclaimer")
    assert disclaimer["text"] == "Prices in EUR incl. VAT."
    assert normalised(read_text(composition.image, disclaimer["plate_box"])) == normalised("Prices in EUR incl. VAT.")


def test_composition_is_on_by_default_and_off_on_request() -> None:
    assert Brief(**BRIEF).wants_composition
    assert not Brief(**{**BRIEF, "compose": False}).wants_composition
    assert not Brief(kit="acme", prompt="apples").wants_composition


def test_check_brief_fits_refuses_what_the_kit_cannot_serve(acme: Kit) -> None:
    with pytest.raises(InvalidInput, match="no logo variant 'holiday'"):
        check_brief_fits(Brief(kit="acme", prompt="x", logo="holiday"), acme)
    with pytest.raises(InvalidInput, match="kit 'nordwind'"):
        check_brief_fits(Brief(kit="nordwind", prompt="x"), acme)
    with pytest.raises(InvalidInput, match="no layout 'nope'"):
        check_brief_fits(Brief(kit="acme", prompt="x", layout="nope"), acme)
    with pytest.raises(InvalidInput, match="cannot hold logo 'primary'"):
        check_brief_fits(Brief(kit="acme", prompt="x", logo="primary", size=(64, 64)), acme)
    check_brief_fits(Brief(kit="acme", prompt="x", logo="primary"), acme)
    check_brief_fits(Brief(kit="acme", prompt="x", logo="primary", size=(64, 64)), acme, composing=False)
