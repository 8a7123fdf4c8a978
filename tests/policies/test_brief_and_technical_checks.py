"""Functional tests of BG501 (prompt screening), BG601 (blank image) and BG602 (size and format)."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageFont

from policies.brief import Brief
from policies.checks import bg501_prompt_screening, bg601_blank_image, bg602_size_format
from policies.creative import Creative, load_creative_bytes
from policies.kit import Kit, load_kit

KITS = Path(__file__).resolve().parents[2] / "brand_kits"


@pytest.fixture(scope="module")
def acme() -> Kit:
    return load_kit(KITS / "acme")


def brief(**fields: Any) -> Brief:
    base: dict[str, Any] = {"kit": "acme", "prompt": "five red apples on a wooden table"}
    base.update(fields)
    return Brief.model_validate(base)


# ---- BG501 ----


@pytest.mark.parametrize(
    "prompt",
    [
        "a bowl of grapes and grapefruit on a table",
        "drape of linen over a crate of apples",  # "rape" inside words
        "therapist's office with plants",  # "rapist" inside a word
        "hikers in Gore-Tex jackets, torture-tested boots",
        "a nudibranch in a reef tank",
    ],
)
def test_bg501_passes_innocent_prompts(prompt: str, acme: Kit) -> None:
    outcome = bg501_prompt_screening.screen(brief(prompt=prompt), acme, {})
    assert outcome.status == "pass", outcome.message


@pytest.mark.parametrize(
    ("prompt", "term"),
    [
        ("a NUDE model holding apples", "nude"),
        ("rape scene", "rape"),
        ("two swastikas painted on a wall", "swastika"),
        ("a table of cocaine", "cocaine"),
        ("white  power rally", "white power"),
    ],
)
def test_bg501_rejects_unsafe_terms_naming_them(prompt: str, term: str, acme: Kit) -> None:
    outcome = bg501_prompt_screening.screen(brief(prompt=prompt), acme, {})
    assert outcome.status == "fail"
    assert repr(term) in outcome.message
    assert outcome.evidence["found"][0]["field"] == "prompt"


def test_bg501_screens_kit_banned_words_in_headline(acme: Kit) -> None:
    outcome = bg501_prompt_screening.screen(brief(headline="The cheapest apples, FREE MONEY!"), acme, {})
    assert outcome.status == "fail"
    found = {(h["term"], h["field"], h["source"]) for h in outcome.evidence["found"]}
    assert found == {("cheapest", "headline", "kit banned word"), ("free money", "headline", "kit banned word")}


def test_bg501_ignores_the_negative_prompt(acme: Kit) -> None:
    outcome = bg501_prompt_screening.screen(brief(negative_prompt="nude, nsfw, gory"), acme, {})
    assert outcome.status == "pass"


def test_bg501_options_add_and_allow_terms(acme: Kit) -> None:
    allowed = bg501_prompt_screening.screen(brief(prompt="a nude lipstick"), acme, {"allow_terms": ["nude"]})
    assert allowed.status == "pass"
    rival = {"extra_terms": ["rivalco"]}
    outcome = bg501_prompt_screening.screen(brief(prompt="apples by Rivalco"), acme, rival)
    assert outcome.status == "fail" and "'rivalco'" in outcome.message
    with pytest.raises(ValueError, match="extra_terms"):
        bg501_prompt_screening.screen(brief(), acme, {"extra_terms": "rivalco"})


# ---- BG601 ----


def creative_of(array: np.ndarray, fmt: str | None = "png") -> Creative:
    return Creative(name="t.png", rgb=np.ascontiguousarray(array.astype(np.uint8)), source_format=fmt)


@pytest.mark.parametrize(
    ("pixels", "kind"),
    [
        (np.zeros((256, 256, 3)), "black"),
        (np.full((256, 256, 3), 255), "blank"),
        (np.full((256, 256, 3), (120, 130, 90)), "single-colour"),
    ],
)
def test_bg601_fails_blank_black_and_single_colour(pixels: np.ndarray, kind: str, acme: Kit) -> None:
    outcome = bg601_blank_image.run(creative_of(pixels), None, acme, {})
    assert outcome.status == "fail"
    assert f"image is {kind}" in outcome.message


def test_bg601_fails_black_with_sensor_noise(acme: Kit) -> None:
    noisy = np.random.default_rng(3).integers(0, 6, (300, 300, 3))
    assert bg601_blank_image.run(creative_of(noisy), None, acme, {}).status == "fail"


def test_bg601_passes_images_with_content(acme: Kit) -> None:
    gradient = np.tile(np.linspace(0, 255, 256)[None, :, None], (256, 1, 3))
    assert bg601_blank_image.run(creative_of(gradient), None, acme, {}).status == "pass"
    image = Image.new("RGB", (512, 512), (252, 244, 227))
    ImageDraw.Draw(image).text(
        (30, 200),
        "Fresh Deals",
        font=ImageFont.truetype("/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf", 90),
        fill=(214, 40, 40),
    )
    assert bg601_blank_image.run(Creative.from_pil(image), None, acme, {}).status == "pass"


def test_bg601_threshold_option(acme: Kit) -> None:
    mostly_black = np.zeros((200, 200, 3))
    mostly_black[:, :20] = 255  # 10% white
    assert bg601_blank_image.run(creative_of(mostly_black), None, acme, {}).status == "pass"
    assert bg601_blank_image.run(creative_of(mostly_black), None, acme, {"max_single_colour": 0.85}).status == "fail"


# ---- BG602 ----


def test_bg602_passes_matching_size_and_format(acme: Kit) -> None:
    outcome = bg602_size_format.run(creative_of(np.zeros((512, 512, 3))), brief(size=(512, 512)), acme, {})
    assert outcome.status == "pass"


def test_bg602_fails_size_and_format_from_the_file(acme: Kit) -> None:
    out = io.BytesIO()
    Image.new("RGB", (640, 480), (9, 9, 9)).save(out, "JPEG")
    jpeg = load_creative_bytes(out.getvalue(), "named-like-a.png")
    outcome = bg602_size_format.run(jpeg, brief(size=(512, 512), format="png"), acme, {})
    assert outcome.status == "fail"
    assert "640×480" in outcome.message and "512×512" in outcome.message
    assert "format is jpeg" in outcome.message
    same_size = brief(size=(640, 480), format="png")
    assert bg602_size_format.run(jpeg, same_size, acme, {"check_format": False}).status == "pass"
    assert bg602_size_format.run(jpeg, same_size.model_copy(update={"format": "jpeg"}), acme, {}).status == "pass"


def test_bg602_skips_without_brief(acme: Kit) -> None:
    assert bg602_size_format.run(creative_of(np.zeros((64, 64, 3))), None, acme, {}).status == "skip"
