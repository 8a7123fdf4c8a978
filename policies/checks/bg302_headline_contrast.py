"""BG302 headline-contrast: the headline must stand out from what is right around it (WCAG AA).

What is measured is the headline's glyph pixels against their immediate surround: the ring
from 2 to 3 pixels outside the strokes (the anti-aliased edge in between is neither; an
outline reaches that far), so a plate or band behind the text is its surround, never the
text, and a busy photograph is judged by the parts of it that touch the letters.

Where brandgate placed the headline, the glyph pixels are exactly those of the headline text
rendered in its font where compositing drew it. Otherwise the headline's lines are located by
OCR (lines whose reading is part of the brief's headline), and the line's words are rendered
over its ink in the kit's faces or a common face (`policies/typefaces.py`: the best fit, if it fits well);
its coverage marks the glyphs. Where no face fits (an outlined headline, say), the line's box is
split by Otsu's threshold, each class whose parts sit inside the box without touching its edge
is measured and the one that stands out more is taken (an outline counts as readers see it).
Pixels of the logo brandgate placed are never measured. The ratio is the WCAG 2 ratio between
the text's median relative luminance and the surround at the `background_percentile` least
contrasting part. When OCR cannot read the headline at all, the kit layout's headline box is
measured.

Statuses: `pass` ratio ≥ `min_ratio` on every headline line; `fail` below it, with the ratio,
text and surround colours; `skip` no headline in the brief; `unverified` no text found where
the headline should be, or no OCR engine could run (the image cannot pass).

Evidence: per line the box, ratio, measured text colour, the surround's median colour and the
median colour of its least contrasting part (the one the ratio is taken at), and `located`
(placed by brandgate, read by OCR, or the layout's box).

Options in policy.yaml under `BG302`:
- `severity`: `flag` (default) or `reject`.
- `min_ratio`: the ratio to reach (default 4.5, WCAG AA for normal text).
- `min_ratio_large`: the ratio for large text (default 3.0, WCAG AA, or `min_ratio` × 3/4.5).
- `large_text_px`: the em size from which text counts as large (default 24, WCAG's 18 pt);
  the placed font size, else the size of the face fitted to the line, else the line's height / 1.2.
- `background_percentile`: the share (0–50) of the least contrasting surround that may
  fall below the ratio (default 10).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import cv2
import numpy as np
from numpy.typing import NDArray

from policies.check import Outcome
from policies.ocr import OcrResult, PlacedLine, placed_lines, read_text
from policies.options import number
from policies.rendered_text import otsu_split, placed_coverage
from policies.required_text import expected_texts
from policies.text_match import normalise, similarity
from policies.typefaces import candidate_faces, fitted_face

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
    # WCAG 2 asks 3:1 of large text (24 px and up) where it asks 4.5:1 of body text; the same
    # proportion applies to a stricter kit ratio (AAA: 7 → 4.67).
    min_ratio_large = number(options, ID, "min_ratio_large", min_ratio * 3.0 / 4.5, at_least=1.0)
    large_px = number(options, ID, "large_text_px", 24.0, above=0)
    percentile = number(options, ID, "background_percentile", 10.0, at_least=0)
    if percentile > 50:
        raise ValueError(f"option background_percentile must be 0–50, got {percentile}")
    placed = [p for p in placed_lines(creative) if p.element == "headline"]
    if placed and normalise(brief.headline) in normalise(" ".join(p.text for p in placed)):
        located, read = "placed by brandgate", True
        measured = [
            {**m, "size_px": round(line.size, 1)}
            for line in placed
            if (m := measure_placed(creative.rgb, line, percentile)) is not None
        ]
    else:
        ocr = read_text(creative, expected_texts(brief, kit))
        if not ocr.usable:
            return ocr.not_read("headline contrast")
        boxes = headline_boxes(brief.headline, ocr)
        located = "read by OCR"
        read = bool(boxes)
        if not boxes:
            boxes = [(_layout_box(creative, brief, kit), "")]
            located = "not read by OCR; measured in the kit layout's headline box"
        logo = _logo_mask(creative)
        faces = candidate_faces(brief, kit, "headline")
        measured = []
        for box, line_text in boxes:
            fitted = fitted_face(creative, box, line_text, faces) if line_text else None
            m = (
                _measure_coverage(creative.rgb, fitted.coverage, fitted.at, percentile)
                if fitted is not None and fitted.coverage is not None
                else measure(creative.rgb, box, percentile, logo)
            )
            if m is not None:
                # The em size: the fitted face's, else the line box's height (about 1.2 em).
                size = fitted.size if fitted is not None else (box[3] - box[1]) / 1.2
                measured.append({**m, "box": list(box), "size_px": round(size, 1)})
    if not measured:
        return Outcome(
            "unverified", f"not checked: headline contrast, headline {located} and no text told from its background"
        )
    for m in measured:
        m["required"] = min_ratio_large if m["size_px"] >= large_px else min_ratio
    worst = min(measured, key=lambda m: m["ratio"] / m["required"])
    required = worst["required"]
    evidence = {
        "min_ratio": min_ratio,
        "min_ratio_large": round(min_ratio_large, 2),
        "located": located,
        "lines": measured,
        "ratio": worst["ratio"],
    }
    if worst["ratio"] >= required:
        return Outcome("pass", f"headline contrast {worst['ratio']:.2f}:1 ≥ {required:.3g}:1", 0.9, evidence)
    return Outcome(
        "fail",
        f"headline contrast {worst['ratio']:.2f}:1 is below {required:.3g}:1"
        f" (text {worst['text_colour']} on {worst['least_contrasting_colour']}, the least contrasting"
        f" {percentile:g} % of what surrounds it; {worst['background_colour']} at its median; headline {located})",
        0.85 if read else 0.6,
        evidence,
    )


def headline_boxes(headline: str, ocr: OcrResult) -> list[tuple[Box, str]]:
    """Boxes of the lines that read as part of the headline (it may break over lines), each with
    the reading that matched (exact part of the headline first)."""
    target = normalise(headline)
    boxes = []
    for line in ocr.lines:
        texts = sorted(line.texts().values(), key=lambda t: normalise(t) not in target)
        for text in texts:
            read = normalise(text)
            if len(read) < 2:
                continue
            if read in target or target in read or similarity(read, target) >= 0.7:
                boxes.append((line.box, text if read in target else ""))
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


def measure_placed(rgb: NDArray[np.uint8], line: PlacedLine, percentile: float) -> dict[str, Any] | None:
    """Contrast of a placed headline line: its glyphs are the text rendered where it was drawn."""
    located = placed_coverage(rgb, line.text, line.font, line.size, line.origin)
    if located is None:
        return None
    result = _measure_coverage(rgb, *located, percentile)
    return None if result is None else {**result, "box": list(line.box)}


def _measure_coverage(
    rgb: NDArray[np.uint8], coverage: NDArray[np.float32], at: tuple[int, int], percentile: float
) -> dict[str, Any] | None:
    left, top = at
    h, w = coverage.shape
    pad = 6
    height, width = rgb.shape[:2]
    x0, y0 = max(0, left - pad), max(0, top - pad)
    x1, y1 = min(width, left + w + pad), min(height, top + h + pad)
    crop = rgb[y0:y1, x0:x1]
    glyphs = np.zeros(crop.shape[:2], np.float32)
    gx0, gy0 = left - x0, top - y0
    cy0, cx0 = max(0, -gy0), max(0, -gx0)
    glyphs[max(0, gy0) : max(0, gy0) + h - cy0, max(0, gx0) : max(0, gx0) + w - cx0] = coverage[
        cy0 : cy0 + crop.shape[0] - max(0, gy0), cx0 : cx0 + crop.shape[1] - max(0, gx0)
    ]
    return _against_surround(crop, glyphs >= 0.75, percentile, ink=glyphs > 0.02)


def measure(
    rgb: NDArray[np.uint8], box: Box, percentile: float, exclude: NDArray[np.bool_] | None = None
) -> dict[str, Any] | None:
    """Contrast of the text OCR found in `box` against its immediate surround, when no face
    fits its glyphs; None if no text is seen. Each Otsu class whose parts lie inside the box
    (touching none of its edges) is a candidate; `exclude` marks pixels never measured (the
    logo)."""
    x0, y0, x1, y1 = box
    # A margin around the line, so that glyphs never touch the crop's edge but the background does.
    pad = max(2, (y1 - y0) // 4)
    height, width = rgb.shape[:2]
    cy0, cy1, cx0, cx1 = max(0, y0 - pad), min(height, y1 + pad), max(0, x0 - pad), min(width, x1 + pad)
    crop = rgb[cy0:cy1, cx0:cx1]
    if crop.shape[0] < 4 or crop.shape[1] < 4:
        return None
    split = otsu_split(crop)
    if split is None:
        return None
    keep = None if exclude is None else ~exclude[cy0:cy1, cx0:cx1]
    candidates = []
    for mask in (split, ~split):
        inner = _inner_parts(mask)
        if keep is not None:
            inner &= keep
        share = float(inner.mean())
        if 0.01 <= share <= 0.6:
            candidates.append((share, inner))
    # Which class is the text is not known (white fill with a dark outline has both): the one
    # that stands out more from its own surround is taken, so an outline counts as readers
    # see it, while text that blends in fails either way.
    measured = [m for _, mask in candidates if (m := _against_surround(crop, mask, percentile, keep=keep))]
    if not measured:
        return None
    return {"box": list(box), **max(measured, key=lambda m: float(m["ratio"]))}


def _against_surround(
    crop: NDArray[np.uint8],
    text: NDArray[np.bool_],
    percentile: float,
    ink: NDArray[np.bool_] | None = None,
    keep: NDArray[np.bool_] | None = None,
) -> dict[str, Any] | None:
    """Median text luminance against the ring 2–3 px outside the strokes (`ink`, the glyphs'
    full extent when known, else the text mask itself)."""
    outline = (text if ink is None else ink).astype(np.uint8)
    core = cv2.erode(text.astype(np.uint8), np.ones((3, 3), np.uint8)) > 0
    if core.sum() >= 0.3 * text.sum():
        text = core
    near = cv2.dilate(outline, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (5, 5))) > 0
    around = cv2.dilate(outline, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (7, 7))) > 0
    background = around & ~near
    if keep is not None:
        background &= keep
    if background.sum() < 20 or text.sum() < 10:
        return None
    text_lum = float(np.median(relative_luminance(crop[text])))
    surround = crop[background]
    ratios = contrast_ratio(relative_luminance(surround), text_lum)
    ratio = float(np.percentile(ratios, percentile))
    # The ratio is that of the least contrasting `percentile` % of the surround, so the colour named
    # beside it is the median of that part, not of the whole ring (a dark ring with a few light
    # pixels is judged by the light ones, and says so).
    least = surround[ratios <= ratio]
    return {
        "ratio": round(ratio, 2),
        "text_colour": _hex(np.median(crop[text], axis=0)),
        "background_colour": _hex(np.median(surround, axis=0)),
        "least_contrasting_colour": _hex(np.median(least if len(least) else surround, axis=0)),
    }


def _logo_mask(creative: Creative) -> NDArray[np.bool_] | None:
    """Where brandgate placed the logo, so that its pixels are never taken for the headline's."""
    logo = creative.placed("logo")
    if logo is None or not logo.get("box"):
        return None
    x0, y0, x1, y1 = (int(v) for v in logo["box"])
    mask = np.zeros((creative.height, creative.width), bool)
    mask[max(0, y0) : y1, max(0, x0) : x1] = True
    return mask


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
