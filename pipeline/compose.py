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
from policies.characters import quote
from policies.errors import InvalidInput
from policies.glyphs import describe_missing, missing_glyphs
from policies.kit import Kit, Layout, LogoPlacement

AA_NORMAL = 4.5
AA_LARGE = 3.0
LARGE_TEXT_PX = 24  # WCAG "large": 18 pt = 24 CSS px
LINE_SPACING = 1.15
# Contrast is judged on the darkest-to-text 10 % of the pixels behind the text, not the mean:
# white type over a sky with one dark tree must still read where the tree is.
CONTRAST_PERCENTILE = 10
SCRIM_ALPHAS = (0.45, 0.55, 0.65, 0.75, 0.85, 1.0)
# Text boxes that cannot hold their text at the minimum font size grow by these factors (height),
# never past a margin of this fraction of the shorter side.
GROWTH = (1.0, 1.25, 1.5, 2.0, 2.5, 3.0, 4.0, 5.0, 6.0, 8.0)
SAFE_MARGIN = 0.03
MOVE_GAP = 6  # pixels between a moved text box and what it moved away from
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


@dataclass(frozen=True)
class TextPlan:
    """Where one text element goes and at what size: decided before any pixel is drawn."""

    element: str
    text: str
    font_role: str
    font_path: Path
    align: Literal["center", "left"]
    box: Rect
    fit: _TextFit
    text_rect: Rect
    plate_rect: Rect
    pad: int
    grown: bool


@dataclass(frozen=True)
class LayoutPlan:
    """The whole creative's geometry for one brief, kit and canvas size."""

    layout_name: str
    layout: Layout
    size: tuple[int, int]
    logo: tuple[Path, Rect, Rect, dict[str, Any]] | None
    texts: list[TextPlan]


def plan_layout(brief: Brief, kit: Kit, size: tuple[int, int], layout_name: str | None = None) -> LayoutPlan:
    """Place the brief's logo and text on a canvas of `size` by the kit's layout, without drawing.

    A text box that cannot hold its text at the layout's minimum font size grows (taller first,
    then wider) within the canvas's safe area, clear of the logo and of text already placed; the
    text wraps to fit. What still does not fit is refused (InvalidInput), so a brief can be
    refused at intake, before any GPU time. Characters the font cannot draw are refused too:
    they would print as the .notdef box.
    """
    name = layout_name or brief.layout or "default"
    layout = kit.layout(name)
    width, height = size
    logo: tuple[Path, Rect, Rect, dict[str, Any]] | None = None
    blocked: list[Rect] = []
    if brief.logo:
        logo_rect, logo_zone, placement = _place_logo(kit, layout, brief.logo, width, height)
        logo = (kit.logo_path(brief.logo), logo_rect, logo_zone, placement)
        blocked.append(logo_zone)

    texts: list[tuple[str, str, str, Literal["center", "left"]]] = []
    if brief.headline:
        texts.append(("headline", brief.headline, layout.headline_font, "center"))
    disclaimer = _disclaimer_text(brief, kit)
    if disclaimer:
        texts.append(("disclaimer", disclaimer, layout.body_font, "left"))
    plans: list[TextPlan] = []
    # The disclaimer is placed first: it is legally required and has the least room, so the
    # headline is the one that moves when both cannot keep their boxes.
    for element, text, font_role, align in sorted(texts, key=lambda t: t[0] != "disclaimer"):
        font_path = kit.font_path(font_role)
        try:
            missing = missing_glyphs(text, font_path)
        except OSError as exc:
            raise InvalidInput(f"font {font_path.name} cannot be read: {exc}", "fonts") from None
        if missing:
            raise InvalidInput(
                f"{describe_missing(missing, font_path)}: it would print as an empty box; "
                f"remove or replace the character",
                element,
            )
        box = _box_pixels(layout.headline_box if element == "headline" else layout.disclaimer_box, width, height)
        planned = _plan_text(element, text, font_role, font_path, box, align, layout, size, blocked, name)
        plans.append(planned)
        blocked.append(planned.plate_rect)
    plans.sort(key=lambda p: p.element != "headline")
    return LayoutPlan(layout_name=name, layout=layout, size=size, logo=logo, texts=plans)


