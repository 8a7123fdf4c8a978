"""Our labelled evaluation set: creatives composed from the shipped kits, clean or with one defect.

    from benchmarks.evalset import eval_items
    for item in eval_items(384, seed=0):
        rgb = item.render()          # H×W×3 uint8, the same pixels every time for (seed, index)
        item.brief, item.expected    # the brief it was made for; the check ID that must fail, or None

Every item is a pure function of (seed, index): re-running gives byte-identical images.
Backgrounds cycle through flat, gradient, noise and photo-like texture; sizes run from 512 to
1024; headline fonts, positions, logo scale (0.5–3× the kit minimum), rotation (±12°) and
place vary. A defect changes exactly one thing against the clean recipe.
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
KINDS = ("flat", "gradient", "noise", "photo")
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
FONTS = (
    "DejaVuSans-Bold.ttf",
    "LiberationSans-Bold.ttf",
    "LiberationSerif-Bold.ttf",
    "DejaVuSerif-Bold.ttf",
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
OBJECT_NAMES = {"acme": "orange", "nordwind": "buoy"}
OBJECT_COLOURS = {"acme": "acme-orange", "nordwind": "nord-gold"}


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
    rng = np.random.default_rng([seed, index])
    slot = index % 24
    defect = None if slot < CLEAN_PER_BLOCK else list(DEFECTS)[slot - CLEAN_PER_BLOCK]
    kind = KINDS[(index // 24 + index // 2) % len(KINDS)]
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
        "font": FONTS[int(rng.integers(len(FONTS)))]
        if rng.random() < 0.5
        else k.spec.fonts["headline"].file,
    }
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
        item.kind, k, w, h, rng, off_colour if item.defect == "off_palette" else None
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
    plate_needed = item.kind in ("noise", "photo") or rng.random() < 0.5
    plate_colour, text_colour, plate_needed = _headline_colours(k, background, band_y, h, rng, plate_needed)
    if item.defect == "off_palette" and item.kind in ("noise", "photo"):
        plate_needed, plate_colour = True, off_colour
    if item.defect == "low_contrast_headline":
        plate_needed = True
        text_colour = _low_contrast_partner(plate_colour, rng)
    font, text_w, text_h = _fit_text(drawn_headline, font_path, int(w * 0.8), int(h * 0.09))
    x = int(rng.integers(int(w * 0.06), max(int(w * 0.06) + 1, w - text_w - int(w * 0.06))))
    pad = max(10, text_h // 3)
    box = (x - pad, band_y, x + text_w + pad, band_y + text_h + 2 * pad)
    if item.defect == "off_palette" and item.kind in ("noise", "photo"):
        box = (int(w * 0.04), band_y, int(w * 0.96), band_y + max(text_h + 2 * pad, int(h * 0.16)))
    if plate_needed:
        draw.rectangle(box, fill=plate_colour)
    _draw_text(draw, (x, band_y + pad), drawn_headline, font, text_colour)
    taken.append(box)

    # Disclaimer: bottom left, small, on its own plate.
    disclaimer = item.brief.disclaimer or (
        k.spec.required_disclaimers[0] if k.spec.required_disclaimers else None
    )
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
        extra = (
            k.spec.banned_words[int(rng.integers(len(k.spec.banned_words)))].capitalize()
            + " quality"
        )
    elif item.defect == "extra_text":
        extra = EXTRA_LINES[int(rng.integers(len(EXTRA_LINES)))]
    if extra:
        efont = ImageFont.truetype(str(small_path), max(22, int(h * 0.045)))
        ex0, ey0, ex1, ey1 = draw.textbbox((0, 0), extra, font=efont)
        spot = _free_spot(ex1 - ex0 + 20, ey1 - ey0 + 20, w, h, taken, rng, margin=12)
        if spot is not None:
            sx, sy = spot
            draw.rectangle(
                (sx, sy, sx + ex1 - ex0 + 20, sy + ey1 - ey0 + 20), fill=k.colour(_dark_name(k))
            )
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
) -> NDArray[np.uint8]:
    # Never the counted objects' own colour: they would vanish into it.
    palette = [k.colour(name) for name in k.spec.palette if name != OBJECT_COLOURS[k.name]]
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


def _low_contrast_partner(
    colour: tuple[int, int, int], rng: np.random.Generator
) -> tuple[int, int, int]:
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


def _fit_text(
    text: str, font_path: Path, max_w: int, start: int
) -> tuple[ImageFont.FreeTypeFont, int, int]:
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


def _remove_element(
    rgba: NDArray[np.uint8], kit_name: str, rng: np.random.Generator
) -> NDArray[np.uint8]:
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
    hsv = cv2.cvtColor(np.ascontiguousarray(rgba[..., :3]), cv2.COLOR_RGB2HSV_FULL).astype(
        np.float32
    )
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
    warped = cv2.warpAffine(
        premult, full[:2], (bw, bh), flags=cv2.INTER_LINEAR, borderValue=(0, 0, 0, 0)
    )
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
    busy = (
        item.kind in ("noise", "photo")
        or float(srgb_to_lab(patch.reshape(-1, 3).mean(axis=0))[0]) < 75
    )
    if busy:
        plate = k.colour(_light_name(k))
        out[region[1] : region[3], region[0] : region[2]] = plate
    x0, y0 = px + clear, py + clear
    a = logo[..., 3:4].astype(np.float32) / 255
    target = out[y0 : y0 + lh, x0 : x0 + lw].astype(np.float32)
    out[y0 : y0 + lh, x0 : x0 + lw] = (
        (logo[..., :3] * a + target * (1 - a)).round().astype(np.uint8)
    )
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
        spot = _free_spot(
            2 * radius, 2 * radius + radius // 2, w, h, taken, rng, margin=max(8, radius // 3)
        )
        if spot is None:
            break
        x, y = spot
        y += radius // 2
        draw.ellipse((x, y, x + 2 * radius, y + 2 * radius), fill=colour)
        draw.ellipse(
            (x + radius * 0.9, y - radius * 0.45, x + radius * 1.5, y + radius * 0.05), fill=leaf
        )
        taken.append((x, y - radius // 2, x + 2 * radius, y + 2 * radius))
        placed += 1
    if placed != n:
        raise RuntimeError(
            f"item {item.index}: placed {placed} of {n} objects; the layout is too full"
        )
    return np.asarray(image).copy()
