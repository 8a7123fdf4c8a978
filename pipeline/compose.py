"""Brand compositing: a kit's headline, disclaimer and logo placed on a generated background."""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from policies.brief import Brief
from policies.errors import InvalidInput
from policies.kit import Kit, Layout, LogoPlacement

AA_NORMAL = 4.5
AA_LARGE = 3.0
LARGE_TEXT_PX = 24  # WCAG "large": 18 pt = 24 CSS px
LINE_SPACING = 1.15
# Contrast is judged on the darkest-to-text 10 % of the pixels behind the text, not the mean:
# white type over a sky with one dark tree must still read where the tree is.
CONTRAST_PERCENTILE = 10
SCRIM_ALPHAS = (0.45, 0.55, 0.65, 0.75, 0.85, 1.0)
Rect = tuple[int, int, int, int]  # left, top, right, bottom in pixels


@dataclass(frozen=True)
class Composition:
    """The finished creative, what went into it (for the credentials) and where each part sits."""

    image: Image.Image
    ingredients: list[dict[str, Any]]
    placements: list[dict[str, Any]]
    layout: str

    def to_json(self) -> dict[str, Any]:
        return {
            "layout": self.layout,
            "ingredients": self.ingredients,
            "placements": self.placements,
        }


@dataclass
class _TextFit:
    font: ImageFont.FreeTypeFont
    size: int
    lines: list[str]
    line_height: int
    widths: list[int] = field(default_factory=list)

    @property
    def height(self) -> int:
        return self.line_height * len(self.lines)


def relative_luminance(rgb: np.ndarray) -> np.ndarray:
    """WCAG 2.x relative luminance of sRGB values 0..255 (last axis = channels)."""
    c = rgb.astype(np.float64) / 255.0
    linear = np.where(c <= 0.04045, c / 12.92, ((c + 0.055) / 1.055) ** 2.4)
    return linear[..., 0] * 0.2126 + linear[..., 1] * 0.7152 + linear[..., 2] * 0.0722


def contrast_ratio(lum_a: np.ndarray | float, lum_b: np.ndarray | float) -> np.ndarray:
    hi = np.maximum(lum_a, lum_b)
    lo = np.minimum(lum_a, lum_b)
    return np.asarray((hi + 0.05) / (lo + 0.05))


