"""BG202 logo-size-clear-space: logo under the kit's minimum, or something in its clear space.

Applies when the brief names a logo variant and the logo was located (the same localisation as
BG201, computed once per creative). Without a logo in the brief, or when the logo cannot be
found (BG201 then fails), it reports `unverified` with the reason.

- *Size*: the logo's width along its own axis (rotation does not shrink it) must be at least
  the kit's `logos.<variant>.min_width_px`.
- *Clear space*: the band around the logo, `logos.<variant>.clear_space` × the logo's width on
  every side (following its rotation), must hold nothing but background. On a plain band
  (a plate, a flat or gradient background) anything that differs from the band's own colour by
  more than `intrusion_delta_e` counts as drawn; on a textured band (a photograph behind the
  logo) a share of strong edges well above that of the surroundings does. The part of the band
  that runs off the canvas is reported, not failed. On a creative that comes with brandgate's
  placement record, a textured band, or any band of a photograph (brief `style: photo`, or
  less than 75 % of the image drawn flat, as BG301 measures it), holds the photograph's own
  detail, not something drawn: there the placed elements (text boxes, plates) covering the band
  are what intrudes (text the model painted there is BG104's to find).

Evidence: width, minimum, clear-space margin in px, intruding share of the band, and where.

Options (policy.yaml, under BG202):

- `max_intrusion` (0.02): share of the clear-space band that may be covered by other things.
- `intrusion_delta_e` (12): colour difference (CIE76) from the band's own colour that counts.
- `severity`: `flag` (default) or `reject`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import cv2
import numpy as np
from numpy.typing import NDArray

from policies.check import Outcome
from policies.checks.bg201_logo_match import locate_required
from policies.checks.bg301_palette import shared_flat_pixels
from policies.options import number

PHOTO_FLAT_SHARE = 0.75  # BG301's `flat_style_share`: less of the image drawn flat is a photograph

if TYPE_CHECKING:
    from policies import logos
    from policies.brief import Brief
    from policies.creative import Creative
    from policies.kit import Kit

ID = "BG202"
NAME = "logo-size-clear-space"
FAMILY = "logo"
DEFAULT_SEVERITY = "flag"

# Share of the band that must match its own dominant colour for the band to count as plain.
PLAIN_SHARE = 0.6


def run(creative: Creative, brief: Brief | None, kit: Kit, options: Mapping[str, Any]) -> Outcome:
    if brief is None or not brief.logo:
        return Outcome("skip", "the brief asks for no logo")
    max_intrusion = number(options, ID, "max_intrusion", 0.02)
    delta_e = number(options, ID, "intrusion_delta_e", 12.0)
    found = locate_required(creative, kit, brief.logo)
    located = found[brief.logo] or next((loc for loc in found.values() if loc is not None), None)
    if located is None:
        return Outcome(
            "unverified",
            f"not checked: logo size and clear space, logo {brief.logo!r} was not located (see BG201)",
        )
    spec = kit.spec.logos[located.variant]
    width = located.geometry.width_px
    evidence: dict[str, Any] = {
        "variant": located.variant,
        "width_px": round(width, 1),
        "min_width_px": spec.min_width_px,
    }
    placed = _placed_width(creative, located)
    if placed is not None:
        # The logo found is the one brandgate drew: its width is known exactly from the compositing
        # record, where the estimate from the located outline is off by a pixel or two.
        evidence.update(width_px=placed, measured_width_px=round(width, 1), width_from="placement record")
        width = placed
    if width < spec.min_width_px:
        return Outcome(
            "fail",
            f"logo {located.variant!r} is {width:.0f} px wide; the kit's minimum is {spec.min_width_px} px",
            confidence=0.9,
            evidence=evidence,
        )
    band, off_canvas = _clear_space_band(creative, located, spec.clear_space)
    margin = spec.clear_space * width
    evidence.update({"clear_space_px": round(margin, 1), "band_off_canvas": round(off_canvas, 3)})
    if band.sum() < 16:
        return Outcome(
            "pass",
            f"logo {width:.0f} px wide (minimum {spec.min_width_px}); no clear space to check",
            evidence=evidence,
        )
    intrusion, mode = _intrusion(creative.rgb, band, delta_e)
    if creative.placements and (mode == "textured" or _photographic(creative, brief)):
        intrusion, mode = _placed_intrusion(creative.placements, band), f"{mode}: the placed elements judged"
    evidence.update({"intrusion": round(intrusion, 4), "band": mode})
    if intrusion > max_intrusion and mode.endswith(": the placed elements judged"):
        return Outcome(
            "fail",
            f"a placed element is inside the logo's clear space ({intrusion:.1%} of a {margin:.0f} px band)",
            confidence=0.9,
            evidence=evidence,
        )
    if intrusion > max_intrusion:
        ys, xs = np.nonzero(_intruding_mask(creative.rgb, band, delta_e, mode))
        if len(xs):
            evidence["intrusion_box"] = [
                int(xs.min()),
                int(ys.min()),
                int(xs.max()) + 1,
                int(ys.max()) + 1,
            ]
        return Outcome(
            "fail",
            f"something is drawn inside the logo's clear space ({intrusion:.1%} of a {margin:.0f} px band)",
            confidence=0.8,
            evidence=evidence,
        )
    return Outcome(
        "pass",
        f"logo {width:.0f} px wide (minimum {spec.min_width_px}); clear space of {margin:.0f} px is free",
        evidence=evidence,
    )


# How much of the located outline's box must coincide with the placed logo's box to be that logo.
PLACED_OVERLAP = 0.8


def _placed_width(creative: Creative, located: logos.Located) -> float | None:
    """The width brandgate drew this logo at, when the creative's compositing record placed this
    variant where it was found; None for a file checked on its own or a logo found elsewhere."""
    xs = [x for x, _ in located.geometry.corners]
    ys = [y for _, y in located.geometry.corners]
    found = (min(xs), min(ys), max(xs), max(ys))
    for placement in creative.placements:
        box = placement.get("box")
        if placement.get("element") != "logo" or placement.get("variant") != located.variant or not box:
            continue
        x0, y0 = max(found[0], box[0]), max(found[1], box[1])
        x1, y1 = min(found[2], box[2]), min(found[3], box[3])
        overlap = max(0.0, x1 - x0) * max(0.0, y1 - y0)
        union = _area(found) + _area(box) - overlap
        if union > 0 and overlap / union >= PLACED_OVERLAP:
            return float(placement.get("width_px") or (box[2] - box[0]))
    return None


def _area(box: Any) -> float:
    return max(0.0, float(box[2]) - float(box[0])) * max(0.0, float(box[3]) - float(box[1]))


def _photographic(creative: Creative, brief: Brief) -> bool:
    if brief.style is not None:
        return brief.style == "photo"
    return float(shared_flat_pixels(creative, 1.0).mean()) < PHOTO_FLAT_SHARE


def _placed_intrusion(placements: tuple[Mapping[str, Any], ...], band: NDArray[np.bool_]) -> float:
    """Share of the band covered by the boxes of placed elements other than the logo."""
    covered = np.zeros(band.shape, bool)
    for placement in placements:
        if placement.get("element") == "logo":
            continue
        for key in ("plate_box", "text_box"):
            box = placement.get(key)
            if isinstance(box, list | tuple) and len(box) == 4:
                left, top, right, bottom = (max(0, round(float(v))) for v in box)
                covered[top:bottom, left:right] = True
    return float((covered & band).sum() / max(int(band.sum()), 1))


def _clear_space_band(
    creative: Creative, located: logos.Located, clear_space: float
) -> tuple[NDArray[np.bool_], float]:
    """Pixels of the clear-space band on the canvas, and the share of the band off the canvas."""
    h = located.homography
    fw = located.geometry.width_px / max(located.geometry.scale, 1e-6)
    fh = located.geometry.height_px / max(located.geometry.scale, 1e-6)
    # The frame is the logo's bounding box; the band is clear_space × width around it.
    margin = clear_space * fw
    # A couple of pixels around the logo belong to its anti-aliased edge, not to the band.
    edge = 2.5 / max(located.geometry.scale, 1e-6)
    outer = _quad(h, -margin, -margin, fw + margin, fh + margin)
    inner = _quad(h, -edge, -edge, fw + edge, fh + edge)
    pad = int(np.ceil(margin * located.geometry.scale)) + 4
    big = np.zeros((creative.height + 2 * pad, creative.width + 2 * pad), np.uint8)
    cv2.fillConvexPoly(big, (outer + pad).round().astype(np.int32), 1)
    cv2.fillConvexPoly(big, (inner + pad).round().astype(np.int32), 0)
    total = int(big.sum())
    band = big[pad : pad + creative.height, pad : pad + creative.width] > 0
    off = 1.0 - band.sum() / total if total else 0.0
    return band, float(off)


def _quad(h: NDArray[np.float64], x0: float, y0: float, x1: float, y1: float) -> NDArray[np.float64]:
    corners = np.array([[x0, y0], [x1, y0], [x1, y1], [x0, y1]], np.float64).reshape(-1, 1, 2)
    result: NDArray[np.float64] = cv2.perspectiveTransform(corners, h).reshape(-1, 2)  # type: ignore[assignment]  # OpenCV 5 stubs widen the dtype
    return result


def _lab(rgb: NDArray[np.uint8]) -> NDArray[np.float32]:
    result: NDArray[np.float32] = cv2.cvtColor(rgb.astype(np.float32) / 255.0, cv2.COLOR_RGB2Lab)  # type: ignore[assignment]  # OpenCV 5 stubs widen the dtype
    return result


def _band_deviation(rgb: NDArray[np.uint8], band: NDArray[np.bool_]) -> NDArray[np.float32]:
    """Per pixel, the CIE76 distance from a plane fitted to the band's colour (flat or gradient).

    The plane is fitted twice, the second time without the pixels the first fit left far out,
    so that an intruding shape does not drag the background model towards itself.
    """
    ys, xs = np.nonzero(band)
    lab = _lab(rgb)
    values = lab[ys, xs].astype(np.float64)
    design = np.column_stack([np.ones(len(xs)), xs / rgb.shape[1], ys / rgb.shape[0]])
    keep = np.ones(len(xs), bool)
    for _ in range(2):
        coef, *_ = np.linalg.lstsq(design[keep], values[keep], rcond=None)
        residual = np.linalg.norm(values - design @ coef, axis=1)
        keep = residual < max(6.0, float(np.percentile(residual, 60)))
    deviation = np.zeros(band.shape, np.float32)
    deviation[ys, xs] = residual
    return deviation


def _intrusion(rgb: NDArray[np.uint8], band: NDArray[np.bool_], delta_e: float) -> tuple[float, str]:
    """Share of the band covered by something drawn, and whether the band was plain or textured."""
    plain = _intruding_mask(rgb, band, delta_e, "plain")
    if 1.0 - plain[band].mean() >= PLAIN_SHARE:
        return float(plain[band].mean()), "plain"
    return _textured_intrusion(rgb, band), "textured"


def _intruding_mask(rgb: NDArray[np.uint8], band: NDArray[np.bool_], delta_e: float, mode: str) -> NDArray[np.bool_]:
    drawn = (_band_deviation(rgb, band) > delta_e) & band if mode == "plain" else _edges(rgb) & band
    opened = cv2.morphologyEx(drawn.astype(np.uint8), cv2.MORPH_OPEN, np.ones((3, 3), np.uint8))
    result: NDArray[np.bool_] = opened > 0
    return result


def _edges(rgb: NDArray[np.uint8]) -> NDArray[np.bool_]:
    grey = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
    edges = cv2.Canny(cv2.GaussianBlur(grey, (0, 0), 1.0), 60, 140)
    result: NDArray[np.bool_] = cv2.dilate(edges, np.ones((3, 3), np.uint8)) > 0
    return result


def _textured_intrusion(rgb: NDArray[np.uint8], band: NDArray[np.bool_]) -> float:
    """Edge density of the band above twice that of the surroundings, as a share of the band.

    A photograph behind the logo has edges everywhere; a shape or text placed next to the logo
    adds edges that its surroundings do not have.
    """
    edges = _edges(rgb)
    contours, _ = cv2.findContours(band.astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    filled = np.zeros(band.shape, np.uint8)
    cv2.drawContours(filled, contours, -1, 1, thickness=-1)
    around = (cv2.dilate(filled, np.ones((15, 15), np.uint8), iterations=2) > 0) & (filled == 0)
    if around.sum() < 16:
        return 0.0
    return max(0.0, float(edges[band].mean()) - 2.0 * float(edges[around].mean()))
