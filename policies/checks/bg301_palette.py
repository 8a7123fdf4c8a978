"""BG301 palette: dominant colours of the design layer are off the kit palette (CIEDE2000).

What must be on palette: the brand's *design layer*, that is everything drawn flat: plates,
bands, flat or gradient backgrounds, type and logo fills. What is exempt: the *scene*, the
photographic or generated content with natural variation (apples are red whatever the brand).
The two are told apart by local flatness: a pixel belongs to the design layer when its 5×5
neighbourhood (at full resolution, up to 1024 px) varies by less than `flat_tolerance` (CIE76
standard deviation). Grain, texture and shading make a pixel scene; composited flat colour and
smooth gradients do not.
Consequence: a large, perfectly smooth area of a photograph (a seamless studio sweep, a
cloudless sky) is treated as design layer, and flagged if it is off palette; the default
severity is `flag` so that a person decides.

A design colour is on palette when its CIEDE2000 difference to the nearest allowed colour is at
most `max_delta_e`. Allowed colours: the palette, blends of any two palette colours (gradients
between brand colours, tints towards white), and, unless `allow_neutral` is false, neutral
greys and black (chroma below 6), which brand guides allow for type and shadows. The check
fails when the off-palette design colours together cover at least `min_area` of the image;
"dominant" means exactly that. It reports each such colour with its share, the nearest palette
colour and the difference.

Options (policy.yaml, under BG301):

- `max_delta_e` (10): largest CIEDE2000 difference to the nearest allowed colour.
- `min_area` (0.05): share of the image that off-palette design colours must cover to fail.
- `flat_tolerance` (1.0): local variation (CIE76) under which a pixel counts as design layer.
- `allow_blends` (true): blends of two palette colours are on palette.
- `allow_neutral` (true): greys and black are on palette.
- `severity`: `flag` (default) or `reject`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import cv2
import numpy as np
from numpy.typing import NDArray

from policies.check import Outcome
from policies.colour import delta_e_2000, rgb_to_hex, srgb_to_lab
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
    allow_blends = switch(options, ID, "allow_blends", True)
    allow_neutral = switch(options, ID, "allow_neutral", True)

    full = _work_copy(creative.rgb)
    # Flatness at full resolution (grain survives there); colours counted on every other pixel.
    flat = _design_layer(full, flat_tolerance)[::2, ::2]
    rgb = full[::2, ::2]
    design_share = float(flat.mean())
    if design_share < min_area:
        return Outcome(
            "skip",
            f"no design layer to judge: only {design_share:.1%} of the image is drawn flat (all scene)",
            evidence={"design_share": round(design_share, 4)},
        )
    # Flat areas hold few distinct colours: judge each distinct colour once, weighted by its area.
    quantised = (rgb[flat] // 4).astype(np.int32)
    keys = (quantised[:, 0] << 12) | (quantised[:, 1] << 6) | quantised[:, 2]
    unique, counts = np.unique(keys, return_counts=True)
    colours = np.column_stack([(unique >> 12) & 63, (unique >> 6) & 63, unique & 63]) * 4 + 2
    lab = srgb_to_lab(colours.astype(np.float64))

    names = list(kit.spec.palette)
    palette_rgb = np.array([kit.colour(n) for n in names], np.float64)
    allowed_lab, allowed_name = _allowed(palette_rgb, names, allow_blends)
    delta = delta_e_2000(lab[:, None, :], allowed_lab[None, :, :])
    nearest = delta.argmin(axis=1)
    distance = delta[np.arange(len(lab)), nearest]
    off = distance > max_delta_e
    if allow_neutral:
        off &= np.hypot(lab[:, 1], lab[:, 2]) >= NEUTRAL_CHROMA

    total = rgb.shape[0] * rgb.shape[1]
    off_share = float(counts[off].sum() / total)
    evidence: dict[str, Any] = {
        "design_share": round(design_share, 4),
        "off_palette_share": round(off_share, 4),
        "off_palette": _summary(colours[off], counts[off], lab[off], distance[off], nearest[off], allowed_name, total),
    }
    if off_share >= min_area:
        top = evidence["off_palette"][0]
        return Outcome(
            "fail",
            f"{off_share:.0%} of the image is drawn in colours off the kit palette, "
            f"mostly {top['hex']} "
            f"(ΔE2000 {top['delta_e']} from {top['nearest']})",
            confidence=min(0.95, 0.6 + off_share),
            evidence=evidence,
        )
    return Outcome(
        "pass",
        f"design colours are on the kit palette ({off_share:.1%} off, under {min_area:.0%})",
        confidence=0.9,
        evidence=evidence,
    )


def _work_copy(rgb: NDArray[np.uint8]) -> NDArray[np.uint8]:
    long_side = max(rgb.shape[:2])
    if long_side <= WORK_LONG_SIDE:
        return rgb
    factor = WORK_LONG_SIDE / long_side
    result: NDArray[np.uint8] = shrunk(rgb, factor)
    return result


def _design_layer(rgb: NDArray[np.uint8], tolerance: float) -> NDArray[np.bool_]:
    """Pixels whose 5×5 neighbourhood varies less than `tolerance` in CIELAB."""
    lab = cv2.cvtColor(rgb.astype(np.float32) / 255.0, cv2.COLOR_RGB2Lab)
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