def sha256_file(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def compose(
    background: Image.Image, brief: Brief, kit: Kit, layout_name: str | None = None
) -> Composition:
    """Place the brief's headline, disclaimer and logo on `background` by the kit's layout.

    Refuses (InvalidInput) rather than overflowing a box, shrinking a logo below its minimum
    or letting text into the logo's clear space.
    """
    name = layout_name or brief.layout or "default"
    layout = kit.layout(name)
    canvas = background.convert("RGB")
    width, height = canvas.size
    ingredients: list[dict[str, Any]] = [
        {
            "role": "background",
            "kind": "generated",
            "size": [width, height],
            "pixels_sha256": hashlib.sha256(canvas.tobytes()).hexdigest(),
        }
    ]
    placements: list[dict[str, Any]] = []
    fonts_used: dict[Path, str] = {}

    logo_zone: Rect | None = None
    logo_layer: tuple[Image.Image, tuple[int, int]] | None = None
    if brief.logo:
        logo_image, logo_rect, logo_zone, placement = _place_logo(
            kit, layout, brief.logo, width, height
        )
        logo_layer = (logo_image, (logo_rect[0], logo_rect[1]))
        logo_path = kit.logo_path(brief.logo)
        ingredients.append(
            {
                "role": "logo",
                "variant": brief.logo,
                "path": str(logo_path),
                "sha256": sha256_file(logo_path),
            }
        )
        placements.append(placement)

    texts: list[tuple[str, str, str, Literal["center", "left"]]] = []
    if brief.headline:
        texts.append(("headline", brief.headline, layout.headline_font, "center"))
    disclaimer = _disclaimer_text(brief, kit)
    if disclaimer:
        texts.append(("disclaimer", disclaimer, layout.body_font, "left"))

    overlay = Image.new("RGBA", canvas.size, (0, 0, 0, 0))
    text_colour = kit.colour(layout.text_colour)
    for element, text, font_role, align in texts:
        font_path = kit.font_path(font_role)
        fonts_used.setdefault(font_path, font_role)
        box = _box_pixels(
            layout.headline_box if element == "headline" else layout.disclaimer_box, width, height
        )
        placement = _place_text(
            canvas,
            overlay,
            element,
            text,
            font_path,
            box,
            align,
            layout,
            kit,
            text_colour,
            logo_zone,
            name,
        )
        placements.append(placement)

    composed = Image.alpha_composite(canvas.convert("RGBA"), overlay)
    if logo_layer is not None:
        composed.alpha_composite(logo_layer[0], dest=logo_layer[1])
    for path, role in fonts_used.items():
        ingredients.append(
            {"role": "font", "font_role": role, "path": str(path), "sha256": sha256_file(path)}
        )
    return Composition(
        image=composed.convert("RGB"), ingredients=ingredients, placements=placements, layout=name
    )


def _disclaimer_text(brief: Brief, kit: Kit) -> str | None:
    """The brief's disclaimer plus any the kit requires that it does not already contain."""
    parts = [brief.disclaimer] if brief.disclaimer else []
    have = " ".join(parts).casefold()
    parts += [req for req in kit.spec.required_disclaimers if req.casefold() not in have]
    return " ".join(parts) if parts else None


def _box_pixels(box: tuple[float, float, float, float], width: int, height: int) -> Rect:
    x, y, w, h = box
    left, top = round(x * width), round(y * height)
    return left, top, min(width, left + round(w * width)), min(height, top + round(h * height))


def _place_logo(
    kit: Kit, layout: Layout, variant: str, width: int, height: int
) -> tuple[Image.Image, Rect, Rect, dict[str, Any]]:
    path = kit.logo_path(variant)
    spec = kit.spec.logos[variant]
    if layout.logo is not None and layout.logo.variant == variant:
        where = layout.logo
    elif layout.logo is not None:
        where = layout.logo.model_copy(update={"variant": variant})
    else:
        where = LogoPlacement(variant=variant)
    if path.suffix.lower() == ".svg":
        raise InvalidInput(
            f"logo {variant!r} is an SVG; add a PNG rendering of it to the kit", "logos"
        )
    try:
        with Image.open(path) as opened:
            logo = opened.convert("RGBA")
    except OSError as exc:
        raise InvalidInput(
            f"logo {variant!r} ({path.name}) is not a readable image: {exc}", "logos"
        ) from None
    logo_w = max(round(where.width * width), spec.min_width_px)
    logo_h = max(1, round(logo.height * logo_w / logo.width))
    clear = math.ceil(spec.clear_space * logo_w)
    margin = max(round(where.margin * width), clear)
    if logo_w + 2 * margin > width or logo_h + 2 * margin > height:
        raise InvalidInput(
            f"a {width}x{height} canvas cannot hold logo {variant!r} at its minimum width "
            f"{spec.min_width_px}px "
            f"with {clear}px clear space; use a larger size",
            "size",
        )
    left = margin if where.anchor.endswith("left") else width - margin - logo_w
    top = margin if where.anchor.startswith("top") else height - margin - logo_h
    if where.anchor == "center":
        left, top = (width - logo_w) // 2, (height - logo_h) // 2
    rect = (left, top, left + logo_w, top + logo_h)
    zone = (left - clear, top - clear, left + logo_w + clear, top + logo_h + clear)
    resized = logo.resize((logo_w, logo_h), Image.Resampling.LANCZOS)
    placement = {
        "element": "logo",
        "variant": variant,
        "box": list(rect),
        "anchor": where.anchor,
        "width_px": logo_w,
        "min_width_px": spec.min_width_px,
        "clear_space_px": clear,
        "clear_zone": list(zone),
    }
    return resized, rect, zone, placement


def _wrap(text: str, font: ImageFont.FreeTypeFont, max_width: int) -> list[str] | None:
    """Greedy word wrap; None when a single word is wider than the box."""
    lines: list[str] = []
    current = ""
    for word in text.split():
        if font.getlength(word) > max_width:
            return None
        candidate = f"{current} {word}" if current else word
        if font.getlength(candidate) <= max_width:
            current = candidate
        else:
            lines.append(current)
            current = word
    if current:
        lines.append(current)
    return lines


def _fit(text: str, font_path: Path, box_w: int, box_h: int, min_px: int) -> _TextFit | None:
    """The largest font size at which the wrapped text fits the box, or None below min_px."""

    def attempt(size: int) -> _TextFit | None:
        font = ImageFont.truetype(str(font_path), size)
        ascent, descent = font.getmetrics()
        line_height = math.ceil((ascent + descent) * LINE_SPACING)
        lines = _wrap(text, font, box_w)
        if not lines or line_height * len(lines) > box_h:
            return None
        return _TextFit(
            font, size, lines, line_height, [math.ceil(font.getlength(line)) for line in lines]
        )

    low, high = min_px, max(min_px, box_h)
    best = attempt(low)
    if best is None:
        return None
    while low < high:
        middle = (low + high + 1) // 2
        fitted = attempt(middle)
        if fitted is None:
            high = middle - 1
        else:
            low, best = middle, fitted
    return best


def _place_text(
    canvas: Image.Image,
    overlay: Image.Image,
    element: str,
    text: str,
    font_path: Path,
    box: Rect,
    align: Literal["center", "left"],
    layout: Layout,
    kit: Kit,
    text_colour: tuple[int, int, int],
    logo_zone: Rect | None,
    layout_name: str,
) -> dict[str, Any]:
    left, top, right, bottom = box
    box_w, box_h = right - left, bottom - top
    try:
        fitted = _fit(text, font_path, box_w, box_h, layout.min_font_px)
    except OSError as exc:
        raise InvalidInput(f"font {font_path.name} cannot be read: {exc}", "fonts") from None
    if fitted is None:
        raise InvalidInput(
            f"{element} {text!r} does not fit the {element} box of layout {layout_name!r} "
            f"({box_w}x{box_h}px) even at the minimum font size {layout.min_font_px}px; "
            "shorten it or use a larger size",
            element,
        )
    block_w = max(fitted.widths)
    y0 = top + (box_h - fitted.height) // 2
    pad = max(4, round(fitted.size * 0.3))
    text_rect = (
        left + ((box_w - block_w) // 2 if align == "center" else 0),
        y0,
        left + ((box_w + block_w) // 2 if align == "center" else block_w),
        y0 + fitted.height,
    )
    plate_rect = (
        max(0, text_rect[0] - pad),
        max(0, text_rect[1] - pad // 2),
        min(canvas.width, text_rect[2] + pad),
        min(canvas.height, text_rect[3] + pad // 2),
    )
    if logo_zone is not None and _overlaps(plate_rect, logo_zone):
        raise InvalidInput(
            f"layout {layout_name!r}: the {element} at {list(plate_rect)} would enter "
            f"the logo's clear space "
            f"{list(logo_zone)}; move the {element} box or the logo anchor in kit.yaml",
            "layout",
        )

    required = AA_LARGE if fitted.size >= LARGE_TEXT_PX else AA_NORMAL
    behind = np.asarray(canvas.crop(plate_rect))
    text_lum = float(relative_luminance(np.asarray(text_colour, dtype=np.float64)))
    before = float(
        np.percentile(contrast_ratio(relative_luminance(behind), text_lum), CONTRAST_PERCENTILE)
    )
    plate: dict[str, Any] | None = None
    after = before
    draw = ImageDraw.Draw(overlay)
    if before < required:
        plate, after = _choose_plate(behind, text_lum, required, layout, kit)
        fill = (*plate["rgb"], round(plate["alpha"] * 255))
        draw.rounded_rectangle(plate_rect, radius=pad // 2, fill=fill)
    origins = []
    for number, line in enumerate(fitted.lines):
        line_w = fitted.widths[number]
        x = left + (box_w - line_w) // 2 if align == "center" else left
        origin = (x, y0 + number * fitted.line_height)
        draw.text(origin, line, font=fitted.font, fill=(*text_colour, 255))
        origins.append(list(origin))
    return {
        "element": element,
        "text": text,
        "font": str(font_path),
        "font_px": fitted.size,
        "lines": fitted.lines,
        # Where each line was drawn (Pillow's top-left anchor): the checks lay the same text
        # rendered in the same font over the finished image and compare glyph by glyph.
        "line_origins": origins,
        "line_height": fitted.line_height,
        "text_colour": "#{:02X}{:02X}{:02X}".format(*text_colour),
        "box": list(box),
        "text_box": list(text_rect),
        "plate_box": list(plate_rect) if plate else None,
        "plate": {k: v for k, v in plate.items() if k != "rgb"} if plate else None,
        "contrast_required": required,
        "contrast_before": round(before, 2),
        "contrast_after": round(after, 2),
    }


def _choose_plate(
    behind: np.ndarray, text_lum: float, required: float, layout: Layout, kit: Kit
) -> tuple[dict[str, Any], float]:
    """The kit's plate colour when it reaches the contrast, else the lightest scrim that does."""
    if layout.plate_colour is not None:
        rgb = kit.colour(layout.plate_colour)
        ratio = float(
            contrast_ratio(float(relative_luminance(np.asarray(rgb, dtype=np.float64))), text_lum)
        )
        if ratio >= required:
            return {"kind": "plate", "colour": layout.plate_colour, "rgb": rgb, "alpha": 1.0}, ratio
    # Black or white, whichever sets the text off more; a solid one always reaches 4.58:1 or better.
    dark = (text_lum + 0.05) / 0.05 >= 1.05 / (text_lum + 0.05)
    rgb = (0, 0, 0) if dark else (255, 255, 255)
    colour = "#000000" if dark else "#FFFFFF"
    base = behind.astype(np.float64)
    ratio = 0.0
    for alpha in SCRIM_ALPHAS:
        mixed = base * (1 - alpha) + np.asarray(rgb, dtype=np.float64) * alpha
        ratio = float(
            np.percentile(contrast_ratio(relative_luminance(mixed), text_lum), CONTRAST_PERCENTILE)
        )
        if ratio >= required:
            break
    return {"kind": "scrim", "colour": colour, "rgb": rgb, "alpha": alpha}, ratio


def _overlaps(a: Rect, b: Rect) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]