def check_brief_fits(brief: Brief, kit: Kit, *, composing: bool | None = None) -> None:
    """The one test that `kit` can serve `brief`; InvalidInput (exit 2) naming what to change.

    Used wherever a brief meets a kit (brief validate, check, render, intake for generate and the
    bot, the regression suite loader), so none of them accepts what another refuses. It looks at
    the kit the brief names, its logo variant and layout, and, when brand elements will be placed
    (`composing`, by default the brief's own wish), plans them on the brief's canvas: text that
    cannot fit or that the font cannot draw is refused here, before any GPU time.
    """
    if brief.kit != kit.name:
        raise InvalidInput(f"the brief is for kit {quote(brief.kit)} but was given kit {quote(kit.name)}", "kit")
    if brief.logo is not None:
        kit.logo_path(brief.logo)
    if brief.layout is not None:
        kit.layout(brief.layout)
    if brief.wants_composition if composing is None else composing:
        plan_layout(brief, kit, brief.size)


def compose(
    background: Image.Image, brief: Brief, kit: Kit, layout_name: str | None = None
) -> Composition:
    """Place the brief's headline, disclaimer and logo on `background` by the kit's layout.

    Refuses (InvalidInput) rather than overflowing a box, shrinking a logo below its minimum
    or letting text into the logo's clear space (see `plan_layout`).
    """
    canvas = background.convert("RGB")
    plan = plan_layout(brief, kit, canvas.size, layout_name)
    layout = plan.layout
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

    logo_layer: tuple[Image.Image, tuple[int, int]] | None = None
    if plan.logo is not None and brief.logo:
        logo_path, logo_rect, _zone, placement = plan.logo
        logo_layer = (_logo_pixels(logo_path, brief.logo, logo_rect), (logo_rect[0], logo_rect[1]))
        ingredients.append(
            {
                "role": "logo",
                "variant": brief.logo,
                "path": str(logo_path),
                "sha256": sha256_file(logo_path),
            }
        )
        placements.append(placement)

    overlay = Image.new("RGBA", canvas.size, (0, 0, 0, 0))
    text_colour = kit.colour(layout.text_colour)
    for text_plan in plan.texts:
        fonts_used.setdefault(text_plan.font_path, text_plan.font_role)
        placements.append(_draw_text(canvas, overlay, text_plan, layout, kit, text_colour))

    composed = Image.alpha_composite(canvas.convert("RGBA"), overlay)
    if logo_layer is not None:
        composed.alpha_composite(logo_layer[0], dest=logo_layer[1])
    for path, role in fonts_used.items():
        ingredients.append(
            {"role": "font", "font_role": role, "path": str(path), "sha256": sha256_file(path)}
        )
    return Composition(
        image=composed.convert("RGB"), ingredients=ingredients, placements=placements, layout=plan.layout_name
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
) -> tuple[Rect, Rect, dict[str, Any]]:
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
            logo_size = opened.size
    except (OSError, Image.DecompressionBombError) as exc:
        raise InvalidInput(
            f"logo {variant!r} ({path.name}) is not a readable image: {exc}", "logos"
        ) from None
    aspect = logo_size[1] / max(1, logo_size[0])
    logo_w = max(round(where.width * width), spec.min_width_px)
    # On a wide, short canvas the layout's width fraction can make the logo taller than the
    # canvas: it shrinks towards its minimum width until it fits with its clear space.
    while logo_w > spec.min_width_px and not _logo_fits(logo_w, aspect, spec.clear_space, where.margin, width, height):
        logo_w = max(spec.min_width_px, math.floor(logo_w * 0.9))
    logo_h = max(1, round(aspect * logo_w))
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
    return rect, zone, placement


