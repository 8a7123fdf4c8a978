"""Our labelled evaluation sets: creatives composed from the shipped kits, clean or with one defect.

    from benchmarks.evalset import HELD_OUT, eval_items
    for item in eval_items(384, seed=HELD_OUT.seeds[0]):
        rgb = item.render()          # H×W×3 uint8, the same pixels every time for (seed, index)
        item.brief, item.expected    # the brief it was made for; the check ID that must fail, or None

Every item is a pure function of (seed, index): re-running gives byte-identical images.
A defect changes exactly one thing against the clean recipe; sizes run from 512 to 1024;
headline positions, logo scale (0.5–3× the kit minimum), rotation (±12°) and place vary.

Two sets, told apart by the seed, drawn from different seeds, backgrounds and fonts, so that a
figure reported on one was not tuned on it (`TUNING`, `HELD_OUT`; `set_of(seed)`):

- the tuning set (seeds 0–99; the checks' thresholds were set on seeds 0–4): flat, gradient,
  noise and photo-like texture backgrounds; headlines in DejaVu Sans/Serif Bold, Liberation
  Sans/Serif Bold or the kit's headline face; the reviewer's items on matplotlib's and
  scikit-image's sample photographs (coffee, chelsea, grass, brick, gravel), flat and gradient;
- the held-out set (seeds 100–199): radial, two-tone, bokeh-like texture (other scene tones) and
  real photographs (tests/fixtures/photos) backgrounds; headlines in DejaVu Sans/Serif Condensed
  Bold, DejaVu Serif, Liberation Sans Narrow Bold, Liberation Serif Regular or the kit's body
  face; the reviewer's items on those photographs, radial and two-tone backgrounds.

The disclaimer is set in the kit's body face in both, as the kit prescribes.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import cv2
import numpy as np
from numpy.typing import NDArray
from PIL import Image, ImageDraw, ImageFont

from policies.brief import Brief
from policies.colour import delta_e_2000, hex_to_rgb, srgb_to_lab
from policies.kit import Kit, load_kit, resolve_font

ROOT = Path(__file__).resolve().parent.parent
KIT_NAMES = ("acme", "nordwind")
KINDS = ("flat", "gradient", "noise", "photo")  # the tuning set's backgrounds
HELD_OUT_KINDS = ("radial", "duotone", "bokeh", "photograph")
# Backgrounds with detail under the text and logo: a designer puts both on plates there.
BUSY_KINDS = frozenset({"noise", "photo", "bokeh", "photograph"})
# Defect name → the check that must fail on it.
DEFECTS: dict[str, str] = {
    "misspelt_headline": "BG101",
    "missing_word": "BG101",
    "missing_disclaimer": "BG102",
    "banned_word": "BG103",
    "extra_text": "BG104",
    "recoloured_logo": "BG201",
    "logo_element_missing": "BG201",
    "stretched_logo": "BG201",
    "wrong_logo_variant": "BG201",
    "no_logo": "BG201",
    "tiny_logo": "BG202",
    "wrong_count": "BG401",
    "low_contrast_headline": "BG302",
    "black_image": "BG601",
    "off_palette": "BG301",
}
CLEAN_PER_BLOCK = 9  # of every 24 items, 9 are clean and 15 carry one defect each
SIZES = ((512, 512), (640, 640), (768, 768), (896, 896), (1024, 1024), (1024, 768), (768, 1024))
HEADLINES = (
    "Fresh Deals Friday",
    "Summer Harvest Sale",
    "Weekend Market Picks",
    "Bright Autumn Savings",
    "Taste The Season",
    "New Trail Collection",
    "Winter Gear Week",
    "Ready For The Peaks",
)
DISCLAIMERS = ("Offer ends Sunday.", "While stocks last.", "Selected stores only.")
EXTRA_LINES = ("Limited stock today", "Visit us online now", "Join our club")
FONTS = (  # the tuning set's installed headline faces
    "DejaVuSans-Bold.ttf",
    "LiberationSans-Bold.ttf",
    "LiberationSerif-Bold.ttf",
    "DejaVuSerif-Bold.ttf",
)
HELD_OUT_FONTS = (
    "DejaVuSansCondensed-Bold.ttf",
    "DejaVuSerifCondensed-Bold.ttf",
    "DejaVuSerif.ttf",
    "LiberationSansNarrow-Bold.ttf",
    "LiberationSerif-Regular.ttf",
)
# Colours no kit uses; the generator checks they are far from each kit's palette before use.
OFF_PALETTE = (
    "#7FD12B",
    "#7B2CBF",
    "#2A9D8F",
    "#FF4FA3",
    "#8B5A2B",
    "#00B4D8",
    "#9ACD32",
    "#B5179E",
)
# Scene colours for photo-like texture: not a palette, the way a generated photograph is not.
SCENE_TONES = (
    ((120, 80, 45), (170, 120, 70), (90, 60, 35)),  # wooden table
    ((60, 110, 50), (120, 160, 80), (30, 60, 30)),  # foliage
    ((150, 170, 190), (200, 210, 220), (90, 100, 120)),  # overcast sky and rock
    ((200, 170, 140), (230, 210, 180), (140, 110, 90)),  # kitchen stone
)
HELD_OUT_SCENE_TONES = (
    ((70, 130, 160), (220, 200, 160), (40, 80, 110)),  # sea and sand
    ((180, 90, 60), (230, 200, 170), (120, 60, 40)),  # terracotta and plaster
    ((40, 40, 70), (200, 150, 90), (20, 20, 35)),  # evening street lights
    ((150, 170, 140), (210, 215, 200), (90, 110, 80)),  # meadow in fog
)
OBJECT_NAMES = {"acme": "orange", "nordwind": "buoy"}
OBJECT_COLOURS = {"acme": "acme-orange", "nordwind": "nord-gold"}


@dataclass(frozen=True)
class EvalSet:
    """What one evaluation set draws from. The tuning and held-out sets share no seed, background
    or font (tests/test_evaluation_sets.py), so a figure on the held-out set was not tuned on it."""

    name: str
    seeds: range
    kinds: tuple[str, ...]  # the eval items' backgrounds
    fonts: tuple[str, ...]  # installed faces for the headline...
    kit_face: str  # ...and this one of the kit's fonts ("headline" or "body")
    photographs: tuple[str, ...]  # the reviewer's items' photographs, by file name...
    drawn: tuple[str, ...]  # ...and drawn backgrounds
    sans_faces: tuple[str, ...]  # the reviewer's items' headline faces
    serif_faces: tuple[str, ...]
    tuned: str  # what was tuned on it, in words

    def headline_faces(self, kit_name: str) -> frozenset[str]:
        """Every face a headline of this set may be drawn in, for `kit_name`."""
        own = kit(kit_name).spec.fonts[self.kit_face].file
        return frozenset({*self.fonts, *self.sans_faces, *self.serif_faces, own})


# Photographs a designer might put text on, without lettering of their own (matplotlib's
# grace_hopper.jpg has a name tag, scikit-image's astronaut a flag), by file name.
PHOTO_FILES = ("coffee.png", "chelsea.png", "grass.png", "brick.png", "gravel.png")
# Photographs of people from tests/fixtures/photos (SOURCES.md): no check's text, logo or palette
# threshold was set on them. BG401's people counts and BG402's wrist search were written while
# looking at them, so those two checks' figures on them are not held out.
HELD_OUT_PHOTO_FILES = (
    "business-person.jpg",
    "couple-and-dog.jpg",
    "pasta.jpg",
    "riders.jpg",
    "sitting.jpg",
    "thumb-up.jpg",
    "two-children.jpg",
    "two-thumbs-up.jpg",
)
SANS_FACES = ("DejaVuSans-Bold.ttf", "LiberationSans-Bold.ttf")
SERIF_FACES = ("LiberationSerif-Bold.ttf", "DejaVuSerif-Bold.ttf")
HELD_OUT_SANS_FACES = ("DejaVuSansCondensed-Bold.ttf", "LiberationSansNarrow-Bold.ttf")
HELD_OUT_SERIF_FACES = ("DejaVuSerifCondensed-Bold.ttf", "LiberationSerif-Regular.ttf")

TUNING = EvalSet(
    name="tuning",
    seeds=range(0, 100),
    kinds=KINDS,
    fonts=FONTS,
    kit_face="headline",
    photographs=PHOTO_FILES,
    drawn=("flat", "gradient"),
    sans_faces=SANS_FACES,
    serif_faces=SERIF_FACES,
    tuned="the checks' thresholds were set on its seeds 0–4",
)
HELD_OUT = EvalSet(
    name="held-out",
    seeds=range(100, 200),
    kinds=HELD_OUT_KINDS,
    fonts=HELD_OUT_FONTS,
    kit_face="body",
    photographs=HELD_OUT_PHOTO_FILES,
    drawn=("radial", "duotone"),
    sans_faces=HELD_OUT_SANS_FACES,
    serif_faces=HELD_OUT_SERIF_FACES,
    tuned="no threshold was set on it",
)
SETS = {s.name: s for s in (TUNING, HELD_OUT)}


def set_of(seed: int) -> EvalSet:
    """The set a seed belongs to; a seed of neither is refused."""
    for candidate in SETS.values():
        if seed in candidate.seeds:
            return candidate
    raise ValueError(f"seed {seed} belongs to no evaluation set: tuning seeds are 0–99, held-out seeds 100–199")


@dataclass(frozen=True)
class EvalItem:
    """One labelled creative: how to draw it, the brief it answers, and the check that must fail."""

    index: int
    seed: int
    kit_name: str
    kind: str
    defect: str | None
    brief: Brief
    plan: dict[str, Any] = field(repr=False, compare=False)

    @property
    def expected(self) -> str | None:
        return DEFECTS[self.defect] if self.defect else None

    @property
    def name(self) -> str:
        return f"{self.index:04d}-{self.kit_name}-{self.kind}-{self.defect or 'clean'}.png"

    def render(self) -> NDArray[np.uint8]:
        return _render(self)


@lru_cache(maxsize=4)
def kit(name: str) -> Kit:
    return load_kit(ROOT / "brand_kits" / name)


def eval_items(n: int = 384, seed: int = 0) -> list[EvalItem]:
    """The first `n` items of the set for `seed`; a prefix of a longer set is the same items."""
    return [make_item(i, seed) for i in range(n)]


def iter_defect(defect: str | None, n: int, seed: int = 0) -> Iterator[EvalItem]:
    """Items of one defect (None: clean), cycling kits and backgrounds, for tests."""
    index = 0
    made = 0
    while made < n:
        item = make_item(index, seed)
        if item.defect == defect:
            made += 1
            yield item
        index += 1


def make_item(index: int, seed: int = 0) -> EvalItem:
    spec = set_of(seed)
    rng = np.random.default_rng([seed, index])
    slot = index % 24
    defect = None if slot < CLEAN_PER_BLOCK else list(DEFECTS)[slot - CLEAN_PER_BLOCK]
    kind = spec.kinds[(index // 24 + index // 2) % len(spec.kinds)]
    kit_name = KIT_NAMES[(index + index // 24) % 2]
    k = kit(kit_name)
    size = SIZES[int(rng.integers(len(SIZES)))]
    headline = HEADLINES[int(rng.integers(len(HEADLINES)))]
    variant = "mono" if rng.random() < 0.25 else "primary"
    count = int(rng.integers(2, 7))
    disclaimer = DISCLAIMERS[int(rng.integers(len(DISCLAIMERS)))] if kit_name == "acme" else None
    brief = Brief(
        kit=kit_name,
        prompt=f"{count} {OBJECT_NAMES[kit_name]}s, flat illustration, {kind} background",
        headline=headline,
        disclaimer=disclaimer,
        counts={OBJECT_NAMES[kit_name]: count},
        logo=variant,
        size=size,
    )
    plan: dict[str, Any] = {
        "rng_seed": int(rng.integers(2**31)),
        "font": spec.fonts[int(rng.integers(len(spec.fonts)))]
        if rng.random() < 0.5
        else k.spec.fonts[spec.kit_face].file,
    }
    if kind == "photograph":
        plan["photograph"] = spec.photographs[int(rng.integers(len(spec.photographs)))]
    return EvalItem(index, seed, kit_name, kind, defect, brief, plan)


# ---------------------------------------------------------------- drawing


def _render(item: EvalItem) -> NDArray[np.uint8]:
    rng = np.random.default_rng(item.plan["rng_seed"])
    k = kit(item.kit_name)
    w, h = item.brief.size
    if item.defect == "black_image":
        noise = rng.integers(0, 4, size=(h, w, 1))
        return np.repeat(noise, 3, axis=2).astype(np.uint8)

    off = _off_palette_colours(item.kit_name)
    off_colour = off[int(rng.integers(len(off)))]
    background = _background(
        item.kind, k, w, h, rng, off_colour if item.defect == "off_palette" else None, item.plan.get("photograph")
    )
    canvas = Image.fromarray(background, "RGB")
    draw = ImageDraw.Draw(canvas)
    taken: list[tuple[int, int, int, int]] = []

    # Headline band: near the top or in the lower third.
    headline = item.brief.headline or ""
    drawn_headline = _alter_headline(headline, item.defect, rng)
    top = rng.random() < 0.5
    font_path = resolve_font(k.root, item.plan["font"])
    band_y = int(h * (0.05 if top else 0.64))
    plate_needed = item.kind in BUSY_KINDS or rng.random() < 0.5
    plate_colour, text_colour, plate_needed = _headline_colours(k, background, band_y, h, rng, plate_needed)
    if item.defect == "off_palette" and item.kind in BUSY_KINDS:
        plate_needed, plate_colour = True, off_colour
    if item.defect == "low_contrast_headline":
        plate_needed = True
        text_colour = _low_contrast_partner(plate_colour, rng)
    font, text_w, text_h = _fit_text(drawn_headline, font_path, int(w * 0.8), int(h * 0.09))
    x = int(rng.integers(int(w * 0.06), max(int(w * 0.06) + 1, w - text_w - int(w * 0.06))))
    pad = max(10, text_h // 3)
    box = (x - pad, band_y, x + text_w + pad, band_y + text_h + 2 * pad)
    if item.defect == "off_palette" and item.kind in BUSY_KINDS:
        box = (int(w * 0.04), band_y, int(w * 0.96), band_y + max(text_h + 2 * pad, int(h * 0.16)))
    if plate_needed:
        draw.rectangle(box, fill=plate_colour)
    _draw_text(draw, (x, band_y + pad), drawn_headline, font, text_colour)
    taken.append(box)

    # Disclaimer: bottom left, small, on its own plate.
    disclaimer = item.brief.disclaimer or (k.spec.required_disclaimers[0] if k.spec.required_disclaimers else None)
    small_path = k.font_path("body")
    small_size = max(16, int(h * 0.03))
    if disclaimer:
        small = ImageFont.truetype(str(small_path), small_size)
        dx0, dy0, dx1, dy1 = draw.textbbox((0, 0), disclaimer, font=small)
        dx, dy = int(w * 0.05), int(h * 0.93) - (dy1 - dy0)
        dbox = (dx - 8, dy - 8 + dy0, dx + dx1 - dx0 + 8, dy + dy1 + 8)
        if item.defect != "missing_disclaimer":
            draw.rectangle(dbox, fill=k.colour(_dark_name(k)))
            _draw_text(draw, (dx - dx0, dy), disclaimer, small, k.colour(_light_name(k)))
        taken.append(dbox)

    extra = None
    if item.defect == "banned_word":
        extra = k.spec.banned_words[int(rng.integers(len(k.spec.banned_words)))].capitalize() + " quality"
    elif item.defect == "extra_text":
        extra = EXTRA_LINES[int(rng.integers(len(EXTRA_LINES)))]
    if extra:
        efont = ImageFont.truetype(str(small_path), max(22, int(h * 0.045)))
        ex0, ey0, ex1, ey1 = draw.textbbox((0, 0), extra, font=efont)
        spot = _free_spot(ex1 - ex0 + 20, ey1 - ey0 + 20, w, h, taken, rng, margin=12)
        if spot is not None:
            sx, sy = spot
            draw.rectangle((sx, sy, sx + ex1 - ex0 + 20, sy + ey1 - ey0 + 20), fill=k.colour(_dark_name(k)))
            _draw_text(draw, (sx + 10 - ex0, sy + 10 - ey0), extra, efont, k.colour(_light_name(k)))
            taken.append((sx, sy, sx + ex1 - ex0 + 20, sy + ey1 - ey0 + 20))

    canvas_rgb = np.asarray(canvas).copy()
    canvas_rgb = _place_logo(canvas_rgb, item, k, rng, taken)
    canvas_rgb = _place_objects(canvas_rgb, item, k, rng, taken)
    return canvas_rgb


def _background(
    kind: str,
    k: Kit,
    w: int,
    h: int,
    rng: np.random.Generator,
    off_colour: tuple[int, int, int] | None,
    photograph: str | None = None,
) -> NDArray[np.uint8]:
    # Never the counted objects' own colour: they would vanish into it.
    palette = [k.colour(name) for name in k.spec.palette if name != OBJECT_COLOURS[k.name]]
    if kind in ("radial", "duotone", "bokeh", "photograph"):
        return _held_out_background(kind, palette, w, h, rng, off_colour, photograph)
    if kind == "flat":
        colour = off_colour or palette[int(rng.integers(len(palette)))]
        return np.full((h, w, 3), colour, np.uint8)
    if kind == "gradient":
        a, b = (palette[i] for i in rng.choice(len(palette), 2, replace=False))
        if off_colour is not None:
            a = off_colour
        angle = rng.uniform(0, 2 * math.pi)
        yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
        t = (xx / w - 0.5) * math.cos(angle) + (yy / h - 0.5) * math.sin(angle)
        t = (t - t.min()) / max(float(t.max() - t.min()), 1e-6)
        out = np.array(a, np.float32) * (1 - t[..., None]) + np.array(b, np.float32) * t[..., None]
        return out.round().astype(np.uint8)
    if kind == "noise":
        colour = np.array(palette[int(rng.integers(len(palette)))], np.float32)
        sigma = rng.uniform(8, 20)
        out = colour + rng.normal(0, sigma, (h, w, 3)).astype(np.float32)
        return np.clip(out, 0, 255).astype(np.uint8)
    # photo-like texture: low-frequency lumps at three scales, soft shapes, then sensor grain
    tones = SCENE_TONES[int(rng.integers(len(SCENE_TONES)))]
    field_ = np.zeros((h, w), np.float32)
    for cells, weight in ((4, 0.55), (16, 0.3), (64, 0.15)):
        small = rng.random((cells, cells)).astype(np.float32)
        field_ += weight * cv2.resize(small, (w, h), interpolation=cv2.INTER_CUBIC)
    field_ = (field_ - field_.min()) / max(float(field_.max() - field_.min()), 1e-6)
    base = np.array(tones[0], np.float32)
    light = np.array(tones[1], np.float32)
    out = base * (1 - field_[..., None]) + light * field_[..., None]
    for _ in range(int(rng.integers(3, 7))):
        mask = np.zeros((h, w), np.float32)
        centre = (int(rng.integers(w)), int(rng.integers(h)))
        axes = (int(rng.integers(w // 12, w // 4)), int(rng.integers(h // 12, h // 4)))
        cv2.ellipse(mask, centre, axes, float(rng.uniform(0, 180)), 0, 360, 1.0, -1)
        mask = cv2.GaussianBlur(mask, (0, 0), max(w, h) / 60)
        out = out * (1 - mask[..., None]) + np.array(tones[2], np.float32) * mask[..., None]
    out += rng.normal(0, 3.0, (h, w, 3)).astype(np.float32)
    return np.clip(out, 0, 255).astype(np.uint8)


def _held_out_background(
    kind: str,
    palette: list[tuple[int, int, int]],
    w: int,
    h: int,
    rng: np.random.Generator,
    off_colour: tuple[int, int, int] | None,
    photograph: str | None,
) -> NDArray[np.uint8]:
    """The held-out set's backgrounds, made differently from the tuning set's: a radial blend of
    two palette colours, two palette colours split along a straight line, blurred discs of light
    over other scene tones, and a real photograph."""
    if kind in ("radial", "duotone"):
        a, b = (np.array(palette[i], np.float32) for i in rng.choice(len(palette), 2, replace=False))
        if off_colour is not None:
            a = np.array(off_colour, np.float32)
        yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
        if kind == "radial":
            cx, cy = rng.uniform(0.2, 0.8) * w, rng.uniform(0.2, 0.8) * h
            t = np.hypot(xx - cx, yy - cy) / math.hypot(w, h) * rng.uniform(1.2, 2.0)
            t = np.clip(t, 0, 1)[..., None]
            return (a * (1 - t) + b * t).round().astype(np.uint8)
        angle = rng.uniform(0, 2 * math.pi)
        side = (xx / w - rng.uniform(0.3, 0.7)) * math.cos(angle) + (yy / h - rng.uniform(0.3, 0.7)) * math.sin(angle)
        return np.where((side < 0)[..., None], a, b).astype(np.uint8)
    if kind == "photograph":
        if photograph is None:
            raise ValueError("a photograph background needs the photograph's file name")
        return _photo(Path(photograph).stem, w, h, rng, HELD_OUT_PHOTO_FILES)
    # bokeh-like: a soft vertical blend of two scene tones, blurred discs of light, sensor grain
    tones = HELD_OUT_SCENE_TONES[int(rng.integers(len(HELD_OUT_SCENE_TONES)))]
    t = np.linspace(0, 1, h, dtype=np.float32)[:, None, None]
    out = np.array(tones[0], np.float32) * (1 - t) + np.array(tones[2], np.float32) * t
    out = np.repeat(out, w, axis=1)
    for _ in range(int(rng.integers(8, 16))):
        mask = np.zeros((h, w), np.float32)
        centre = (int(rng.integers(w)), int(rng.integers(h)))
        cv2.circle(mask, centre, int(rng.integers(min(w, h) // 30, min(w, h) // 8)), 1.0, -1)
        mask = cv2.GaussianBlur(mask, (0, 0), max(w, h) / 90) * float(rng.uniform(0.3, 0.8))
        out = out * (1 - mask[..., None]) + np.array(tones[1], np.float32) * mask[..., None]
    out += rng.normal(0, 2.5, (h, w, 3)).astype(np.float32)
    return np.clip(out, 0, 255).astype(np.uint8)


def _off_palette_colours(kit_name: str) -> list[tuple[int, int, int]]:
    k = kit(kit_name)
    pal = srgb_to_lab(np.array([k.colour(n) for n in k.spec.palette], np.float64))
    chosen = []
    for value in OFF_PALETTE:
        rgb = hex_to_rgb(value)
        if float(delta_e_2000(srgb_to_lab(np.array(rgb, np.float64)), pal).min()) > 25:
            chosen.append(rgb)
    return chosen


def _lightness(rgb: tuple[int, int, int]) -> float:
    return float(srgb_to_lab(np.array(rgb, np.float64))[0])


def _dark_name(k: Kit) -> str:
    return min(k.spec.palette, key=lambda n: _lightness(k.colour(n)))


def _light_name(k: Kit) -> str:
    return max(k.spec.palette, key=lambda n: _lightness(k.colour(n)))


# Clean creatives must be unambiguously legible: WCAG AA on a flat plate, and a margin on top of
# it where the text sits straight on a background whose shade varies under the letters.
PLATE_MIN_CONTRAST = 4.5
BARE_MIN_CONTRAST = 6.0


def _headline_colours(
    k: Kit,
    background: NDArray[np.uint8],
    band_y: int,
    h: int,
    rng: np.random.Generator,
    plate: bool,
) -> tuple[tuple[int, int, int], tuple[int, int, int], bool]:
    """Plate (or background) colour, a palette text colour with strong contrast, and whether a
    plate is drawn: where no palette colour reads well on the bare background, a plate is, as a
    designer would do."""
    colours = [k.colour(n) for n in k.spec.palette]

    def best_text(back: tuple[int, int, int]) -> tuple[int, int, int]:
        return max(colours, key=lambda c: _contrast(c, back))

    if not plate:
        band = background[band_y : band_y + int(h * 0.12)]
        lo = tuple(int(v) for v in np.percentile(band.reshape(-1, 3), 5, axis=0))
        hi = tuple(int(v) for v in np.percentile(band.reshape(-1, 3), 95, axis=0))
        mean = tuple(int(v) for v in band.reshape(-1, 3).mean(axis=0))
        text = best_text(mean)  # type: ignore[arg-type]
        if min(_contrast(text, lo), _contrast(text, hi)) >= BARE_MIN_CONTRAST:  # type: ignore[arg-type]
            return mean, text, False  # type: ignore[return-value]
    legible = [c for c in colours if _contrast(best_text(c), c) >= PLATE_MIN_CONTRAST]
    back = legible[int(rng.integers(len(legible)))]
    return back, best_text(back), True


def _luminance(rgb: tuple[int, int, int]) -> float:
    c = np.array(rgb, np.float64) / 255
    lin = np.where(c <= 0.04045, c / 12.92, ((c + 0.055) / 1.055) ** 2.4)
    return float(lin @ np.array([0.2126, 0.7152, 0.0722]))


def _contrast(a: tuple[int, int, int], b: tuple[int, int, int]) -> float:
    la, lb = sorted((_luminance(a), _luminance(b)), reverse=True)
    return (la + 0.05) / (lb + 0.05)


def _low_contrast_partner(colour: tuple[int, int, int], rng: np.random.Generator) -> tuple[int, int, int]:
    """A colour close to `colour` whose contrast ratio with it is between 1.3 and 2.2."""
    lighter = _luminance(colour) < 0.4
    for step in range(4, 120, 4):
        candidate = tuple(int(np.clip(v + (step if lighter else -step), 0, 255)) for v in colour)
        if _contrast(candidate, colour) >= 1.3 + rng.uniform(0, 0.9):  # type: ignore[arg-type]
            return candidate  # type: ignore[return-value]
    return tuple(int(np.clip(v + (60 if lighter else -60), 0, 255)) for v in colour)  # type: ignore[return-value]


def _alter_headline(headline: str, defect: str | None, rng: np.random.Generator) -> str:
    if defect == "misspelt_headline":
        letters = [i for i, ch in enumerate(headline) if ch.isalpha()]
        i = letters[int(rng.integers(1, len(letters)))]
        swaps = "aeiou" if headline[i].lower() in "aeiou" else "bcdfgklmnprst"
        choices = [c for c in swaps if c != headline[i].lower()]
        new = choices[int(rng.integers(len(choices)))]
        return headline[:i] + (new.upper() if headline[i].isupper() else new) + headline[i + 1 :]
    if defect == "missing_word":
        words = headline.split()
        del words[int(rng.integers(len(words)))]
        return " ".join(words)
    return headline


def _fit_text(text: str, font_path: Path, max_w: int, start: int) -> tuple[ImageFont.FreeTypeFont, int, int]:
    size = start
    while True:
        font = ImageFont.truetype(str(font_path), size)
        x0, _y0, x1, y1 = font.getbbox(text)
        if x1 - x0 <= max_w or size <= 14:
            return font, x1, y1
        size -= 2


def _draw_text(
    draw: ImageDraw.ImageDraw,
    xy: tuple[int, int],
    text: str,
    font: ImageFont.FreeTypeFont,
    fill: tuple[int, int, int],
) -> None:
    draw.text(xy, text, font=font, fill=fill)


def _free_spot(
    bw: int,
    bh: int,
    w: int,
    h: int,
    taken: list[tuple[int, int, int, int]],
    rng: np.random.Generator,
    margin: int,
) -> tuple[int, int] | None:
    if bw >= w or bh >= h:
        return None
    for _ in range(400):
        x = int(rng.integers(0, w - bw))
        y = int(rng.integers(0, h - bh))
        if all(
            x + bw + margin <= a or a2 + margin <= x or y + bh + margin <= b or b2 + margin <= y
            for a, b, a2, b2 in taken
        ):
            return x, y
    return None


# ---------------------------------------------------------------- logo


@lru_cache(maxsize=8)
def _logo_rgba(kit_name: str, variant: str) -> NDArray[np.uint8]:
    with Image.open(kit(kit_name).logo_path(variant)) as image:
        rgba = np.asarray(image.convert("RGBA"), np.uint8)
    ys, xs = np.nonzero(rgba[..., 3])
    return rgba[ys.min() : ys.max() + 1, xs.min() : xs.max() + 1].copy()


# Element shapes in the drawn logos' coordinates (brand_kits/draw_logos.py), minus the crop offset.
ELEMENTS = {
    "acme": (
        ("ellipse", (108, 28, 150, 52)),
        ("rect", (214, 160, 500, 172)),
        ("apple", (48, 28, 152, 166)),
    ),
    "nordwind": (
        ("ellipse", (120, 14, 176, 70)),
        ("rect", (228, 150, 700, 160)),
        ("rect", (10, 156, 210, 195)),
    ),
}


def _remove_element(rgba: NDArray[np.uint8], kit_name: str, rng: np.random.Generator) -> NDArray[np.uint8]:
    out = rgba.copy()
    shape, (x0, y0, x1, y1) = ELEMENTS[kit_name][int(rng.integers(len(ELEMENTS[kit_name])))]
    # The crop removed the transparent margin of the file: 8 px for acme, 10 for nordwind.
    off = 8 if kit_name == "acme" else 10
    off_y = 8 if kit_name == "acme" else 14
    box = (x0 - off, y0 - off_y, x1 - off, y1 - off_y)
    mask = Image.new("L", (rgba.shape[1], rgba.shape[0]), 0)
    d = ImageDraw.Draw(mask)
    if shape == "ellipse":
        d.ellipse(box, fill=255)
    elif shape == "rect":
        d.rectangle(box, fill=255)
    m = np.asarray(mask) > 0
    if shape == "apple":
        # The white apple (and its stem) painted over in the badge colour: the badge stays whole.
        d.rectangle(box, fill=255)
        m = (np.asarray(mask) > 0) & (rgba[..., :3].min(axis=2) > 200) & (rgba[..., 3] > 0)
        m = cv2.dilate(m.astype(np.uint8), np.ones((3, 3), np.uint8)) > 0
        m &= rgba[..., 3] > 0
        badge = rgba[20, 20, :3]
        out[m, :3] = badge
        return out
    out[m, 3] = 0
    return out


def _recolour(rgba: NDArray[np.uint8], rng: np.random.Generator) -> NDArray[np.uint8]:
    """Turn every hue of the logo by a quarter to three quarters of the wheel."""
    out = rgba.copy()
    hsv = cv2.cvtColor(np.ascontiguousarray(rgba[..., :3]), cv2.COLOR_RGB2HSV_FULL).astype(np.float32)
    hsv[..., 0] = (hsv[..., 0] + 256 * rng.uniform(0.25, 0.75)) % 256
    # Greys have no hue to turn: give them some colour so "white on a badge" changes too.
    hsv[..., 1] = np.maximum(hsv[..., 1], 140)
    hsv[..., 2] = np.maximum(hsv[..., 2], 90)
    out[..., :3] = cv2.cvtColor(hsv.round().astype(np.uint8), cv2.COLOR_HSV2RGB_FULL)
    return out


def _transform_logo(
    rgba: NDArray[np.uint8], width: float, rotation: float, stretch: tuple[float, float]
) -> NDArray[np.uint8]:
    """Scale to `width`, stretch by (sx, sy), rotate by `rotation` degrees; premultiplied resampling."""
    h0, w0 = rgba.shape[:2]
    s = width / w0
    a = rgba[..., 3:4].astype(np.float32) / 255
    premult = np.concatenate([rgba[..., :3].astype(np.float32) * a, a * 255], axis=2)
    m_scale = np.array([[s * stretch[0], 0, 0], [0, s * stretch[1], 0]], np.float64)
    out_w, out_h = w0 * s * stretch[0], h0 * s * stretch[1]
    theta = math.radians(rotation)
    cos, sin = abs(math.cos(theta)), abs(math.sin(theta))
    bw, bh = (
        math.ceil(out_w * cos + out_h * sin) + 4,
        math.ceil(out_w * sin + out_h * cos) + 4,
    )
    rot = cv2.getRotationMatrix2D((out_w / 2, out_h / 2), rotation, 1.0)
    rot[0, 2] += bw / 2 - out_w / 2
    rot[1, 2] += bh / 2 - out_h / 2
    full = np.vstack([rot, [0, 0, 1]]) @ np.vstack([m_scale, [0, 0, 1]])
    if s < 1:
        sigma = 0.4 / s
        premult = cv2.GaussianBlur(premult, (0, 0), sigma)
    warped = cv2.warpAffine(premult, full[:2], (bw, bh), flags=cv2.INTER_LINEAR, borderValue=(0, 0, 0, 0))
    alpha = np.clip(warped[..., 3:4], 0, 255)
    colour = np.where(alpha > 0, warped[..., :3] * 255 / np.maximum(alpha, 1e-6), 0)
    return np.concatenate([np.clip(colour, 0, 255), alpha], axis=2).round().astype(np.uint8)


def _place_logo(
    canvas: NDArray[np.uint8],
    item: EvalItem,
    k: Kit,
    rng: np.random.Generator,
    taken: list[tuple[int, int, int, int]],
) -> NDArray[np.uint8]:
    variant = item.brief.logo or "primary"
    spec = k.spec.logos[variant]
    h, w = canvas.shape[:2]
    min_w = spec.min_width_px
    if item.defect == "tiny_logo":
        width = float(rng.uniform(64, min_w * 0.85))
    else:
        width = float(rng.uniform(max(min_w * 1.1, w * 0.14), max(min_w * 1.3, w * 0.34)))
    rotation = float(rng.uniform(-12, 12))
    stretch = (1.0, 1.0)
    drawn_variant = variant
    if item.defect == "wrong_logo_variant":
        drawn_variant = "mono" if variant == "primary" else "primary"
    rgba = _logo_rgba(item.kit_name, drawn_variant)
    if item.defect == "recoloured_logo":
        rgba = _recolour(rgba, rng)
    elif item.defect == "logo_element_missing":
        rgba = _remove_element(rgba, item.kit_name, rng)
    elif item.defect == "stretched_logo":
        factor = float(rng.uniform(1.25, 1.6))
        stretch = (factor, 1.0) if rng.random() < 0.5 else (1.0, factor)
        if stretch[0] > 1:
            width /= factor  # keep it on the canvas
    logo = _transform_logo(rgba, width, rotation, stretch)
    lh, lw = logo.shape[:2]
    clear = math.ceil(spec.clear_space * width) + 6
    spot = _free_spot(lw + 2 * clear, lh + 2 * clear, w, h, taken, rng, margin=4)
    if spot is None:
        spot = (max(0, w - lw - 2 * clear), max(0, h - lh - 2 * clear))
    px, py = spot
    region = (px, py, px + lw + 2 * clear, py + lh + 2 * clear)
    taken.append(region)
    if item.defect == "no_logo":
        return canvas
    out = canvas.copy()
    # A light plate under the logo (and its clear space) on busy or dark backgrounds, as brands do.
    patch = out[region[1] : region[3], region[0] : region[2]]
    busy = item.kind in BUSY_KINDS or float(srgb_to_lab(patch.reshape(-1, 3).mean(axis=0))[0]) < 75
    if busy:
        plate = k.colour(_light_name(k))
        out[region[1] : region[3], region[0] : region[2]] = plate
    x0, y0 = px + clear, py + clear
    a = logo[..., 3:4].astype(np.float32) / 255
    target = out[y0 : y0 + lh, x0 : x0 + lw].astype(np.float32)
    out[y0 : y0 + lh, x0 : x0 + lw] = (logo[..., :3] * a + target * (1 - a)).round().astype(np.uint8)
    return out


# ---------------------------------------------------------------- counted objects


def _place_objects(
    canvas: NDArray[np.uint8],
    item: EvalItem,
    k: Kit,
    rng: np.random.Generator,
    taken: list[tuple[int, int, int, int]],
) -> NDArray[np.uint8]:
    expected = next(iter(item.brief.counts.values()))
    n = expected
    if item.defect == "wrong_count":
        deltas = [d for d in (-2, -1, 1, 2) if n + d >= 0]
        n = n + deltas[int(rng.integers(len(deltas)))]
    h, w = canvas.shape[:2]
    image = Image.fromarray(canvas, "RGB")
    draw = ImageDraw.Draw(image)
    colour = k.colour(OBJECT_COLOURS[item.kit_name])
    leaf = (46, 110, 60)
    radius = int(min(w, h) * rng.uniform(0.035, 0.055))
    placed = 0
    for _ in range(n):
        spot = _free_spot(2 * radius, 2 * radius + radius // 2, w, h, taken, rng, margin=max(8, radius // 3))
        if spot is None:
            break
        x, y = spot
        y += radius // 2
        draw.ellipse((x, y, x + 2 * radius, y + 2 * radius), fill=colour)
        draw.ellipse((x + radius * 0.9, y - radius * 0.45, x + radius * 1.5, y + radius * 0.05), fill=leaf)
        taken.append((x, y - radius // 2, x + 2 * radius, y + 2 * radius))
        placed += 1
    if placed != n:
        raise RuntimeError(f"item {item.index}: placed {placed} of {n} objects; the layout is too full")
    return np.asarray(image).copy()


# ---------------------------------------------------------------- reviewer's set
#
# Creatives made the way designers make them and judged the way a brand manager reviews them:
# real photographs (sample images shipped with matplotlib and scikit-image, when installed)
# with headline plates and bands, serif and sans faces, a disclaimer wrapped over lines beside
# the logo, subtle logo recolours and JPEG round trips. Half of them carry brandgate's
# placement record (as the pipeline's compositing writes it), half are bare pixels.

REVIEW_DEFECTS: dict[str, str] = {
    "lookalike_swap": "BG101",  # one letter swapped for a look-alike a reader can see
    "wrapped_disclaimer_misspelt": "BG102",  # one letter changed in a wrapped disclaimer
    "logo_hue_shift": "BG201",  # a logo colour turned by ΔE2000 6–15, towards either side
    "low_contrast_band": "BG302",  # the headline on its plate or band at 1.3–2.2:1
}
REVIEW_CLEAN_PER_BLOCK = 4  # of every 8 items, 4 are clean, then one of each defect
JPEG_QUALITIES: tuple[int | None, ...] = (None, 60, 70, 80, 90)
REVIEW_HEADLINES = (
    "Fresh Deals Friday",
    "Summer Harvest Sale",
    "Weekend Market Picks",
    "Bright Autumn Savings",
    "New Trail Collection",
    "Winter Trail Week",
)
LONG_DISCLAIMERS = (
    "Offer valid while stocks last. Items cannot be returned once opened.",
    "Selected stores only. Prices may vary online and in smaller shops.",
    "Terms apply. One voucher per customer, not valid with other offers.",
)


def photo_paths(files: tuple[str, ...] = PHOTO_FILES) -> dict[str, Path]:
    """The photographs of `files` on this machine, by short name: the sample photographs that
    matplotlib and scikit-image install (nothing is downloaded) and tests/fixtures/photos."""
    folders = [ROOT / "tests" / "fixtures" / "photos"]
    try:
        import matplotlib

        folders.append(Path(matplotlib.get_data_path()) / "sample_data")
    except ImportError:
        pass
    try:
        import skimage  # type: ignore[import-not-found, import-untyped, unused-ignore]

        folders.append(Path(skimage.__file__).parent / "data")
    except ImportError:
        pass
    found: dict[str, Path] = {}
    for name in files:
        for folder in folders:
            if (folder / name).is_file():
                found[name.split(".")[0]] = folder / name
                break
    return found


@dataclass(frozen=True)
class ReviewItem:
    """One creative of the reviewer's set: how it was made and the check that must fail."""

    index: int
    seed: int
    kit_name: str
    background: str  # a photograph's name, or a drawn background ("flat", "gradient", "radial", "duotone")
    defect: str | None
    jpeg_quality: int | None
    placed: bool  # whether it carries brandgate's placement record
    face: str  # the headline's font file
    brief: Brief
    plan: dict[str, Any] = field(repr=False, compare=False)

    @property
    def expected(self) -> str | None:
        return REVIEW_DEFECTS[self.defect] if self.defect else None

    @property
    def name(self) -> str:
        q = f"q{self.jpeg_quality}" if self.jpeg_quality else "png"
        return (
            f"r{self.index:04d}-{self.kit_name}-{self.background}-{q}-{'placed' if self.placed else 'bare'}"
            f"-{self.defect or self.plan.get('clean_variant', 'clean')}"
        )

    def render(self) -> tuple[NDArray[np.uint8], list[dict[str, Any]]]:
        """The pixels (after the JPEG round trip, if any) and the placement record (empty when
        the item models a file checked on its own)."""
        return _render_review(self)


