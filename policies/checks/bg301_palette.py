"""BG301 palette: dominant colours of the design layer are off the kit palette (CIEDE2000).

What must be on palette: the brand's *design layer*. What is exempt: a photograph's own colours
(skin, wood, coffee, sky are not the palette's business; a kit that wants to govern photographic
colour turns on BG303 with `imagery:` ranges). Which area is the design layer depends on what
the creative is, and the evidence (`judged`) says which area was judged and why:

- A **flat or illustrated** creative (the brief's `style: flat`, or, with no style, at least
  `flat_style_share` (0.75) of the image drawn flat): every flat pixel, as a designer's flat
  and gradient fills, plates and type are all design.
- A **photographic** creative (`style: photo`, or less of it drawn flat): only what was placed
  on it. With brandgate's placement record (the pipeline's compositing: plates, bands, text
  boxes, the logo), the uniform fills inside those placed boxes and the placed text colours;
  without one (a file checked on its own), the uniform fills of the image, which is how a drawn
  plate or band differs from a photograph's smooth areas (a sky or a studio sweep shades;
  a plate is one colour).

A pixel is flat when its 5×5 neighbourhood (at full resolution, up to 1024 px) varies by less
than `flat_tolerance` (CIE76 standard deviation): grain, texture and shading make a pixel scene;
composited flat colour and smooth gradients do not. A uniform fill is a connected flat region of
at least `min_fill_area` of the image whose colour varies by less than `fill_tolerance` (sum of
the CIELAB standard deviations).

A design colour is on palette when its CIEDE2000 difference to the nearest allowed colour is at
most `max_delta_e`. Allowed colours: the palette, blends of any two palette colours (gradients
between brand colours, tints towards white), and, unless `allow_neutral` is false, neutral
greys and black (chroma below 6), which brand guides allow for type and shadows. The check
fails when the off-palette design colours together cover at least `min_area` of the image (on
a photograph with a placement record where less than that is placed: at least half of what was
placed), or a placed text colour is off the palette; "dominant"
means exactly that. It reports each such colour with its share, the nearest palette colour and
the difference. `skip` when there is no design layer to judge.

Options (policy.yaml, under BG301):

- `max_delta_e` (10): largest CIEDE2000 difference to the nearest allowed colour.
- `min_area` (0.05): share of the image that off-palette design colours must cover to fail.
- `flat_tolerance` (1.0): local variation (CIE76) under which a pixel counts as drawn flat.
- `flat_style_share` (0.75): share of the image drawn flat from which a creative with no
  declared style is judged as flat art.
- `fill_tolerance` (3.0), `min_fill_area` (0.002): what a uniform fill is (above).
- `allow_blends` (true): blends of two palette colours are on palette.
- `allow_neutral` (true): greys and black are on palette.
- `severity`: `flag` (default) or `reject`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import cv2
import numpy as np
from numpy.typing import NDArray

from policies.check import Outcome
from policies.colour import delta_e_2000, hex_to_rgb, rgb_to_hex, srgb_to_lab
from policies.downscale import shrunk
from policies.options import number, switch

if TYPE_CHECKING:
    from policies.brief import Brief
    from policies.creative import Creative
    from policies.kit import Kit

ID = "BG301"
NAME = "palette"
FAMILY = "colour"
DEFAULT_SEVERITY = "flag"

WORK_LONG_SIDE = 1024
BLEND_STEPS = 9  # points along each pair of palette colours, ends excluded
NEUTRAL_CHROMA = 6.0


def run(creative: Creative, brief: Brief | None, kit: Kit, options: Mapping[str, Any]) -> Outcome:
    max_delta_e = number(options, ID, "max_delta_e", 10.0)
    min_area = number(options, ID, "min_area", 0.05)
    flat_tolerance = number(options, ID, "flat_tolerance", 1.0)
    flat_style_share = number(options, ID, "flat_style_share", 0.75)
    fill_tolerance = number(options, ID, "fill_tolerance", 3.0)
    min_fill_area = number(options, ID, "min_fill_area", 0.002)
    allow_blends = switch(options, ID, "allow_blends", True)
    allow_neutral = switch(options, ID, "allow_neutral", True)

    full = shared_work_copy(creative)
    scale = full.shape[1] / creative.width
    # Flatness at full resolution (grain survives there); colours counted on every other pixel.
    flat_full = shared_flat_pixels(creative, flat_tolerance)
    flat_share = float(flat_full.mean())
    declared = brief.style if brief is not None else None
    style = declared or ("flat" if flat_share >= flat_style_share else "photo")
    judged: dict[str, Any] = {
        "style": style,
        "style_from": "brief" if declared else f"measured: {flat_share:.0%} of the image drawn flat",
    }
    text_colours: list[str] = []
    if style == "flat":
        design_full = flat_full
        judged["area"] = "every flat pixel: on flat art, fills, plates and type are all design"
    else:
        fills = uniform_fills(full, flat_full, fill_tolerance, min_fill_area, lab=shared_lab(creative))
        boxes = placed_boxes(creative.placements, scale, full.shape[:2])
        if creative.placements:
            design_full = fills & boxes
            text_colours = [str(p["text_colour"]) for p in creative.placements if p.get("text_colour")]
            judged["area"] = (
                "the uniform fills inside what brandgate placed (plates, bands, text boxes, the logo) and the "
                "placed text colours; the photograph's own colours are not judged"
            )
        else:
            design_full = fills
            judged["area"] = (
                "the uniform fills drawn on the photograph (plates, bands); no placement record came with the "
                "file, and the photograph's own colours are not judged"
            )
    flat = design_full[::2, ::2]
    rgb = full[::2, ::2]
    total = rgb.shape[0] * rgb.shape[1]
    design_share = float(flat.mean())
    judged["share"] = round(design_share, 4)
    # What brandgate placed on a photograph may be small, and it is all there is: judged
    # against its own size. Fills found on a bare photograph keep the image-wide bar.
    needed = min(min_area, design_share / 2) if style == "photo" and creative.placements else min_area
    if design_share < min_area and (style == "flat" or design_share == 0) and not text_colours:
        why = "all scene" if style == "flat" else "a photograph with nothing drawn on it"
        return Outcome(
            "skip",
            f"no design layer to judge: only {design_share:.1%} of the image is design ({why})",
            evidence={"design_share": round(design_share, 4), "judged": judged},
        )
    # Flat areas hold few distinct colours: judge each distinct colour once, weighted by its area.
    quantised = (rgb[flat] // 4).astype(np.int32)
    keys = (quantised[:, 0] << 12) | (quantised[:, 1] << 6) | quantised[:, 2]
    unique, counts = np.unique(keys, return_counts=True)
    colours = np.column_stack([(unique >> 12) & 63, (unique >> 6) & 63, unique & 63]) * 4 + 2

    names = list(kit.spec.palette)
    palette_rgb = np.array([kit.colour(n) for n in names], np.float64)
    allowed_lab, allowed_name = _allowed(palette_rgb, names, allow_blends)
    off, distance, nearest, lab = _off_palette(colours, allowed_lab, max_delta_e, allow_neutral)

    off_share = float(counts[off].sum() / total)
    evidence: dict[str, Any] = {
        "design_share": round(design_share, 4),
        "judged": judged,
        "off_palette_share": round(off_share, 4),
        "off_palette": _summary(colours[off], counts[off], lab[off], distance[off], nearest[off], allowed_name, total),
    }
    off_text = _off_palette_text(text_colours, allowed_lab, allowed_name, max_delta_e, allow_neutral)
    if off_text:
        evidence["off_palette_text"] = off_text
    if off_share >= needed and off_share > 0:
        top = evidence["off_palette"][0]
        return Outcome(
            "fail",
            f"{off_share:.0%} of the image is drawn in colours off the kit palette, "
            f"mostly {top['hex']} "
            f"(ΔE2000 {top['delta_e']} from {top['nearest']}); judged: {_judged_words(judged)}",
            confidence=min(0.95, 0.6 + off_share),
            evidence=evidence,
        )
    if off_text:
        first = off_text[0]
        return Outcome(
            "fail",
            f"placed text is drawn in {first['hex']}, off the kit palette (ΔE2000 {first['delta_e']} from "
            f"{first['nearest']})",
            confidence=0.9,
            evidence=evidence,
        )
    return Outcome(
        "pass",
        f"design colours are on the kit palette ({off_share:.1%} off, under {needed:.1%}); "
        f"judged: {_judged_words(judged)}",
        confidence=0.9,
        evidence=evidence,
    )


def _judged_words(judged: Mapping[str, Any]) -> str:
    return f"{judged['share']:.0%} of the image, {judged['style']} ({judged['style_from']})"


def _off_palette(
    colours: NDArray[np.int64], allowed_lab: NDArray[np.float64], max_delta_e: float, allow_neutral: bool
) -> tuple[NDArray[np.bool_], NDArray[np.float64], NDArray[np.int64], NDArray[np.float64]]:
    """Which colours are off the allowed set, their distance and nearest allowed colour, their CIELAB."""
    lab = srgb_to_lab(colours.astype(np.float64))
    if len(lab) == 0:
        empty = np.zeros(0)
        return empty.astype(bool), empty, empty.astype(np.int64), lab.reshape(0, 3)
    delta = delta_e_2000(lab[:, None, :], allowed_lab[None, :, :])
    nearest = delta.argmin(axis=1)
    distance = delta[np.arange(len(lab)), nearest]
    off = distance > max_delta_e
    if allow_neutral:
        off &= np.hypot(lab[:, 1], lab[:, 2]) >= NEUTRAL_CHROMA
    return off, distance, nearest, lab


def _off_palette_text(
    hexes: list[str], allowed_lab: NDArray[np.float64], names: list[str], max_delta_e: float, allow_neutral: bool
) -> list[dict[str, Any]]:
    """The placed text colours (as the placement record names them) that are off the palette."""
    if not hexes:
        return []
    colours = np.array([hex_to_rgb(h) for h in dict.fromkeys(hexes)], np.int64)
    off, distance, nearest, _ = _off_palette(colours, allowed_lab, max_delta_e, allow_neutral)
    return [
        {"hex": rgb_to_hex(colours[i]), "nearest": names[int(nearest[i])], "delta_e": round(float(distance[i]), 1)}
        for i in np.flatnonzero(off)
    ]


def placed_boxes(placements: Sequence[Mapping[str, Any]], scale: float, shape: tuple[int, ...]) -> NDArray[np.bool_]:
    """The boxes brandgate placed things in (plates, bands, text boxes, the logo), at working scale."""
    mask = np.zeros(shape[:2], bool)
    for placement in placements:
        for key in ("plate_box", "text_box", "box"):
            box = placement.get(key)
            if isinstance(box, list | tuple) and len(box) == 4:
                left, top, right, bottom = (max(0, round(float(v) * scale)) for v in box)
                mask[top:bottom, left:right] = True
    return mask


def uniform_fills(
    rgb: NDArray[np.uint8],
    flat: NDArray[np.bool_],
    tolerance: float,
    min_area: float,
    lab: NDArray[np.float32] | None = None,
) -> NDArray[np.bool_]:
    """Connected flat regions of one colour (plates, bands, flat type), not a photograph's shading.

    `lab` is `rgb` in CIELAB when the caller has it already (`shared_lab`)."""
    count, labels, stats, _ = cv2.connectedComponentsWithStats(flat.astype(np.uint8), connectivity=8)
    lab = (to_lab(rgb) if lab is None else lab).reshape(-1, 3).astype(np.float64)
    flat_labels = labels.ravel()
    area = np.maximum(stats[:, cv2.CC_STAT_AREA], 1).astype(np.float64)
    spread = np.zeros(count)
    for channel in range(3):
        total = np.bincount(flat_labels, weights=lab[:, channel], minlength=count)
        squares = np.bincount(flat_labels, weights=lab[:, channel] ** 2, minlength=count)
        spread += np.sqrt(np.clip(squares / area - (total / area) ** 2, 0, None))
    keep = (stats[:, cv2.CC_STAT_AREA] >= min_area * flat.size) & (spread < tolerance)
    keep[0] = False  # label 0 is everything that is not flat
    result: NDArray[np.bool_] = keep[labels] & flat
    return result


def work_copy(rgb: NDArray[np.uint8]) -> NDArray[np.uint8]:
    long_side = max(rgb.shape[:2])
    if long_side <= WORK_LONG_SIDE:
        return rgb
    factor = WORK_LONG_SIDE / long_side
    result: NDArray[np.uint8] = shrunk(rgb, factor)
    return result


def shared_work_copy(creative: Creative) -> NDArray[np.uint8]:
    """`work_copy` of the creative, made once for every check that measures on it (BG202, BG301, BG303)."""
    return creative.shared(f"{ID}.work_copy", lambda: work_copy(creative.rgb))


def shared_lab(creative: Creative) -> NDArray[np.float32]:
    """The work copy in CIELAB, converted once per creative."""
    return creative.shared(f"{ID}.work_lab", lambda: read_only(to_lab(shared_work_copy(creative))))


def shared_flat_pixels(creative: Creative, tolerance: float) -> NDArray[np.bool_]:
    """`flat_pixels` of the work copy, worked out once per creative and tolerance."""
    return creative.shared(f"{ID}.flat:{tolerance!r}", lambda: read_only(flat_in_lab(shared_lab(creative), tolerance)))


def read_only(array: NDArray[Any]) -> NDArray[Any]:
    """Checks on other threads read a shared array: one that wrote to it would change their answer."""
    array.setflags(write=False)
    return array


def to_lab(rgb: NDArray[np.uint8]) -> NDArray[np.float32]:
    converted = cv2.cvtColor(rgb.astype(np.float32) / 255.0, cv2.COLOR_RGB2Lab)
    lab: NDArray[np.float32] = converted.astype(np.float32, copy=False)
    return lab


def flat_pixels(rgb: NDArray[np.uint8], tolerance: float) -> NDArray[np.bool_]:
    """Pixels whose 5×5 neighbourhood varies less than `tolerance` in CIELAB."""
    return flat_in_lab(to_lab(rgb), tolerance)


def flat_in_lab(lab: NDArray[np.float32], tolerance: float) -> NDArray[np.bool_]:
    """`flat_pixels` of a picture already in CIELAB."""
    mean = cv2.blur(lab, (5, 5))
    mean_sq = cv2.blur(lab * lab, (5, 5))
    variance = np.clip(mean_sq - mean * mean, 0, None).sum(axis=2)
    flat: NDArray[np.bool_] = np.sqrt(variance) < tolerance
    return flat


def _allowed(palette_rgb: NDArray[np.float64], names: list[str], blends: bool) -> tuple[NDArray[np.float64], list[str]]:
    colours = [palette_rgb]
    labels = list(names)
    if blends:
        # Blends are made in sRGB, as gradients and tints are drawn by design tools.
        steps = np.linspace(0, 1, BLEND_STEPS + 2)[1:-1]
        for i in range(len(names)):
            for j in range(i + 1, len(names)):
                mix = palette_rgb[i][None, :] * (1 - steps[:, None]) + palette_rgb[j][None, :] * steps[:, None]
                colours.append(mix)
                labels.extend([f"{names[i]}/{names[j]} blend"] * len(steps))
    return srgb_to_lab(np.concatenate(colours)), labels


def _summary(
    colours: NDArray[np.int64],
    counts: NDArray[np.int64],
    lab: NDArray[np.float64],
    distance: NDArray[np.float64],
    nearest: NDArray[np.int64],
    names: list[str],
    total: int,
) -> list[dict[str, Any]]:
    """Off-palette colours merged when within ΔE2000 5 of each other, largest first, top five."""
    order = np.argsort(-counts)[:200]
    groups: list[dict[str, Any]] = []
    centres: list[NDArray[np.float64]] = []
    for i in order:
        for group, centre in zip(groups, centres, strict=True):
            if float(delta_e_2000(lab[i], centre)) < 5:
                group["pixels"] += int(counts[i])
                break
        else:
            if len(groups) >= 12:
                continue
            centres.append(lab[i])
            groups.append(
                {
                    "hex": rgb_to_hex(colours[i]),
                    "pixels": int(counts[i]),
                    "nearest": names[int(nearest[i])],
                    "delta_e": round(float(distance[i]), 1),
                }
            )
    groups.sort(key=lambda g: -g["pixels"])
    out = []
    for g in groups[:5]:
        share = g.pop("pixels") / total
        out.append({**g, "share": round(share, 4)})
    return out
