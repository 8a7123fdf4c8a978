"""BG302 headline-contrast: the headline must stand out from what is behind it (WCAG AA).

The headline is located with OCR (the lines whose reading is part of the brief's headline).
Inside each line's box the text pixels are separated from the background (Otsu threshold on
the colour channel that separates them best; parts running out of the line's box are background,
glyphs never do). The contrast ratio is the WCAG 2 ratio between the text's median relative
luminance and the background pixels around it, at a low percentile of the background, so a
busy photograph is judged by the parts of it that are closest to the text's own lightness.
When OCR cannot read the headline at all, the kit layout's headline box is measured instead.

Statuses: `pass` ratio ≥ `min_ratio` on every headline line; `fail` below it, with the ratio,
text and background colours; `skip` no headline in the brief; `unverified` no text found where the
headline should be; `unverified` no OCR engine could run (the text was
not read, so the image cannot pass).

Options in policy.yaml under `BG302`:
- `severity`: `flag` (default) or `reject`.
- `min_ratio`: the ratio to reach (default 4.5, WCAG AA for normal text).
- `background_percentile`: the share (0–50) of the least contrasting background that may
  fall below the ratio (default 10).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import cv2
import numpy as np
from numpy.typing import NDArray

from policies.check import Outcome
from policies.ocr import OcrResult, otsu_split, read_text
from policies.options import number
from policies.text_match import normalise, similarity

if TYPE_CHECKING:
    from policies.brief import Brief
    from policies.creative import Creative
    from policies.kit import Kit

ID = "BG302"
NAME = "headline-contrast"
FAMILY = "colour"
DEFAULT_SEVERITY = "flag"

Box = tuple[int, int, int, int]


def run(creative: Creative, brief: Brief | None, kit: Kit, options: Mapping[str, Any]) -> Outcome:
    if brief is None or not brief.headline:
        return Outcome("skip", "the brief asks for no headline")
    min_ratio = number(options, ID, "min_ratio", 4.5, at_least=1.0)
    percentile = number(options, ID, "background_percentile", 10.0, at_least=0)
    if percentile > 50:
        raise ValueError(f"option background_percentile must be 0–50, got {percentile}")
    ocr = read_text(creative)
    if not ocr.usable:
        return ocr.not_read("headline contrast")
    boxes = headline_boxes(brief.headline, ocr)
    located = "read by OCR"
    read = bool(boxes)
    if not boxes:
        boxes = [_layout_box(creative, brief, kit)]
        located = "not read by OCR; measured in the kit layout's headline box"
    measured = [m for box in boxes if (m := measure(creative.rgb, box, percentile)) is not None]
    if not measured:
        return Outcome(
            "unverified", f"not checked: headline contrast, headline {located} and no text told from its background"
        )
    worst = min(measured, key=lambda m: m["ratio"])
    evidence = {"min_ratio": min_ratio, "located": located, "lines": measured, "ratio": worst["ratio"]}
    if worst["ratio"] >= min_ratio:
        return Outcome("pass", f"headline contrast {worst['ratio']:.2f}:1 ≥ {min_ratio}:1", 0.9, evidence)
    return Outcome(
        "fail",
        f"headline contrast {worst['ratio']:.2f}:1 is below {min_ratio}:1"
        f" (text {worst['text_colour']} on {worst['background_colour']}; headline {located})",
        0.85 if read else 0.6,
        evidence,
    )


def headline_boxes(headline: str, ocr: OcrResult) -> list[Box]:
    """Boxes of the lines that read as part of the headline (it may break over lines)."""
    target = normalise(headline)
    boxes = []
    for line in ocr.lines:
        for text in line.texts().values():
            read = normalise(text)
            if len(read) < 2:
                continue
            if read in target or target in read or similarity(read, target) >= 0.7:
                boxes.append(line.box)
                break
    return boxes


def _layout_box(creative: Creative, brief: Brief, kit: Kit) -> Box:
    x, y, w, h = kit.layout(brief.layout).headline_box
    return (
        int(x * creative.width),
        int(y * creative.height),
        int((x + w) * creative.width),
        int((y + h) * creative.height),
    )


def relative_luminance(rgb: NDArray[Any]) -> NDArray[np.float64]:
    """WCAG 2 relative luminance of sRGB colours (last axis RGB, 0–255)."""
    c = np.asarray(rgb, dtype=np.float64) / 255.0
    linear = np.where(c <= 0.04045, c / 12.92, ((c + 0.055) / 1.055) ** 2.4)
    return np.asarray(linear @ np.array([0.2126, 0.7152, 0.0722]), dtype=np.float64)


def contrast_ratio(l1: NDArray[np.float64] | float, l2: NDArray[np.float64] | float) -> NDArray[np.float64]:
    hi, lo = np.maximum(l1, l2), np.minimum(l1, l2)
    return np.asarray((hi + 0.05) / (lo + 0.05), dtype=np.float64)


def measure(rgb: NDArray[np.uint8], box: Box, percentile: float) -> dict[str, Any] | None:
    """Contrast of the text in `box` against what surrounds it; None if no text is seen.

    Which of the two Otsu classes is the text is not known (a white fill with a dark outline
    has both); the one that contrasts more with its own surround is taken, so an outline
    counts as a reader sees it, while text that blends in fails either way.
    """
    x0, y0, x1, y1 = box
    # A margin around the line, so that glyphs never touch the crop's edge but the background does.
    pad = max(2, (y1 - y0) // 4)
    height, width = rgb.shape[:2]
    crop = rgb[max(0, y0 - pad) : min(height, y1 + pad), max(0, x0 - pad) : min(width, x1 + pad)]
    if crop.shape[0] < 4 or crop.shape[1] < 4:
        return None
    split = otsu_split(crop)
    if split is None:
        return None
    measured = [m for mask in (split, ~split) if (m := _against_surround(crop, mask, percentile)) is not None]
    if not measured:
        return None
    best = max(measured, key=lambda m: float(m["ratio"]))
    return {"box": list(box), **best}


def _against_surround(crop: NDArray[np.uint8], text: NDArray[np.bool_], percentile: float) -> dict[str, Any] | None:
    text = _inner_parts(text)
    share = float(text.mean())
    if share < 0.01 or share > 0.9:
        return None
    # The surround is a round band up to 3 pixels outside the strokes (as far as a thin outline
    # goes; a square one reaches past it at the corners); the one-pixel anti-aliased edge is
    # neither text nor background.
    reach = 3
    as_u8 = text.astype(np.uint8)
    edge = cv2.dilate(as_u8, np.ones((3, 3), np.uint8)) > 0
    disc = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * reach + 1, 2 * reach + 1))
    around = cv2.dilate(as_u8, disc) > 0
    core = cv2.erode(as_u8, np.ones((3, 3), np.uint8)) > 0
    if core.sum() >= 0.3 * text.sum():
        text = core
    background = around & ~edge
    if background.sum() < 20 or text.sum() < 10:
        return None
    text_lum = float(np.median(relative_luminance(crop[text])))
    ratios = contrast_ratio(relative_luminance(crop[background]), text_lum)
    return {
        "ratio": round(float(np.percentile(ratios, percentile)), 2),
        "text_colour": _hex(np.median(crop[text], axis=0)),
        "background_colour": _hex(np.median(crop[background], axis=0)),
    }


def _inner_parts(mask: NDArray[np.bool_]) -> NDArray[np.bool_]:
    """The mask without its parts that touch the crop's edge: glyphs sit inside the line's box,
    the background (and a busy photo's light or dark patches) runs out of it."""
    count, labels = cv2.connectedComponents(mask.astype(np.uint8), connectivity=8)
    if count <= 1:
        return mask
    edge = np.unique(np.concatenate([labels[0], labels[-1], labels[:, 0], labels[:, -1]]))
    return mask & ~np.isin(labels, edge[edge > 0])


def _hex(colour: NDArray[Any]) -> str:
    r, g, b = (round(float(v)) for v in colour[:3])
    return f"#{r:02X}{g:02X}{b:02X}"