def review_items(n: int = 96, seed: int = 0) -> list[ReviewItem]:
    return [make_review_item(i, seed) for i in range(n)]


def make_review_item(index: int, seed: int = 0) -> ReviewItem:
    rng = np.random.default_rng([seed, index, 17])
    slot = index % 8
    defect = None if slot < REVIEW_CLEAN_PER_BLOCK else list(REVIEW_DEFECTS)[slot - REVIEW_CLEAN_PER_BLOCK]
    spec = set_of(seed)
    photos = sorted(photo_paths(spec.photographs))
    backgrounds = [*photos, *spec.drawn]
    background = backgrounds[(index // 8 + index) % len(backgrounds)]
    kit_name = KIT_NAMES[(index + index // 8) % 2]
    k = kit(kit_name)
    quality = JPEG_QUALITIES[(index // 3) % len(JPEG_QUALITIES)]
    placed = (index // 16) % 2 == 0
    serif = rng.random() < 0.5
    face = (spec.serif_faces if serif else spec.sans_faces)[int(rng.integers(2))]
    if rng.random() < 0.4:
        face = k.spec.fonts[spec.kit_face].file  # one of the kit's own faces
    size = ((768, 768), (1024, 1024), (1024, 768))[int(rng.integers(3))]
    headlines: tuple[str, ...] = REVIEW_HEADLINES
    if defect == "lookalike_swap":
        headlines = tuple(h for h in REVIEW_HEADLINES if any(c in h for c in "lim"))
    headline = headlines[int(rng.integers(len(headlines)))]
    disclaimer = LONG_DISCLAIMERS[int(rng.integers(len(LONG_DISCLAIMERS)))]
    brief = Brief(
        kit=kit_name,
        prompt=f"a designer's creative on a {background} background",
        headline=headline,
        disclaimer=disclaimer,
        logo="primary" if rng.random() < 0.75 else "mono",
        size=size,
    )
    plan: dict[str, Any] = {
        "rng_seed": int(rng.integers(2**31)),
        "band": rng.random() < 0.5,  # a full-width band rather than a plate around the text
        "body_px": int(rng.integers(14, 27)),
    }
    if defect is None:
        roll = rng.random()
        if roll < 0.25 and _same_glyph_swap(headline, face):
            plan["clean_variant"] = "same_glyph_swap"  # l drawn as I where the face has one glyph
        elif roll < 0.5:
            plan["clean_variant"] = "small_hue_shift"  # a logo colour off by ΔE 2–3.5, within tolerance
    return ReviewItem(index, seed, kit_name, background, defect, quality, placed, face, brief, plan)


def _same_glyph_swap(headline: str, face: str) -> bool:
    return "l" in headline and _drawn_alike("l", "I", str(resolve_font(ROOT, face)))


# Two glyphs read as one letter when they are one shape at one size: as many separate strokes, boxes
# of nearly the same height and width, and ink that overlaps this much once both boxes are scaled to
# one size (DejaVu Sans's l and I differ only by a 4 % taller stem; i has a dot and l none; 0 is
# narrower than O).
DRAWN_ALIKE_OVERLAP = 0.9
DRAWN_ALIKE_SIZE = 0.1


@lru_cache(maxsize=256)
def _drawn_alike(a: str, b: str, font_path: str) -> bool:
    """Whether the face draws `a` and `b` as one picture to a reader, measured here and not by the
    check it labels for (BG101's own look-alike rule), on each rendered alone at 96 px."""
    font = ImageFont.truetype(font_path, 96)

    def ink(text: str) -> tuple[NDArray[np.bool_], int]:
        canvas = Image.new("L", (240, 200), 0)
        ImageDraw.Draw(canvas).text((40, 20), text, font=font, fill=255)
        mask = (np.asarray(canvas) > 127).astype(np.uint8)
        strokes = cv2.connectedComponents(mask)[0] - 1
        rows, cols = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
        if not rows.size:
            return np.zeros((0, 0), bool), 0
        return mask[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1].astype(bool), strokes

    (first, first_strokes), (second, second_strokes) = ink(a), ink(b)
    if first_strokes != second_strokes or not first.size or not second.size:
        return False
    if any(abs(x - y) > DRAWN_ALIKE_SIZE * max(x, y) for x, y in zip(first.shape, second.shape, strict=True)):
        return False
    size = (64, 64)
    left = cv2.resize(first.astype(np.uint8), size, interpolation=cv2.INTER_NEAREST).astype(bool)
    right = cv2.resize(second.astype(np.uint8), size, interpolation=cv2.INTER_NEAREST).astype(bool)
    return np.count_nonzero(left & right) / np.count_nonzero(left | right) >= DRAWN_ALIKE_OVERLAP


LOOKALIKE_SWAPS = (("l", "1"), ("i", "l"), ("m", "rn"), ("l", "I"))


def _lookalike(headline: str, face: str, rng: np.random.Generator) -> str:
    """One visible look-alike swap: l→1, i→l, m→rn, or l→I where the face draws them apart."""
    font = str(resolve_font(ROOT, face))
    options = [
        (a, b) for a, b in LOOKALIKE_SWAPS if a in headline and not (len(a) == len(b) == 1 and _drawn_alike(a, b, font))
    ]
    a, b = options[int(rng.integers(len(options)))]
    spots = [i for i in range(len(headline)) if headline.startswith(a, i)]
    at = spots[int(rng.integers(len(spots)))]
    return headline[:at] + b + headline[at + len(a) :]


def _photo(
    name: str, w: int, h: int, rng: np.random.Generator, files: tuple[str, ...] = PHOTO_FILES
) -> NDArray[np.uint8]:
    path = photo_paths(files)[name]
    with Image.open(path) as image:
        rgb = np.asarray(image.convert("RGB"))
    ph, pw = rgb.shape[:2]
    scale = max(w / pw, h / ph) * float(rng.uniform(1.0, 1.3))
    resized = cv2.resize(rgb, (max(w, round(pw * scale)), max(h, round(ph * scale))), interpolation=cv2.INTER_CUBIC)
    y = int(rng.integers(0, resized.shape[0] - h + 1))
    x = int(rng.integers(0, resized.shape[1] - w + 1))
    return np.ascontiguousarray(resized[y : y + h, x : x + w])


def _most_colourful_main_colour(rgba: NDArray[np.uint8]) -> NDArray[np.float64]:
    """The logo colour to turn, found here and not by BG201's own colour finder: the opaque pixels
    binned at 32 levels a channel; of the bins holding at least 5 % of them, the most chromatic
    one's mean colour."""
    opaque = rgba[rgba[..., 3] > 127][:, :3].astype(np.int64)
    bins = (opaque // 32) @ np.array([64, 8, 1])
    counts = np.bincount(bins, minlength=512)
    main = [int(b) for b in np.flatnonzero(counts >= 0.05 * len(opaque))]

    def chroma(colour: NDArray[np.float64]) -> float:
        lab = srgb_to_lab(colour)
        return float(np.hypot(lab[1], lab[2]))

    means = [opaque[bins == b].mean(axis=0) for b in main]
    return np.asarray(max(means, key=chroma), np.float64)


def _shift_logo_colour(rgba: NDArray[np.uint8], target: float, direction: float) -> tuple[NDArray[np.uint8], float]:
    """The logo with its most colourful dominant colour turned in hue (towards `direction`'s
    side) until it is `target` ΔE2000 from the original; the ΔE reached."""
    original = _most_colourful_main_colour(rgba)
    lab = srgb_to_lab(rgba[..., :3])
    near = (delta_e_2000(lab, srgb_to_lab(original)) < 25) & (rgba[..., 3] > 0)

    def turned(angle: float, pixels: NDArray[np.float64]) -> NDArray[np.float64]:
        as_lab = cv2.cvtColor((pixels.reshape(-1, 1, 3) / 255).astype(np.float32), cv2.COLOR_RGB2Lab)
        a, b = as_lab[..., 1].copy(), as_lab[..., 2].copy()
        c, s = math.cos(angle), math.sin(angle)
        as_lab[..., 1], as_lab[..., 2] = a * c - b * s, a * s + b * c
        back = cv2.cvtColor(as_lab, cv2.COLOR_Lab2RGB).reshape(pixels.shape) * 255
        return np.clip(back, 0, 255)

    low, high = 0.0, math.pi / 2
    for _ in range(30):
        middle = (low + high) / 2
        moved = turned(direction * middle, original[None])[0].round()
        if float(delta_e_2000(srgb_to_lab(original), srgb_to_lab(moved))) < target:
            low = middle
        else:
            high = middle
    angle = direction * (low + high) / 2
    out = rgba.copy()
    out[near, :3] = turned(angle, rgba[near, :3].astype(np.float64)).round().astype(np.uint8)
    reached = float(delta_e_2000(srgb_to_lab(original), srgb_to_lab(turned(angle, original[None])[0].round())))
    return out, reached


def _wrap_words(text: str, font: ImageFont.FreeTypeFont, width: int) -> list[str]:
    lines: list[str] = []
    current = ""
    for word in text.split():
        candidate = f"{current} {word}" if current else word
        if current and font.getlength(candidate) > width:
            lines.append(current)
            current = word
        else:
            current = candidate
    return [*lines, current] if current else lines


def _misspell(text: str, rng: np.random.Generator, after: int) -> str:
    letters = [i for i, ch in enumerate(text) if ch.isalpha() and i >= after]
    i = letters[int(rng.integers(len(letters)))]
    swaps = "aeiou" if text[i].lower() in "aeiou" else "bcdfgkmnprst"
    choices = [c for c in swaps if c != text[i].lower()]
    new = choices[int(rng.integers(len(choices)))]
    return text[:i] + (new.upper() if text[i].isupper() else new) + text[i + 1 :]


def _render_review(item: ReviewItem) -> tuple[NDArray[np.uint8], list[dict[str, Any]]]:
    rng = np.random.default_rng(item.plan["rng_seed"])
    k = kit(item.kit_name)
    w, h = item.brief.size
    if item.background == "flat":
        palette = [k.colour(name) for name in k.spec.palette]
        base = np.full((h, w, 3), palette[int(rng.integers(len(palette)))], np.uint8)
    elif item.background in ("gradient", "radial", "duotone"):
        base = _background(item.background, k, w, h, rng, None)
    else:
        base = _photo(item.background, w, h, rng, set_of(item.seed).photographs)
    canvas = Image.fromarray(base, "RGB")
    draw = ImageDraw.Draw(canvas)
    placements: list[dict[str, Any]] = []

    # Headline: a plate or a full-width band near the top, or bare where it reads well.
    headline = item.brief.headline or ""
    drawn = _lookalike(headline, item.face, rng) if item.defect == "lookalike_swap" else headline
    if item.plan.get("clean_variant") == "same_glyph_swap":
        at = headline.index("l")
        drawn = headline[:at] + "I" + headline[at + 1 :]
    face = str(resolve_font(ROOT, item.face))
    font, text_w, text_h = _fit_text(headline, Path(face), int(w * 0.78), int(h * 0.085))
    # The plate fits what is drawn (a wider look-alike such as a 1 for an l included), as a
    # designer would size it.
    text_w = max(text_w, int(font.getbbox(drawn)[2]))
    x = int(w * 0.08)
    y = int(h * 0.08)
    pad = max(10, text_h // 3)
    colours = [k.colour(n) for n in k.spec.palette]
    legible = [c for c in colours if max(_contrast(t, c) for t in colours) >= 4.6]
    plate = legible[int(rng.integers(len(legible)))]
    text_colour = max(colours, key=lambda c: _contrast(c, plate))
    if item.defect == "low_contrast_band":
        text_colour = _low_contrast_partner(plate, rng)
    if item.plan["band"]:
        box = (0, y - pad, w, y + text_h + pad)
    else:
        box = (x - pad, y - pad, x + text_w + pad, y + text_h + pad)
    draw.rectangle(box, fill=plate)
    draw.text((x, y), drawn, font=font, fill=text_colour)
    placements.append(
        {
            "element": "headline",
            "text": headline,
            "font": face,
            "font_px": font.size,
            "lines": [headline],
            "line_origins": [[x, y]],
            "text_box": [x, y, x + text_w, y + text_h],
            "plate_box": list(box),
        }
    )

    # Logo bottom right, on a light plate where the photograph is busy; the disclaimer wraps
    # over two or three lines to its left, its lines level with the logo's.
    variant = item.brief.logo or "primary"
    rgba = _logo_rgba(item.kit_name, variant)
    if item.defect == "logo_hue_shift":
        rgba, reached = _shift_logo_colour(rgba, float(rng.uniform(6, 15)), 1.0 if rng.random() < 0.5 else -1.0)
        item.plan["delta_e"] = round(reached, 1)
    elif item.plan.get("clean_variant") == "small_hue_shift":
        rgba, reached = _shift_logo_colour(rgba, float(rng.uniform(2, 3.5)), 1.0 if rng.random() < 0.5 else -1.0)
        item.plan["delta_e"] = round(reached, 1)
    spec = k.spec.logos[variant]
    logo_w = float(max(spec.min_width_px * 1.2, w * 0.22))
    logo = _transform_logo(rgba, logo_w, 0.0, (1.0, 1.0))
    lh, lw = logo.shape[:2]
    clear = math.ceil(spec.clear_space * logo_w) + 4
    lx, ly = w - lw - clear - int(w * 0.03), h - lh - clear - int(h * 0.04)
    canvas_rgb = np.asarray(canvas).copy()
    zone = (lx - clear, ly - clear, lx + lw + clear, ly + lh + clear)
    canvas_rgb[zone[1] : zone[3], zone[0] : zone[2]] = k.colour(_light_name(k))
    a = logo[..., 3:4].astype(np.float32) / 255
    target = canvas_rgb[ly : ly + lh, lx : lx + lw].astype(np.float32)
    canvas_rgb[ly : ly + lh, lx : lx + lw] = (logo[..., :3] * a + target * (1 - a)).round().astype(np.uint8)
    placements.append(
        {"element": "logo", "variant": variant, "box": [lx, ly, lx + lw, ly + lh], "clear_zone": list(zone)}
    )

    canvas = Image.fromarray(canvas_rgb, "RGB")
    draw = ImageDraw.Draw(canvas)
    body_path = str(k.font_path("body"))
    body = ImageFont.truetype(body_path, item.plan["body_px"])
    disclaimer = " ".join([item.brief.disclaimer or "", *k.spec.required_disclaimers]).strip()
    room = zone[0] - int(w * 0.05) - 16
    lines = _wrap_words(disclaimer, body, min(room, int(w * 0.5)))
    while len(lines) > 3 and body.size > 14:
        body = ImageFont.truetype(body_path, body.size - 1)
        lines = _wrap_words(disclaimer, body, room)
    ascent, descent = body.getmetrics()
    line_height = math.ceil((ascent + descent) * 1.15)
    dx = int(w * 0.05)
    dy = zone[1] + max(0, (zone[3] - zone[1] - line_height * len(lines)) // 2)
    drawn_lines = list(lines)
    if item.defect == "wrapped_disclaimer_misspelt":
        second = min(1, len(drawn_lines) - 1)
        drawn_lines[second] = _misspell(drawn_lines[second], rng, 0)
    block_w = max(math.ceil(body.getlength(line)) for line in lines)
    dark = k.colour(_dark_name(k))
    light = k.colour(_light_name(k))
    draw.rectangle((dx - 8, dy - 6, dx + block_w + 8, dy + line_height * len(lines) + 6), fill=dark)
    origins = []
    for number, line in enumerate(drawn_lines):
        origin = (dx, dy + number * line_height)
        draw.text(origin, line, font=body, fill=light)
        origins.append(list(origin))
    placements.append(
        {
            "element": "disclaimer",
            "text": disclaimer,
            "font": body_path,
            "font_px": body.size,
            "lines": lines,
            "line_origins": origins,
            "text_box": [dx, dy, dx + block_w, dy + line_height * len(lines)],
            "plate_box": [dx - 8, dy - 6, dx + block_w + 8, dy + line_height * len(lines) + 6],
        }
    )
    out = np.asarray(canvas).copy()
    if item.jpeg_quality:
        import io

        buffer = io.BytesIO()
        Image.fromarray(out).save(buffer, "JPEG", quality=item.jpeg_quality)
        out = np.asarray(Image.open(io.BytesIO(buffer.getvalue())).convert("RGB")).copy()
    return out, placements if item.placed else []
