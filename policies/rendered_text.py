"""What a reader sees: expected text rendered in a font and laid over the pixels it should match.

OCR engines read through look-alike letters (a "1" drawn where "l" belongs is often read as
"l"), and they misread letters no reader would confuse. Rendering the expected text in the
font it was set in and comparing it with the image, glyph by glyph, judges what is on the page
instead of what an engine guessed. Two uses:

- `compare_at`: brandgate placed the text (font, size and line origins are known): the
  rendering is laid exactly where compositing drew it (a shift of up to two pixels is searched
  for, against resampling), so an untouched composite matches to the pixel.
- `compare_in_box`: a line OCR found, in a font that is known or guessed; the rendering is
  scaled to the ink's width and laid over it.

`renders_same(a, b, font)` says whether two characters are the same picture in a font (l and
I in a grotesque sans, O and 0 in some faces), so a string comparison forgives exactly the
substitutions a reader could not see.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import cv2
import numpy as np
from numpy.typing import NDArray
from PIL import Image, ImageDraw, ImageFont

# A glyph differs when more than this share of its ink (at least MIN_GLYPH_INK pixels' worth)
# is missing or extra beyond a one-pixel tolerance band and a per-pixel noise floor: a "1" for
# an "l" adds its flag and foot (about 40 % of the stem's ink). Measured on the reviewer's
# evaluation set (14–26 px body text, 40–90 px headlines, photographs, JPEG quality 60–90):
# clean lines reach at most 0.10, the weakest visible swap (i→l in a bold sans) 0.20.
GLYPH_MISMATCH = 0.16
MIN_GLYPH_INK = 12.0
# ...or when one connected patch of difference covers PATCH_PERCENT % of the em square (and at
# least MIN_PATCH_PX pixels) — scored as GLYPH_MISMATCH × patch / PATCH_PERCENT: the joined
# dot of an i made an l (about 1 %), a y's missing descender.
PATCH_PERCENT = 0.75
MIN_PATCH_PX = 4
# Two characters are the same picture when, drawn at SAME_RENDER_PX, no connected part where
# they differ covers more than this percentage of the em square (4 px at 40 px). Measured on
# the kits' and common faces: l/I in DejaVu and Liberation Sans 0.0; l/I in serif faces 0.6–3.9,
# i/l 0.6–1.3, O/0 7–18, l/1 8–23.
SAME_RENDER_PX = 40
SAME_RENDER_SHARE = 0.25
NOISE_FLOOR = 0.25
SHIFT = 2  # pixels searched either way around a placed line's origin
MAX_LOOKALIKE_TRIES = 8

_font_lock = threading.Lock()


# Characters that may be one picture in some face: only pairs within a group are rendered to
# decide (a reader tells every other pair apart in any face).
LOOKALIKE_GROUPS = ("Il1|!ij", "O0oQD", "S5s", "B8", "Z2z", "G6", "uv", "g9q")


def otsu_split(crop: NDArray[np.uint8], sample: NDArray[np.uint8] | None = None) -> NDArray[np.bool_] | None:
    """Otsu's two classes (True = the lighter) on whichever of grey, R, G and B separates them
    best, so red text on a green plate of equal lightness still splits; None when flat. With
    `sample` (a part of `crop`), channel and threshold are chosen on it and applied to `crop`."""
    sample = crop if sample is None else sample
    grey, grey_sample = (cv2.cvtColor(x, cv2.COLOR_RGB2GRAY) for x in (crop, sample))
    pairs = [(grey, grey_sample)] + [(crop[:, :, c], sample[:, :, c]) for c in range(3)]
    best: tuple[float, NDArray[np.bool_]] | None = None
    for channel, part in pairs:
        part = np.ascontiguousarray(part)
        if int(part.max()) - int(part.min()) < 2:
            continue
        threshold, _ = cv2.threshold(part, 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
        above = part > threshold
        share = float(above.mean())
        if share in (0.0, 1.0):
            continue
        spread = share * (1 - share) * (float(part[above].mean()) - float(part[~above].mean())) ** 2
        if best is None or spread > best[0]:
            best = (spread, np.asarray(channel > threshold))
    return None if best is None else best[1]


@lru_cache(maxsize=256)
def _font(path: str, size: float) -> ImageFont.FreeTypeFont:
    with _font_lock:
        return ImageFont.truetype(path, size)


@dataclass(frozen=True)
class GlyphComparison:
    """How one line of expected text compares with the image, glyph by glyph."""

    text: str
    font: str
    size: float
    fit: float  # 1 − differing ink / expected ink over the whole line (1.0: identical)
    worst: float  # the largest share of one glyph's ink that differs
    worst_index: int  # index in `text` of that glyph, −1 when none
    ink: str  # the text's measured colour
    background: str  # what was measured around it
    at: tuple[int, int] = (0, 0)  # the rendering's top-left corner in the creative
    coverage: NDArray[np.float32] | None = field(default=None, repr=False, compare=False)
    # Why a glyph that differs by more than GLYPH_MISMATCH is still taken as matching (the
    # reading and the look-alikes say the difference is the picture under it), else None.
    forgiven: str | None = None

    @property
    def matches(self) -> bool:
        return self.worst <= GLYPH_MISMATCH or self.forgiven is not None

    def evidence(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "text": self.text,
            "font": self.font.rsplit("/", 1)[-1],
            "size_px": round(self.size, 1),
            "fit": round(self.fit, 3),
            "worst_glyph_share": round(self.worst, 3),
            "ink": self.ink,
            "background": self.background,
        }
        if self.worst_index >= 0 and not self.matches:
            out["differs_at"] = {"index": self.worst_index, "expected": self.text[self.worst_index]}
        if self.forgiven is not None:
            out["forgiven"] = self.forgiven
        return out


def _render(
    text: str, font_path: str, size: float
) -> tuple[NDArray[np.float32], tuple[int, int], list[tuple[float, float]]]:
    """Anti-aliased coverage (0–1) of `text`, the origin's position in it, and each character's
    horizontal extent (from the pen position before and after it)."""
    font = _font(font_path, size)
    x0, y0, x1, y1 = font.getbbox(text, anchor="ls")
    margin = 2
    width, height = int(x1 - x0) + 2 * margin, int(y1 - y0) + 2 * margin
    origin = (margin - int(x0), margin - int(y0))
    image = Image.new("L", (max(1, width), max(1, height)), 0)
    ImageDraw.Draw(image).text(origin, text, font=font, fill=255, anchor="ls")
    ends = [font.getlength(text[: i + 1]) for i in range(len(text))]
    starts = [0.0, *ends[:-1]]
    spans = [(origin[0] + a, origin[0] + b) for a, b in zip(starts, ends, strict=True)]
    return np.asarray(image, np.float32) / 255.0, origin, spans


def _hex(colour: NDArray[Any]) -> str:
    r, g, b = (int(np.clip(round(float(v)), 0, 255)) for v in colour[:3])
    return f"#{r:02X}{g:02X}{b:02X}"


def _score(
    region: NDArray[np.uint8],
    coverage: NDArray[np.float32],
    spans: list[tuple[float, float]],
    text: str,
    size: float,
) -> tuple[float, float, int, str, str] | None:
    """(fit, worst glyph share, its index, ink colour, background colour) for `coverage` laid
    over `region` (same shape)."""
    solid = coverage >= 0.75
    if solid.sum() < 6:
        return None
    pixels = region.astype(np.float32)
    ink = np.median(pixels[solid], axis=0)
    # The background right around each glyph: pixels clear of the ink, averaged locally, so a
    # plate, a band or a photograph each give the text its own immediate surround.
    clear = (cv2.dilate((coverage > 0.02).astype(np.uint8), np.ones((5, 5), np.uint8)) == 0).astype(np.float32)
    if clear.sum() < 6:
        return None
    # Wide enough to bridge a glyph, narrow enough to follow a photograph (and stay cheap).
    sigma = float(np.clip(region.shape[0] / 6, 2.0, 8.0))
    weight = cv2.GaussianBlur(clear, (0, 0), sigma) + 1e-6
    background = np.stack([cv2.GaussianBlur(pixels[..., c] * clear, (0, 0), sigma) / weight for c in range(3)], axis=2)
    axis = ink[None, None, :] - background
    norm = np.maximum((axis * axis).sum(axis=2), 1e-6)
    inkness = np.clip(((pixels - background) * axis).sum(axis=2) / norm, 0.0, 1.0).astype(np.float32)
    # Contrast too low to tell ink from background: nothing can be judged here.
    if float(np.median(np.sqrt(norm[solid]))) < 12.0:
        return None
    # One pixel of tolerance both ways: ink counts as expected when expected ink is within a
    # pixel of it, and expected ink as present when ink is within a pixel of it. A thin
    # descender or a missing dot still differs; resampling and JPEG edges do not.
    kernel = np.ones((3, 3), np.uint8)
    # Differences under NOISE_FLOOR per pixel are the grain of a photograph or JPEG's ringing.
    extra = np.maximum(0.0, inkness - cv2.dilate(coverage, kernel) - NOISE_FLOOR)
    missing = np.maximum(0.0, coverage - cv2.dilate(inkness, kernel) - NOISE_FLOOR)
    # Where the rendering is solid ink or clearly clear, no tolerance: the pixel-wide gap
    # between an i's dot and its stem is where an l differs from it.
    missing = np.maximum(missing, np.where((coverage >= 0.9) & (inkness < 0.3), coverage - inkness, 0.0))
    extra = np.maximum(extra, np.where((coverage <= 0.05) & (inkness > 0.7), inkness - coverage, 0.0))
    # Extra ink counts only near the expected glyphs: a light patch of the photograph a
    # glyph-height away is background, while a flag, a dot or a bar belongs to a glyph.
    reach = max(3, round(region.shape[0] / 6))
    near = cv2.dilate((coverage > 0.02).astype(np.uint8), np.ones((2 * reach + 1, 2 * reach + 1), np.uint8)) > 0
    error = missing + np.where(near, extra, 0.0)
    total_ink = float(coverage.sum())
    fit = 1.0 - float(error.sum()) / max(total_ink, 1.0)
    worst, worst_index = 0.0, -1
    columns_error = error.sum(axis=0)
    columns_ink = coverage.sum(axis=0)
    for i, (a, b) in enumerate(spans):
        if not text[i].strip():
            continue
        lo, hi = max(0, int(np.floor(a))), min(region.shape[1], int(np.ceil(b)))
        if hi <= lo:
            continue
        glyph_ink = float(columns_ink[lo:hi].sum())
        share = float(columns_error[lo:hi].sum()) / max(glyph_ink, MIN_GLYPH_INK)
        if share > worst:
            worst, worst_index = share, i
    # The largest connected patch of difference, as a percentage of the em square: a local
    # change (a dot joined to its stem, a missing descender) that is small against the glyph's
    # whole ink is still a solid patch.
    count, _, stats, centroids = cv2.connectedComponentsWithStats((error > 0.5).astype(np.uint8), connectivity=8)
    em = max(size * size, 1.0)
    for label in range(1, count):
        area = float(stats[label, cv2.CC_STAT_AREA])
        patch = 100.0 * area / em
        if area >= MIN_PATCH_PX and patch / PATCH_PERCENT * GLYPH_MISMATCH > worst:
            cx = float(centroids[label][0])
            index = next((i for i, (a, b) in enumerate(spans) if a <= cx < b), -1)
            worst, worst_index = patch / PATCH_PERCENT * GLYPH_MISMATCH, index
    return fit, worst, worst_index, _hex(ink), _hex(np.median(background[clear > 0], axis=0))


def _ink_guess(window: NDArray[np.uint8]) -> NDArray[np.float32]:
    """A rough ink mask (Otsu, the class not filling the border) for aligning a rendering."""
    split = otsu_split(window)
    if split is None:
        return np.zeros(window.shape[:2], np.float32)
    border = np.concatenate([split[0], split[-1], split[:, 0], split[:, -1]])
    return (~split if border.mean() >= 0.5 else split).astype(np.float32)


def _best_shift(rgb: NDArray[np.uint8], coverage: NDArray[np.float32], left: int, top: int) -> tuple[int, int]:
    """The shift (within ±SHIFT) at which `coverage` best overlays the ink near (left, top)."""
    height, width = rgb.shape[:2]
    h, w = coverage.shape
    wx0, wy0 = max(0, left - SHIFT), max(0, top - SHIFT)
    wx1, wy1 = min(width, left + w + SHIFT), min(height, top + h + SHIFT)
    if wx1 - wx0 < 6 or wy1 - wy0 < 6:
        return left, top
    guess = _ink_guess(rgb[wy0:wy1, wx0:wx1])
    best, best_at = np.inf, (left, top)
    for dy in range(-SHIFT, SHIFT + 1):
        for dx in range(-SHIFT, SHIFT + 1):
            x, y = left + dx, top + dy
            x0, y0, x1, y1 = max(x, wx0), max(y, wy0), min(x + w, wx1), min(y + h, wy1)
            if x1 - x0 < 4 or y1 - y0 < 4:
                continue
            cov = coverage[y0 - y : y1 - y, x0 - x : x1 - x]
            seen = guess[y0 - wy0 : y1 - wy0, x0 - wx0 : x1 - wx0]
            cost = float(np.abs(cov - seen).sum()) + float(coverage.sum() - cov.sum())
            if cost < best:
                best, best_at = cost, (x, y)
    return best_at


def _judge(
    rgb: NDArray[np.uint8],
    text: str,
    font_path: str,
    size: float,
    coverage: NDArray[np.float32],
    spans: list[tuple[float, float]],
    left: int,
    top: int,
) -> GlyphComparison | None:
    height, width = rgb.shape[:2]
    x, y = _best_shift(rgb, coverage, left, top)
    placed = _crop_pair(rgb, coverage, x, y, width, height)
    if placed is None:
        return None
    region, cov, cut = placed
    scored = _score(region, cov, [(a - cut, b - cut) for a, b in spans], text, size)
    if scored is None:
        return None
    return GlyphComparison(text, font_path, size, *scored, at=(x, y), coverage=coverage)


def compare_at(
    rgb: NDArray[np.uint8], text: str, font_path: str, size: float, origin: tuple[float, float]
) -> GlyphComparison | None:
    """`text` as compositing drew it (Pillow's top-left anchor at `origin`), against the image."""
    font = _font(font_path, size)
    # Compositing draws with Pillow's default top-left anchor; rendering here uses the baseline.
    ascent = font.getmetrics()[0]
    coverage, at, spans = _render(text, font_path, size)
    left = round(origin[0]) - at[0]
    top = round(origin[1] + ascent) - at[1]
    return _judge(rgb, text, font_path, size, coverage, spans, left, top)


def _crop_pair(
    rgb: NDArray[np.uint8], coverage: NDArray[np.float32], left: int, top: int, width: int, height: int
) -> tuple[NDArray[np.uint8], NDArray[np.float32], int] | None:
    """The image under `coverage` laid at (left, top), both clipped to the image."""
    h, w = coverage.shape
    x0, y0 = max(0, left), max(0, top)
    x1, y1 = min(width, left + w), min(height, top + h)
    if x1 - x0 < 4 or y1 - y0 < 4:
        return None
    return rgb[y0:y1, x0:x1], coverage[y0 - top : y1 - top, x0 - left : x1 - left], x0 - left


# A part of a line's ink class whose mean colour is further than this (RGB distance) from the
# median ink is the photograph, not a glyph (anti-aliasing and JPEG move a glyph's mean by
# 20–40).
INK_COLOUR_SPREAD = 60.0
BAND_REACH = 0.5
MAX_TRIMMED = 3  # runs of parts trimmed from either end at most


def _box_inks(
    rgb: NDArray[np.uint8], box: tuple[int, int, int, int]
) -> list[tuple[NDArray[np.bool_], tuple[int, int], NDArray[np.uint8]]]:
    """The two candidate ink masks of a line's box (each Otsu class, the lesser first) with the
    crop's top-left corner and pixels; [] when the box is too small or flat."""
    height, width = rgb.shape[:2]
    # A margin, so that a glyph an OCR box clips is whole and does not touch the crop's edge
    # (where `_glyph_ink` takes what it finds for the world beyond the text).
    pad = max(2, (box[3] - box[1]) // 8)
    x0, y0 = max(0, box[0] - pad), max(0, box[1] - pad)
    x1, y1 = min(width, box[2] + pad), min(height, box[3] + pad)
    crop = rgb[y0:y1, x0:x1]
    if crop.shape[0] < 6 or crop.shape[1] < 6:
        return []
    # Inside a line's own box the glyphs are usually the lesser class (a plate, a band or the
    # photograph around them fills more of it); on a busy photograph either may be, so both
    # are tried and the better fit wins. The threshold is chosen inside the box, on its middle
    # rows and away from its ends: a box that spills past the edge of its plate or band must
    # not split plate from photograph.
    box_h = box[3] - box[1]
    top, bottom = box[1] - y0 + box_h // 6, box[3] - y0 - box_h // 6
    left, right = box[0] - x0 + box_h // 3, box[2] - x0 - box_h // 3
    inner = crop[max(0, top) : bottom, max(0, left) : right]
    split = otsu_split(crop, inner if inner.shape[0] >= 4 and inner.shape[1] >= 4 else crop)
    if split is None:
        return []
    return [(mask, (x0, y0), crop) for mask in sorted((split, ~split), key=lambda m: float(m.mean()))]


@dataclass(frozen=True)
class LineInk:
    """One candidate reading of which pixels of a line's box are its glyphs (one Otsu class,
    the parts `_glyph_ink` keeps), with the crop it was taken from."""

    corner: tuple[int, int]  # the crop's top-left corner in the creative
    crop: NDArray[np.uint8] = field(repr=False, compare=False)
    ys: NDArray[np.int64] = field(repr=False, compare=False)
    xs: NDArray[np.int64] = field(repr=False, compare=False)

    @property
    def width(self) -> int:
        return int(self.xs.max() - self.xs.min() + 1)


def line_inks(rgb: NDArray[np.uint8], box: tuple[int, int, int, int]) -> tuple[LineInk, ...]:
    """The glyph ink of each Otsu class of a line's box where it has any (the lesser first)."""
    out = []
    for ink_mask, corner, crop in _box_inks(rgb, box):
        found = _glyph_ink(ink_mask, crop)
        if found is not None:
            out.append(LineInk(corner, crop, *found))
    return tuple(out)


def compare_in_box(
    rgb: NDArray[np.uint8],
    box: tuple[int, int, int, int],
    text: str,
    font_path: str,
    inks: tuple[LineInk, ...] | None = None,
) -> GlyphComparison | None:
    """`text` in `font_path`, scaled to the ink found in `box` (a line OCR found), against it;
    `inks` are the box's `line_inks` when already known (or the one worth trying)."""
    if not text.strip():
        return None
    best: GlyphComparison | None = None
    for ink in line_inks(rgb, box) if inks is None else inks:
        fitted = _fit_to_ink(rgb, ink, text, font_path)
        if fitted is not None and (best is None or fitted.fit > best.fit):
            best = fitted
    return best


def _glyph_ink(
    ink_mask: NDArray[np.bool_], crop: NDArray[np.uint8]
) -> tuple[NDArray[np.int64], NDArray[np.int64]] | None:
    """Row and column indices of the glyphs' pixels in one class of a line's box (`crop`'s
    pixels): the components across the line's middle, in the text's colour, without the
    speckles of a busy photograph."""
    count, labels, stats, centroids = cv2.connectedComponentsWithStats(ink_mask.astype(np.uint8), connectivity=8)
    if count <= 1:
        return None
    # Glyphs sit across the line's middle: what lies along its top or bottom edge is the band's
    # edge or the photograph beyond it.
    rows, cols = ink_mask.shape
    middle = (centroids[:, 1] > 0.15 * rows) & (centroids[:, 1] < 0.85 * rows)
    # A part touching the box's edge is the photograph or band beyond the text (an OCR box
    # leaves a margin around its glyphs, and may reach a little past its plate).
    x, y, w, h = (stats[:, k] for k in (cv2.CC_STAT_LEFT, cv2.CC_STAT_TOP, cv2.CC_STAT_WIDTH, cv2.CC_STAT_HEIGHT))
    beyond = (x == 0) | (y == 0) | (x + w == cols) | (y + h == rows)
    areas = np.where(middle[1:] & ~beyond[1:], stats[1:, cv2.CC_STAT_AREA], 0)
    if areas.max() <= 0:
        return None
    keep = np.concatenate([[False], areas >= max(3.0, 0.02 * float(areas.max()))])
    # Text is set in one colour; a patch of the photograph that shares its Otsu class is not.
    pixels = crop.reshape(-1, 3).astype(np.float32)
    flat = labels.reshape(-1)
    kept = keep[flat]
    if not kept.any():
        return None
    ink = np.median(pixels[kept], axis=0)
    sums = np.zeros((count, 3), np.float64)
    np.add.at(sums, flat[kept], pixels[kept])
    means = sums / np.maximum(stats[:, cv2.CC_STAT_AREA], 1)[:, None]
    keep &= np.sqrt(((means - ink) ** 2).sum(axis=1)) <= INK_COLOUR_SPREAD
    # At either end of the line, a part set apart from the rest that reaches well past the
    # line's band (above its capitals or below its descenders' usual depth), or is a speck, is
    # the photograph beside the plate, not a glyph; it would throw the line's width and so its
    # size. (A full stop or a quote mark sits close to its word.)
    chosen = np.nonzero(keep)[0]
    if len(chosen) >= 4:
        # The glyphs' typical height and area, from the larger half of the parts (not an i's dot).
        area = stats[chosen, cv2.CC_STAT_AREA]
        larger = chosen[area >= np.median(area)]
        typical = float(np.median(h[larger]))
        typical_area = float(np.median(stats[larger, cv2.CC_STAT_AREA]))
        band_top, band_bottom = np.percentile(y[chosen], 10), np.percentile((y + h)[chosen], 90)
        # Runs of parts with no gap wider than a quarter of a glyph's height between them: words.
        runs: list[list[int]] = []
        for part in chosen[np.argsort(x[chosen])]:
            if runs and x[part] <= max(x[p] + w[p] for p in runs[-1]) + 0.25 * typical:
                runs[-1].append(int(part))
            else:
                runs.append([int(part)])
        reach = BAND_REACH * typical
        for _ in range(MAX_TRIMMED):
            if len(runs) < 2:
                break
            trimmed = False
            for at in (0, -1):
                run = runs[at]
                beyond_band = any(y[p] < band_top - reach or y[p] + h[p] > band_bottom + reach for p in run)
                speck = sum(stats[p, cv2.CC_STAT_AREA] for p in run) < 0.25 * typical_area
                if len(runs) >= 2 and (beyond_band or speck):
                    keep[run] = False
                    runs.pop(at)
                    trimmed = True
            if not trimmed:
                break
    ys, xs = np.nonzero(keep[labels])
    if len(xs) < 10:
        return None
    return ys, xs


def _size_for_width(text: str, font_path: str, ink_w: int) -> float | None:
    """The font size at which `text`'s ink is `ink_w` pixels wide (None: implausible)."""
    nominal = _nominal_ink_width(text, font_path)
    if nominal is None:
        return None
    size = NOMINAL_PX * ink_w / nominal
    return size if 6.0 <= size <= 400.0 else None


NOMINAL_PX = 64.0
SETTLED_FIT = 0.99


@lru_cache(maxsize=1024)
def _nominal_ink_width(text: str, font_path: str) -> float | None:
    probe, _, _ = _render(text, font_path, NOMINAL_PX)
    cols = np.nonzero(probe.max(axis=0) > 0.3)[0]
    return float(cols[-1] - cols[0] + 1) if len(cols) >= 2 else None


def _fit_to_ink(rgb: NDArray[np.uint8], ink: LineInk, text: str, font_path: str) -> GlyphComparison | None:
    ys, xs = ink.ys, ink.xs
    cx0, cy0 = ink.corner
    size = _size_for_width(text, font_path, ink.width)
    if size is None:
        return None
    best: GlyphComparison | None = None
    # The width gives the size to within a few per cent; text is most often set at a whole
    # pixel size, where an untouched line then matches exactly.
    for tried in dict.fromkeys((float(round(size)), size * 0.97, size, size * 1.03)):
        coverage, _, spans = _render(text, font_path, tried)
        rows = np.nonzero(coverage.max(axis=1) > 0.3)[0]
        cov_cols = np.nonzero(coverage.max(axis=0) > 0.3)[0]
        if len(rows) == 0 or len(cov_cols) == 0:
            continue
        left = cx0 + int(xs.min()) - int(cov_cols[0])
        top = cy0 + int(ys.min()) - int(rows[0])
        judged = _judge(rgb, text, font_path, tried, coverage, spans, left, top)
        if judged is not None and (best is None or judged.fit > best.fit):
            best = judged
        if best is not None and best.matches and best.fit >= SETTLED_FIT:
            break  # the line as set: other sizes cannot fit better in any way that matters
    return best


def rough_fit(ink: LineInk, text: str, font_path: str) -> float:
    """A quick overlap score (1.0: the same picture) of `text` in `font_path`, scaled to the
    ink's width, against that ink: enough to rank candidate faces before the full comparison.
    Glyph shapes and the face's proportions (a condensed face scaled to the same width stands
    too tall) both lower it; −1.0 when nothing fits."""
    size = _size_for_width(text, font_path, ink.width)
    if size is None:
        return -1.0
    coverage, _, _ = _render(text, font_path, size)
    solid = coverage > 0.5
    rows, cols = np.nonzero(solid)
    if len(rows) == 0:
        return -1.0
    ys, xs = ink.ys, ink.xs
    rendered = solid[rows.min() : rows.max() + 1, cols.min() : cols.max() + 1]
    seen = np.zeros((int(ys.max() - ys.min() + 1), int(xs.max() - xs.min() + 1)), bool)
    seen[ys - ys.min(), xs - xs.min()] = True
    h, w = max(rendered.shape[0], seen.shape[0]), max(rendered.shape[1], seen.shape[1])
    a, b = np.zeros((h, w), bool), np.zeros((h, w), bool)
    a[: rendered.shape[0], : rendered.shape[1]] = rendered
    b[: seen.shape[0], : seen.shape[1]] = seen
    # A pixel of tolerance either way, as the full comparison allows.
    kernel = np.ones((3, 3), np.uint8)
    near_a = cv2.dilate(a.astype(np.uint8), kernel) > 0
    near_b = cv2.dilate(b.astype(np.uint8), kernel) > 0
    differing = float((a & ~near_b).sum() + (b & ~near_a).sum())
    return 1.0 - differing / max(float(a.sum() + b.sum()), 1.0)


def render_difference(a: str, b: str, font_path: str) -> float:
    """How visibly characters `a` and `b` differ in the font: the largest connected part where
    one has ink and the other not, as a percentage of the em square, at their best relative
    shift of up to a pixel and without one-pixel slivers. l a pixel taller than I in a grotesque
    sans scores 0; a serif, the gap under an i's dot or a 0 narrower than an O does not."""
    font = _font(font_path, SAME_RENDER_PX)
    pictures = []
    for char in (a, b):
        image = Image.new("L", (3 * SAME_RENDER_PX, 2 * SAME_RENDER_PX), 0)
        ImageDraw.Draw(image).text((SAME_RENDER_PX, SAME_RENDER_PX // 4), char, font=font, fill=255)
        pictures.append(np.asarray(image, np.uint8) > 127)
    best = np.inf
    for dy in (-1, 0, 1):
        for dx in (-1, 0, 1):
            differs = (pictures[0] ^ np.roll(pictures[1], (dy, dx), axis=(0, 1))).astype(np.uint8)
            differs = np.asarray(cv2.morphologyEx(differs, cv2.MORPH_OPEN, np.ones((2, 2), np.uint8)), np.uint8)
            count, _, stats, _ = cv2.connectedComponentsWithStats(differs, connectivity=8)
            largest = float(stats[1:, cv2.CC_STAT_AREA].max()) if count > 1 else 0.0
            best = min(best, largest)
    return 100.0 * best / (SAME_RENDER_PX * SAME_RENDER_PX)


@lru_cache(maxsize=4096)
def renders_same(a: str, b: str, font_path: str) -> bool:
    """True when characters `a` and `b` are the same picture in the font (a reader cannot tell)."""
    if a == b:
        return True
    try:
        return render_difference(a, b, font_path) < SAME_RENDER_SHARE
    except OSError:
        return False


def judge_placed(
    rgb: NDArray[np.uint8], text: str, font_path: str, size: float, origin: tuple[float, float]
) -> GlyphComparison | None:
    """`compare_at`, forgiving a differing glyph when the image shows a character that is the
    same picture in the font (an I for an l in a grotesque sans: a reader cannot tell). Such a
    character may have another advance width and shift the rest of the line, so the glyph that
    differs is not always the one swapped: each character with a same-picture look-alike is
    tried in turn (at most MAX_LOOKALIKE_TRIES)."""
    judged = compare_at(rgb, text, font_path, size, origin)
    if judged is None or judged.matches:
        return judged
    tries = 0
    for at, expected in enumerate(text):
        for group in LOOKALIKE_GROUPS:
            if expected not in group:
                continue
            for other in group:
                if other == expected or not renders_same(expected, other, font_path):
                    continue
                if tries >= MAX_LOOKALIKE_TRIES:
                    return judged
                tries += 1
                again = compare_at(rgb, text[:at] + other + text[at + 1 :], font_path, size, origin)
                if again is not None and again.matches:
                    return GlyphComparison(
                        text, font_path, size, again.fit, again.worst, -1, again.ink, again.background
                    )
    return judged


def placed_coverage(
    rgb: NDArray[np.uint8], text: str, font_path: str, size: float, origin: tuple[float, float]
) -> tuple[NDArray[np.float32], tuple[int, int]] | None:
    """The rendered coverage of a placed line and its top-left corner in the creative, aligned
    to the image (within ±SHIFT pixels): exactly which pixels are the placed text's glyphs."""
    font = _font(font_path, size)
    ascent = font.getmetrics()[0]
    coverage, at, _ = _render(text, font_path, size)
    left = round(origin[0]) - at[0]
    top = round(origin[1] + ascent) - at[1]
    if coverage.sum() < 6:
        return None
    return coverage, _best_shift(rgb, coverage, left, top)
