"""Functional tests of the visual checks: exact status on failing and passing examples."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from benchmarks.evalset import iter_defect, kit
from policies.brief import Brief
from policies.checks import (
    bg201_logo_match,
    bg202_logo_size_clear_space,
    bg301_palette,
    bg303_imagery_colour,
    bg401_object_counts,
    bg502_nudity,
)
from policies.colour import delta_e_2000, srgb_to_lab
from policies.creative import Creative


def _first(defect: str | None, kit_name: str | None = None, small: bool = True):
    for item in iter_defect(defect, 40):
        if kit_name and item.kit_name != kit_name:
            continue
        if small and max(item.brief.size) > 768:
            continue
        return item
    raise AssertionError(f"no {defect} item")


def _run(module, item, options=None):
    return module.run(Creative(item.name, item.render()), item.brief, kit(item.kit_name), options or {})


# ------------------------------------------------------------------ colour science


def test_ciede2000_matches_sharma_reference_pairs():
    pairs = [
        ((50, 2.6772, -79.7751), (50, 0, -82.7485), 2.0425),
        ((50, 0, 0), (50, -1, 2), 2.3669),
        ((50, 2.5, 0), (73, 25, -18), 27.1492),
        ((60.2574, -34.0099, 36.2677), (60.4626, -34.1751, 39.4387), 1.2644),
        ((2.0776, 0.0795, -1.1350), (0.9033, -0.0636, -0.5514), 0.9082),
    ]
    got = delta_e_2000(np.array([p[0] for p in pairs]), np.array([p[1] for p in pairs]))
    np.testing.assert_allclose(got, [p[2] for p in pairs], atol=1e-4)
    np.testing.assert_allclose(srgb_to_lab([255, 255, 255]), [100, 0, 0], atol=1e-3)


# ------------------------------------------------------------------ BG201


@pytest.mark.parametrize("kit_name", ["acme", "nordwind"])
def test_bg201_passes_clean_logo(kit_name):
    outcome = _run(bg201_logo_match, _first(None, kit_name))
    assert outcome.status == "pass", outcome.message


def _logo_on_canvas(kit_name: str, width: int, angle: float, centre: tuple[int, int], stretch=(1.0, 1.0)):
    rgba = Image.open(kit(kit_name).logo_path("primary")).convert("RGBA")
    rgba = rgba.crop(rgba.getbbox())
    w = round(width * stretch[0])
    h = round(rgba.height * width / rgba.width * stretch[1])
    logo = rgba.resize((w, h), Image.LANCZOS).rotate(angle, expand=True, resample=Image.BICUBIC)
    canvas = Image.new("RGB", (512, 512), (252, 244, 227))
    canvas.paste(logo, (centre[0] - logo.width // 2, centre[1] - logo.height // 2), logo)
    return np.asarray(canvas)


@pytest.mark.parametrize(
    ("width", "angle", "centre"),
    [(80, 0, (120, 100)), (200, 12, (256, 300)), (360, -14, (256, 256)), (140, 5, (400, 430))],
)
def test_bg201_finds_logo_at_any_scale_rotation_position(width, angle, centre):
    rgb = _logo_on_canvas("acme", width, angle, centre)
    brief = Brief(kit="acme", prompt="x", logo="primary")
    outcome = bg201_logo_match.run(Creative("t", rgb), brief, kit("acme"), {})
    assert outcome.status == "pass", outcome.message
    assert abs(outcome.evidence["width_px"] - width) < 0.1 * width


def test_bg201_fails_stretched_logo_built_here():
    rgb = _logo_on_canvas("acme", 200, 0, (256, 256), stretch=(1.4, 1.0))
    brief = Brief(kit="acme", prompt="x", logo="primary")
    outcome = bg201_logo_match.run(Creative("t", rgb), brief, kit("acme"), {})
    assert outcome.status == "fail"
    assert "distorted" in outcome.message


@pytest.mark.parametrize(
    ("defect", "words"),
    [
        ("recoloured_logo", ("recoloured", "wrong logo variant")),
        ("logo_element_missing", ("incomplete",)),
        ("stretched_logo", ("distorted",)),
        ("wrong_logo_variant", ("wrong logo variant",)),
        ("no_logo", ("not found",)),
    ],
)
def test_bg201_fails_each_logo_defect(defect, words):
    outcome = _run(bg201_logo_match, _first(defect))
    assert outcome.status == "fail"
    assert any(w in outcome.message for w in words), outcome.message


def test_bg201_skips_without_logo_in_brief():
    item = _first(None)
    brief = item.brief.model_copy(update={"logo": None})
    outcome = bg201_logo_match.run(Creative("t", item.render()), brief, kit(item.kit_name), {})
    assert outcome.status == "skip"


# ------------------------------------------------------------------ BG202


def test_bg202_passes_clean_and_fails_tiny_logo():
    assert _run(bg202_logo_size_clear_space, _first(None)).status == "pass"
    tiny = _run(bg202_logo_size_clear_space, _first("tiny_logo"))
    assert tiny.status == "fail"
    assert "minimum" in tiny.message


def test_bg202_fails_when_something_is_drawn_in_clear_space():
    rgb = _logo_on_canvas("acme", 200, 0, (256, 256)).copy()
    # The logo is 200 px wide: clear space is 30 px. A navy block 12 px right of the logo.
    rgb[230:280, 370:390] = (29, 53, 87)
    brief = Brief(kit="acme", prompt="x", logo="primary")
    outcome = bg202_logo_size_clear_space.run(Creative("t", rgb), brief, kit("acme"), {})
    assert outcome.status == "fail", outcome.message
    assert "clear space" in outcome.message
    clean = _logo_on_canvas("acme", 200, 0, (256, 256))
    assert bg202_logo_size_clear_space.run(Creative("t", clean), brief, kit("acme"), {}).status == "pass"


# ------------------------------------------------------------------ BG301


def test_bg301_passes_clean_and_fails_off_palette():
    assert _run(bg301_palette, _first(None)).status == "pass"
    outcome = _run(bg301_palette, _first("off_palette"))
    assert outcome.status == "fail"
    assert outcome.evidence["off_palette"][0]["delta_e"] > 10


def test_bg301_exempts_photographic_scene():
    rng = np.random.default_rng(1)
    scene = np.clip(rng.normal((60, 140, 60), 12, (256, 256, 3)), 0, 255).astype(np.uint8)
    outcome = bg301_palette.run(Creative("t", scene), None, kit("acme"), {})
    assert outcome.status == "skip"


# ------------------------------------------------------------------ BG401


def test_bg401_classical_counts_flat_graphic():
    assert _run(bg401_object_counts, _first(None, small=True)).status == "pass"
    flat_wrong = next(i for i in iter_defect("wrong_count", 40) if i.kind in ("flat", "gradient"))
    wrong = _run(bg401_object_counts, flat_wrong)
    assert wrong.status == "fail"
    assert wrong.evidence["style"]["style"] == "flat"


def _sample_photo(name: str) -> np.ndarray:
    """A real photograph an installed package ships (scikit-image's bundled data, matplotlib's)."""
    if name == "grace_hopper":
        return _grace_hopper()
    import skimage.data

    return np.asarray(getattr(skimage.data, name)())


REAL_PHOTOS = ("astronaut", "chelsea", "coffee", "coins", "rocket", "grace_hopper")


@pytest.mark.parametrize("name", REAL_PHOTOS)
def test_bg401_real_photograph_without_detector_is_unverified_never_counted(name):
    rgb = _sample_photo(name)
    if rgb.ndim == 2:
        rgb = np.repeat(rgb[..., None], 3, axis=2)
    brief = Brief(kit="acme", prompt="two cats sleeping on a sofa", counts={"cat": 2})
    outcome = bg401_object_counts.run(Creative(name, rgb), brief, kit("acme"), {})
    assert outcome.status == "unverified"
    assert outcome.message.startswith("not checked: object counts (cat), a photograph")
    assert "counted" not in outcome.evidence
    assert outcome.evidence["style"]["style"] == "photo"


def test_bg401_declared_style_overrides_the_measure():
    flat = _first(None, small=True)
    creative = Creative("flat", flat.render())
    declared = flat.brief.model_copy(update={"style": "photo"})
    outcome = bg401_object_counts.run(creative, declared, kit(flat.kit_name), {})
    assert outcome.status == "unverified"
    assert "the brief says so" in outcome.message
    photo = Creative("hopper", _grace_hopper())
    as_flat = Brief(kit="acme", prompt="x", counts={"apple": 3}, style="flat")
    counted = bg401_object_counts.run(photo, as_flat, kit("acme"), {})
    assert counted.evidence["method"] == "classical"


def test_bg401_several_kinds_without_detector_are_unverified():
    brief = Brief(kit="acme", prompt="x", counts={"apple": 2, "pear": 1})
    outcome = bg401_object_counts.run(Creative("t", _first(None, small=True).render()), brief, kit("acme"), {})
    assert outcome.status == "unverified"
    assert "apple, pear" in outcome.message


def _tiny_owlvit(folder: Path) -> None:
    """A randomly initialised OWL-ViT with a character tokenizer, saved like a real checkpoint."""
    from transformers import (
        CLIPTokenizer,
        OwlViTConfig,
        OwlViTForObjectDetection,
        OwlViTImageProcessor,
        OwlViTProcessor,
    )

    letters = "abcdefghijklmnopqrstuvwxyz"
    vocab = {"<|startoftext|>": 0, "<|endoftext|>": 1}
    for ch in letters:
        vocab[ch] = len(vocab)
        vocab[ch + "</w>"] = len(vocab)
    (folder / "vocab.json").write_text(json.dumps(vocab))
    (folder / "merges.txt").write_text("#version: 0.2\n")
    tokenizer = CLIPTokenizer(str(folder / "vocab.json"), str(folder / "merges.txt"))
    image_processor = OwlViTImageProcessor(size={"height": 32, "width": 32}, crop_size={"height": 32, "width": 32})
    processor = OwlViTProcessor(image_processor=image_processor, tokenizer=tokenizer)
    config = OwlViTConfig(
        text_config={
            "vocab_size": len(vocab),
            "hidden_size": 16,
            "intermediate_size": 32,
            "num_hidden_layers": 1,
            "num_attention_heads": 2,
            "max_position_embeddings": 32,
        },
        vision_config={
            "hidden_size": 16,
            "intermediate_size": 32,
            "num_hidden_layers": 1,
            "num_attention_heads": 2,
            "image_size": 32,
            "patch_size": 8,
        },
        projection_dim=16,
    )
    OwlViTForObjectDetection(config).save_pretrained(folder)
    processor.save_pretrained(folder)


@pytest.mark.parametrize(("wanted", "status"), [(0, "pass"), (2, "fail")])
def test_bg401_uses_local_detector_folder(tmp_path, wanted, status):
    _tiny_owlvit(tmp_path)
    rgb = np.full((64, 64, 3), 200, np.uint8)
    brief = Brief(kit="acme", prompt="x", counts={"apple": wanted})
    # A threshold above any score: the random detector finds nothing, so 0 apples are counted.
    outcome = bg401_object_counts.run(
        Creative("t", rgb), brief, kit("acme"), {"detector": str(tmp_path), "detector_threshold": 1.01}
    )
    assert outcome.status == status
    assert outcome.evidence["method"] == "detector"
    assert outcome.evidence["counted"] == {"apple": 0}


# ------------------------------------------------------------------ BG502


def _grace_hopper() -> np.ndarray:
    from matplotlib import cbook

    path = cbook.get_sample_data("grace_hopper.jpg", asfileobj=False)
    return np.asarray(Image.open(path).convert("RGB"))


def test_bg502_passes_portrait_and_fails_when_its_labels_are_explicit():
    creative = Creative("hopper", _grace_hopper())
    passed = bg502_nudity.run(creative, None, kit("acme"), {})
    assert passed.status == "pass"
    assert any(d["label"] == "FACE_FEMALE" for d in passed.evidence["detections"])
    # The decision path with the real model: a policy that counts faces as explicit fails it.
    failed = bg502_nudity.run(creative, None, kit("acme"), {"labels": ["FACE_FEMALE"], "threshold": 0.5})
    assert failed.status == "fail"
    assert "FACE_FEMALE" in failed.message


def _photo_creative(name: str, kit_name: str = "acme") -> tuple[Brief, object]:
    """A real photograph (scikit-image's) composed by pipeline.compose: pixels and placement record."""
    import skimage.data

    from pipeline.compose import compose

    photo = Image.fromarray(getattr(skimage.data, name)()).convert("RGB").resize((512, 512))
    brief = Brief(kit=kit_name, prompt="a photograph", headline="Fresh Deals Friday", logo="primary", size=(512, 512))
    return brief, compose(photo, brief, kit(kit_name))


@pytest.mark.parametrize("name", ["chelsea", "coffee", "astronaut"])
def test_bg301_judges_what_was_placed_on_a_photograph_not_the_photograph(name: str) -> None:
    brief, composition = _photo_creative(name)
    creative = Creative(name, np.asarray(composition.image), placements=tuple(composition.placements))
    outcome = bg301_palette.run(creative, brief, kit("acme"), {})
    assert outcome.status == "pass", outcome.message
    judged = outcome.evidence["judged"]
    assert judged["style"] == "photo" and judged["style_from"].startswith("measured")
    assert (
        "inside what brandgate placed" in judged["area"] and "photograph's own colours are not judged" in judged["area"]
    )


def test_bg301_fails_an_off_palette_plate_placed_on_a_photograph() -> None:
    brief, composition = _photo_creative("chelsea")
    rgb = np.asarray(composition.image).copy()
    left, top, right, bottom = next(p for p in composition.placements if p["element"] == "headline")["box"]
    rgb[top:bottom, left:right] = (127, 209, 43)  # #7FD12B: far from every acme colour
    placements = [{**p, "plate_box": [left, top, right, bottom]} if p["element"] == "headline" else p
                  for p in composition.placements]  # fmt: skip
    outcome = bg301_palette.run(Creative("t", rgb, placements=tuple(placements)), brief, kit("acme"), {})
    assert outcome.status == "fail" and outcome.evidence["off_palette"][0]["delta_e"] > 10


def test_bg301_fails_placed_text_in_a_colour_off_the_palette() -> None:
    brief, composition = _photo_creative("coffee")
    placements = [{**p, "text_colour": "#7FD12B"} if p["element"] == "headline" else p for p in composition.placements]
    outcome = bg301_palette.run(
        Creative("t", np.asarray(composition.image), placements=tuple(placements)), brief, kit("acme"), {}
    )
    assert outcome.status == "fail" and "placed text is drawn in #7FD12B" in outcome.message


def test_bg301_on_declared_flat_art_judges_every_flat_pixel() -> None:
    item = _first("off_palette")
    brief = item.brief.model_copy(update={"style": "flat"})
    outcome = bg301_palette.run(Creative(item.name, item.render()), brief, kit(item.kit_name), {})
    assert outcome.status == "fail" and outcome.evidence["judged"]["style_from"] == "brief"
    assert outcome.evidence["judged"]["area"].startswith("every flat pixel")


# ------------------------------------------------------------------ BG303 (opt-in)


def _with_imagery(kit_name: str, **ranges: list[float]):
    from policies.kit import ImageryRanges

    base = kit(kit_name)
    return base.model_copy(update={"spec": base.spec.model_copy(update={"imagery": ImageryRanges(**ranges)})})


def test_bg303_is_off_until_a_kit_sets_imagery_ranges() -> None:
    brief, composition = _photo_creative("coffee")
    creative = Creative("t", np.asarray(composition.image), placements=tuple(composition.placements))
    assert bg303_imagery_colour.run(creative, brief, kit("acme"), {}).status == "skip"


def test_bg303_measures_the_photograph_without_what_was_placed() -> None:
    brief, composition = _photo_creative("coffee")
    creative = Creative("t", np.asarray(composition.image), placements=tuple(composition.placements))
    warm = bg303_imagery_colour.run(creative, brief, _with_imagery("acme", warmth=[0, 60], brightness=[20, 95]), {})
    assert warm.status == "pass", warm.message
    measured = warm.evidence["measured"]
    cool = bg303_imagery_colour.run(creative, brief, _with_imagery("acme", warmth=[-40, measured["warmth"] - 5]), {})
    assert cool.status == "fail" and f"warmth {measured['warmth']:.1f} outside" in cool.message
    flat = brief.model_copy(update={"style": "flat"})
    assert bg303_imagery_colour.run(creative, flat, _with_imagery("acme", warmth=[0, 1]), {}).status == "skip"


def test_a_backwards_imagery_range_is_refused() -> None:
    from pydantic import ValidationError

    from policies.kit import ImageryRanges

    with pytest.raises(ValidationError, match="runs backwards"):
        ImageryRanges(saturation=(40, 5))


# ------------------------------------------------------------------ BG202 on a photograph


def test_bg202_on_a_photograph_judges_placed_elements_in_the_clear_space_not_the_photograph() -> None:
    from policies.checks import bg202_logo_size_clear_space

    brief, composition = _photo_creative("chelsea", "nordwind")
    brief = brief.model_copy(update={"logo": "primary"})
    rgb = np.asarray(composition.image)
    clean = bg202_logo_size_clear_space.run(
        Creative("t", rgb, placements=tuple(composition.placements)), brief, kit("nordwind"), {}
    )
    assert clean.status == "pass", clean.message
    assert clean.evidence["band"].endswith(": the placed elements judged")
    logo = next(p for p in composition.placements if p["element"] == "logo")
    left, top, right, _ = logo["clear_zone"]
    crowding = [
        *composition.placements,
        {"element": "sticker", "text_box": [left, top, right, logo["box"][1]]},  # across the top of the band
    ]
    crowded = bg202_logo_size_clear_space.run(
        Creative("t", rgb, placements=tuple(crowding)), brief, kit("nordwind"), {}
    )
    assert crowded.status == "fail" and "a placed element is inside the logo's clear space" in crowded.message