def _logo_fits(logo_w: int, aspect: float, clear_space: float, margin: float, width: int, height: int) -> bool:
    room = max(round(margin * width), math.ceil(clear_space * logo_w))
    return logo_w + 2 * room <= width and max(1, round(aspect * logo_w)) + 2 * room <= height


def _logo_pixels(path: Path, variant: str, rect: Rect) -> Image.Image:
    try:
        with Image.open(path) as opened:
            logo = opened.convert("RGBA")
    except (OSError, Image.DecompressionBombError) as exc:
        raise InvalidInput(f"logo {variant!r} ({path.name}) is not a readable image: {exc}", "logos") from None
    return logo.resize((rect[2] - rect[0], rect[3] - rect[1]), Image.Resampling.LANCZOS)


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


def _text_rects(
    fitted: _TextFit, box: Rect, align: Literal["center", "left"], size: tuple[int, int]
) -> tuple[Rect, Rect, int]:
    left, top, right, bottom = box
    box_w, box_h = right - left, bottom - top
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
        min(size[0], text_rect[2] + pad),
        min(size[1], text_rect[3] + pad // 2),
    )
    return text_rect, plate_rect, pad


def _grown_boxes(box: Rect, align: Literal["center", "left"], size: tuple[int, int], blocked: list[Rect]) -> list[Rect]:
    """Larger boxes to try, smallest first: taller (away from the nearer edge), then wider, in the safe area.

    Each is also offered cut clear of any blocked area (the logo's clear space, text already
    placed) that shares its rows, keeping the larger side.
    """
    width, height = size
    margin = max(2, round(SAFE_MARGIN * min(width, height)))
    safe = (margin, margin, width - margin, height - margin)
    left, top, right, bottom = box
    grow_up = (top + bottom) / 2 > height / 2
    candidates: set[Rect] = set()
    for factor in GROWTH:
        h = min(max(1, round((bottom - top) * factor)), safe[3] - safe[1])
        if grow_up:
            b = min(bottom, safe[3])
            t = max(safe[1], b - h)
        else:
            t = max(top, safe[1])
            b = min(safe[3], t + h)
        for wide in (False, True):
            if not wide:
                x0, x1 = max(left, safe[0]), min(right, safe[2])
            elif align == "center":
                x0, x1 = safe[0], safe[2]
            else:
                x0, x1 = max(left, safe[0]), safe[2]
            if x1 - x0 < 1 or b - t < 1:
                continue
            candidates.add((x0, t, x1, b))
            cut = _clear_of(x0, t, x1, b, blocked)
            if cut is not None:
                candidates.add(cut)
            candidates.update(_moved_clear(x0, t, x1, b, blocked, safe))
    anchored = bottom if grow_up else top

    def preference(r: Rect) -> tuple[bool, int, int, Rect]:
        # Boxes that keep the layout's edge (grown or cut) before boxes moved elsewhere; then smallest.
        edge = r[3] if grow_up else r[1]
        return (edge != min(max(anchored, safe[1]), safe[3]), (r[2] - r[0]) * (r[3] - r[1]), abs(r[1] - top), r)

    return sorted(candidates, key=preference)


def _moved_clear(left: int, top: int, right: int, bottom: int, blocked: list[Rect], safe: Rect) -> list[Rect]:
    """The box moved just above or just below each blocked area it runs into, inside the safe area."""
    moved = []
    h = bottom - top
    for zone in blocked:
        if not (zone[1] < bottom and top < zone[3] and zone[0] < right and left < zone[2]):
            continue
        if zone[1] - MOVE_GAP - h >= safe[1]:
            moved.append((left, zone[1] - MOVE_GAP - h, right, zone[1] - MOVE_GAP))
        if zone[3] + MOVE_GAP + h <= safe[3]:
            moved.append((left, zone[3] + MOVE_GAP, right, zone[3] + MOVE_GAP + h))
    return moved


def _clear_of(left: int, top: int, right: int, bottom: int, blocked: list[Rect]) -> Rect | None:
    for zone in blocked:
        if zone[1] < bottom and top < zone[3] and zone[0] < right and left < zone[2]:
            room_left, room_right = zone[0] - left, right - zone[2]
            if room_left >= room_right:
                right = min(right, zone[0])
            else:
                left = max(left, zone[2])
    return (left, top, right, bottom) if right - left >= 1 else None


def _plan_text(
    element: str,
    text: str,
    font_role: str,
    font_path: Path,
    box: Rect,
    align: Literal["center", "left"],
    layout: Layout,
    size: tuple[int, int],
    blocked: list[Rect],
    layout_name: str,
) -> TextPlan:
    def attempt(candidate: Rect, grown: bool) -> TextPlan | None:
        try:
            fitted = _fit(text, font_path, candidate[2] - candidate[0], candidate[3] - candidate[1], layout.min_font_px)
        except OSError as exc:
            raise InvalidInput(f"font {font_path.name} cannot be read: {exc}", "fonts") from None
        if fitted is None:
            return None
        text_rect, plate_rect, pad = _text_rects(fitted, candidate, align, size)
        if grown and any(_overlaps(plate_rect, zone) for zone in blocked):
            return None
        return TextPlan(
            element, text, font_role, font_path, align, candidate, fitted, text_rect, plate_rect, pad, grown
        )

    planned = attempt(box, grown=False)
    if planned is not None and not any(_overlaps(planned.plate_rect, zone) for zone in blocked):
        return planned
    for candidate in _grown_boxes(box, align, size, blocked):
        grown = attempt(candidate, grown=True)
        if grown is not None:
            return grown
    if planned is not None:
        zone = next(z for z in blocked if _overlaps(planned.plate_rect, z))
        raise InvalidInput(
            f"layout {layout_name!r}: the {element} at {list(planned.plate_rect)} would enter "
            f"the logo's clear space or other text {list(zone)}, and no room around it holds it; "
            f"move the {element} box or the logo anchor in kit.yaml",
            "layout",
        )
    width, height = size
    raise InvalidInput(
        f"{element} {quote(text, 80)} does not fit the {element} box of layout {layout_name!r} "
        f"({box[2] - box[0]}x{box[3] - box[1]}px on a {width}x{height} canvas) even at the minimum font size "
        f"{layout.min_font_px}px with the box grown to the safe area; shorten it or use a larger size",
        element,
    )


def _draw_text(
    canvas: Image.Image,
    overlay: Image.Image,
    plan: TextPlan,
    layout: Layout,
    kit: Kit,
    text_colour: tuple[int, int, int],
) -> dict[str, Any]:
    fitted, plate_rect, pad = plan.fit, plan.plate_rect, plan.pad
    left, right = plan.box[0], plan.box[2]
    box_w = right - left
    y0 = plan.text_rect[1]
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
        x = left + (box_w - line_w) // 2 if plan.align == "center" else left
        origin = (x, y0 + number * fitted.line_height)
        draw.text(origin, line, font=fitted.font, fill=(*text_colour, 255))
        origins.append(list(origin))
    return {
        "element": plan.element,
        "text": plan.text,
        "font": str(plan.font_path),
        "font_px": fitted.size,
        "lines": fitted.lines,
        # Where each line was drawn (Pillow's top-left anchor): the checks lay the same text
        # rendered in the same font over the finished image and compare glyph by glyph.
        "line_origins": origins,
        "line_height": fitted.line_height,
        "text_colour": "#{:02X}{:02X}{:02X}".format(*text_colour),
        "box": list(plan.box),
        "box_grown": plan.grown,
        "text_box": list(plan.text_rect),
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
