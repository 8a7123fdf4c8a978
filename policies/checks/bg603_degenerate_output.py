"""BG603 degenerate-output: the generated picture is what a broken model makes, not a picture.

A broken or random-weight model, a wrong scheduler, a half-precision overflow or a NaN in the
latents give backgrounds that the text, logo and colour checks cannot see: they judge only what
brandgate composites on top. BG603 looks at the picture itself, around the headline, disclaimer
and logo, and fails on any of:

- **coloured noise**: colour that changes from pixel to pixel. Natural images keep colour smooth
  and put their detail in lightness. Measured on a copy 256 pixels a side, in 32-pixel tiles:
  each tile's median pixel distance in CIELAB a*/b* from a 2-pixel Gaussian blur of itself; the
  median tile at or above `max_colour_noise` (default 8) fails. The real photographs we measure
  reach 3.0, the tiny demo model's output about 15, random colour noise 17 and more.
- **pixel noise** (grey or coloured): neighbouring pixels' lightness detail (difference from a
  3-pixel blur) is unrelated: the median tile's correlation of each pixel with its right and
  lower neighbours under `max_neighbour_likeness` (default 0.2) while that detail is strong (median
  tile's median absolute detail at least `min_grain`, default 4 L units). Photographs stay above
  0.43; fine grain over a flat colour is weaker than `min_grain` and passes.
- **stripes or tiled repetition**: the Lab detail (difference from a 3-pixel blur) repeats itself.
  Its normalised autocorrelation at any shift of 4 pixels or more at or above `max_repetition`
  (default 0.8) fails, when at least half the background tiles are textured (Lab detail of 1 or
  more): straight stripes repeat along themselves, a tiled pattern at its tile size, and both
  cover the picture, where a few identical shapes on a flat field (icons, the same product
  twice) do not. A brick wall photograph reaches 0.62.
- **washed-out grey**: a smooth grey haze: lightness between its 2nd and 98th percentile spans
  at least 1 and less than `min_tonal_range` (default 12, of 100), the 95th percentile chroma is
  under 8 and neighbouring pixels are alike (likeness 0.5 or more). An exactly flat colour is a
  design choice (and BG601's when it is the whole image); fine grain over one colour is not haze.
- **a near-copy of an earlier image of the same request**: the pipeline hands each image the
  backgrounds generated before it; a 64-pixel grey copy whose mean difference from one of them is
  under `max_copy_difference` (default 4 levels of 255) fails. Different seeds never come this
  close; a sampler that ignores its noise does.

The figures above are printed by `python -m benchmarks.checks_accuracy --photos-only` (its
degenerate set), which also measures false flags on the real photographs that scikit-image and
matplotlib ship.

Where the measures are taken: the kit's layout for the brief (headline box, disclaimer box and
the logo's corner, each with a margin) is left out, and the noise measure takes the median of
32-pixel tiles, so composited elements that sit elsewhere (a creative checked without its brief)
move it little. Without at least a fifth of the image left to look at it reports `skip` (it does
not apply: the picture is all brand elements).

Statuses: `pass` none of the above, with every measure in the evidence; `fail` names which and by
how much. It never needs a model, so it is never `unverified`.

Options in policy.yaml under `BG603`:
- `severity`: `flag` (default) or `reject`.
- `max_colour_noise` (8), `max_neighbour_likeness` (0.2), `min_grain` (4), `max_repetition` (0.8),
  `min_tonal_range` (12), `max_copy_difference` (4).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import cv2
import numpy as np
from numpy.typing import NDArray
from PIL import Image

from policies.check import Outcome
from policies.downscale import shrunk
from policies.options import number

if TYPE_CHECKING:
    from policies.brief import Brief
    from policies.creative import Creative
    from policies.kit import Kit

ID = "BG603"
NAME = "degenerate-output"
FAMILY = "technical"
DEFAULT_SEVERITY = "flag"

WORK_SIDE = 256
TILE = 32
MIN_BACKGROUND_SHARE = 0.2
MIN_DETAIL = 1.0  # Lab detail (RMS) from which a tile is textured, not flat or quantisation steps
# Stripes and tiles repeat across the picture; a few identical shapes on a flat field (icons,
# a product shot twice) repeat only where they are.
MIN_TEXTURED_SHARE = 0.5
# Wash-out is a smooth haze: some tonal change (an exactly flat field is a design colour, and
# BG601's when it is the whole image), smooth from pixel to pixel (fine grain over one colour is not).
MIN_HAZE = 1.0
HAZE_LIKENESS = 0.5
MIN_SHIFT = 4
BLUR_REACH = 9  # pixels of the work copy a 3-pixel Gaussian blur still draws from
COPY_SIDE = 64
WASHED_OUT_CHROMA = 8.0
# Margin around each composited element, as a share of the long side: plates and scrims reach
# past the text box, and the logo's clear space past the logo.
ELEMENT_MARGIN = 0.03


@dataclass(frozen=True)
class Measures:
    """What BG603 measures on a background; every field goes into the evidence."""

    background_share: float
    colour_noise: float
    neighbour_likeness: float
    grain_amplitude: float
    repetition: float
    repetition_shift: tuple[int, int]
    textured_share: float
    tonal_range: float
    chroma_p95: float

    def to_json(self) -> dict[str, Any]:
        return {
            "background_share": round(self.background_share, 3),
            "colour_noise": round(self.colour_noise, 2),
            "neighbour_likeness": round(self.neighbour_likeness, 3),
            "grain_amplitude": round(self.grain_amplitude, 2),
            "repetition": round(self.repetition, 3),
            "repetition_shift": list(self.repetition_shift),
            "textured_share": round(self.textured_share, 3),
            "tonal_range": round(self.tonal_range, 1),
            "chroma_p95": round(self.chroma_p95, 1),
        }


def run(creative: Creative, brief: Brief | None, kit: Kit, options: Mapping[str, Any]) -> Outcome:
    max_noise = number(options, ID, "max_colour_noise", 8.0)
    max_likeness = number(options, ID, "max_neighbour_likeness", 0.2)
    min_grain = number(options, ID, "min_grain", 4.0)
    max_repetition = number(options, ID, "max_repetition", 0.8)
    min_range = number(options, ID, "min_tonal_range", 12.0)
    max_copy = number(options, ID, "max_copy_difference", 4.0)

    mask = background_mask(creative.height, creative.width, brief, kit)
    measured = measure(creative.rgb, mask)
    if measured is None:
        return Outcome("skip", "the brand elements cover the picture: no background to judge")
    evidence: dict[str, Any] = measured.to_json()
    problems = []
    if measured.colour_noise >= max_noise:
        problems.append(f"coloured noise (colour detail {measured.colour_noise:.1f} ≥ {max_noise:g})")
    if measured.neighbour_likeness < max_likeness and measured.grain_amplitude >= min_grain:
        problems.append(
            f"pixel noise (neighbouring pixels alike {measured.neighbour_likeness:.2f} < {max_likeness:g}, "
            f"grain {measured.grain_amplitude:.1f})"
        )
    if measured.repetition >= max_repetition and measured.textured_share >= MIN_TEXTURED_SHARE:
        dy, dx = measured.repetition_shift
        problems.append(
            f"stripes or tiled repetition (the pattern repeats {measured.repetition:.2f} "
            f"at a shift of {dx},{dy} px of {WORK_SIDE})"
        )
    if (
        MIN_HAZE <= measured.tonal_range < min_range
        and measured.chroma_p95 < WASHED_OUT_CHROMA
        and measured.neighbour_likeness >= HAZE_LIKENESS
    ):
        problems.append(f"washed-out grey (tonal range {measured.tonal_range:.1f} < {min_range:g})")
    copy = nearest_earlier(creative.rgb, creative.earlier, mask)
    if copy is not None:
        index, difference = copy
        evidence["nearest_earlier"] = {"index": index, "difference": round(difference, 2)}
        if difference < max_copy:
            problems.append(
                f"a near-copy of image {index + 1} of this request (mean difference {difference:.1f} levels)"
            )
    if problems:
        return Outcome("fail", "degenerate picture: " + "; ".join(problems), 0.9, evidence)
    return Outcome("pass", "the picture has natural structure (no noise, repetition or wash-out)", 0.8, evidence)


def background_mask(height: int, width: int, brief: Brief | None, kit: Kit) -> NDArray[np.bool_]:
    """True where the generated picture shows: the layout's text boxes and logo corner left out."""
    mask = np.ones((height, width), bool)
    if brief is None:
        return mask
    try:
        layout = kit.layout(brief.layout)
    except Exception:  # an unknown layout is refused before checks run; judge the whole image
        return mask
    pad = round(ELEMENT_MARGIN * max(height, width))
    boxes = []
    if brief.headline:
        boxes.append(layout.headline_box)
    if brief.disclaimer or kit.spec.required_disclaimers:
        boxes.append(layout.disclaimer_box)
    for x, y, w, h in boxes:
        mask[
            max(0, round(y * height) - pad) : round((y + h) * height) + pad,
            max(0, round(x * width) - pad) : round((x + w) * width) + pad,
        ] = False
    if brief.logo and brief.logo in kit.spec.logos:
        where = layout.logo
        share = where.width if where is not None else 0.2
        margin = where.margin if where is not None else 0.04
        anchor = where.anchor if where is not None else "bottom-right"
        spec = kit.spec.logos[brief.logo]
        # The logo's height is not known without its file; its width bounds a wordmark's and,
        # doubled, a square mark's with its clear space.
        logo_w = max(round(share * width), spec.min_width_px)
        reach_x = round(logo_w * (1 + 2 * spec.clear_space)) + round(margin * width) + pad
        reach_y = min(height, reach_x)
        if anchor == "center":
            cx, cy = width // 2, height // 2
            mask[max(0, cy - reach_y // 2) : cy + reach_y // 2, max(0, cx - reach_x // 2) : cx + reach_x // 2] = False
        else:
            rows = slice(0, reach_y) if anchor.startswith("top") else slice(max(0, height - reach_y), height)
            cols = slice(0, reach_x) if anchor.endswith("left") else slice(max(0, width - reach_x), width)
            mask[rows, cols] = False
    return mask


def measure(rgb: NDArray[np.uint8], mask: NDArray[np.bool_] | None = None) -> Measures | None:
    """The measures of the picture where `mask` is true; None when too little of it shows."""
    factor = min(1.0, WORK_SIDE / max(rgb.shape[:2]))
    small = shrunk(rgb, factor) if factor < 1 else rgb
    h, w = small.shape[:2]
    if mask is None:
        shown = np.ones((h, w), bool)
    else:
        shown = cv2.resize(mask.astype(np.uint8), (w, h), interpolation=cv2.INTER_NEAREST) > 0
        # The blurs below reach about 9 pixels: keep the composited edges out of every measure.
        shown = cv2.erode(shown.astype(np.uint8), np.ones((2 * BLUR_REACH + 1,) * 2, np.uint8)) > 0
    share = float(shown.mean())
    if share < MIN_BACKGROUND_SHARE:
        return None
    lab = cv2.cvtColor(small.astype(np.float32) / 255.0, cv2.COLOR_RGB2Lab)
    lightness, chroma_ab = lab[..., 0], lab[..., 1:]
    colour_detail = np.sqrt(((chroma_ab - cv2.GaussianBlur(chroma_ab, (0, 0), 2.0)) ** 2).sum(axis=2))
    detail = lightness - cv2.GaussianBlur(lightness, (0, 0), 3.0)

    # Per 32-pixel tile: the median pixel's colour detail (edges of type and shapes are a few
    # pixels of a tile, noise is all of them), and how alike neighbouring pixels' lightness
    # detail is (white noise: not at all).
    # Stripes of colour alone keep lightness flat: repetition is judged on all three channels.
    lab_detail = lab - cv2.GaussianBlur(lab, (0, 0), 3.0)
    noise_tiles, grain_tiles, amplitude_tiles, textured = [], [], [], []
    for y in range(0, h - TILE // 2, TILE):
        for x in range(0, w - TILE // 2, TILE):
            inside = shown[y : y + TILE, x : x + TILE]
            if inside.mean() < 0.75:
                continue
            noise_tiles.append(float(np.median(colour_detail[y : y + TILE, x : x + TILE][inside])))
            tile_detail = lab_detail[y : y + TILE, x : x + TILE][inside]
            textured.append(float(np.sqrt((tile_detail**2).sum(axis=1).mean())) >= MIN_DETAIL)
            patch = detail[y : y + TILE, x : x + TILE]
            amplitude_tiles.append(float(np.median(np.abs(patch[inside]))))
            if patch.std() >= 0.5:
                grain_tiles.append(_neighbour_likeness(patch))
    if not noise_tiles:
        noise_tiles = [float(np.median(colour_detail[shown]))]
        amplitude_tiles = [float(np.median(np.abs(detail[shown])))]
    colour_noise = float(np.median(noise_tiles))
    grain = float(np.median(grain_tiles)) if grain_tiles else 1.0
    grain_amplitude = float(np.median(amplitude_tiles))

    repetition, shift = _repetition(lab_detail, shown)
    chroma = np.hypot(chroma_ab[..., 0], chroma_ab[..., 1])[shown]
    tones = lightness[shown]
    return Measures(
        background_share=share,
        colour_noise=colour_noise,
        neighbour_likeness=grain,
        grain_amplitude=grain_amplitude,
        repetition=repetition,
        repetition_shift=shift,
        textured_share=float(np.mean(textured)) if textured else 0.0,
        tonal_range=float(np.percentile(tones, 98) - np.percentile(tones, 2)),
        chroma_p95=float(np.percentile(chroma, 95)),
    )


def _neighbour_likeness(patch: NDArray[np.float32]) -> float:
    """Correlation of each pixel with its right and lower neighbours, averaged."""
    across = np.corrcoef(patch[:, 1:].ravel(), patch[:, :-1].ravel())[0, 1]
    down = np.corrcoef(patch[1:].ravel(), patch[:-1].ravel())[0, 1]
    return float((across + down) / 2)


def _repetition(detail: NDArray[np.float32], shown: NDArray[np.bool_]) -> tuple[float, tuple[int, int]]:
    """The highest normalised autocorrelation of `detail` (H×W×C) at a shift of MIN_SHIFT px or more.

    Computed on the shown pixels only (masked, zero-padded so nothing wraps round), each shift
    normalised by the energy of the pixels that overlap at it, channels summed; shifts whose
    overlap is under a quarter of the shown area are ignored, their few pixels say little.
    """
    h, w = shown.shape
    size = (2 * h, 2 * w)
    weights = shown.astype(np.float64)
    f_weights = np.fft.rfft2(weights, size)
    cross = np.zeros(size)
    squares = np.zeros((h, w))
    for channel in range(detail.shape[2]):
        plane = detail[..., channel]
        values = np.where(shown, plane - plane[shown].mean(), 0.0)
        f_values = np.fft.rfft2(values, size)
        cross += np.fft.irfft2(f_values * np.conj(f_values), size)
        squares += values * values
    f_squares = np.fft.rfft2(squares, size)
    # Energy of the overlapping pixels on either side of each shift.
    energy_a = np.fft.irfft2(f_squares * np.conj(f_weights), size)
    energy_b = np.fft.irfft2(f_weights * np.conj(f_squares), size)
    overlap = np.fft.irfft2(f_weights * np.conj(f_weights), size)
    with np.errstate(invalid="ignore", divide="ignore"):
        corr = cross / np.sqrt(np.clip(energy_a, 1e-9, None) * np.clip(energy_b, 1e-9, None))
    dy = np.fft.fftfreq(size[0], 1 / size[0]).round().astype(int)[:, None]
    dx = np.fft.fftfreq(size[1], 1 / size[1]).round().astype(int)[None, :]
    eligible = (np.hypot(dy, dx) >= MIN_SHIFT) & (overlap >= 0.25 * weights.sum())
    corr = np.where(eligible & np.isfinite(corr), corr, -1.0)
    best = np.unravel_index(int(np.argmax(corr)), corr.shape)
    return float(corr[best]), (int(dy[best[0], 0]), int(dx[0, best[1]]))


def background_copy(image: Image.Image) -> NDArray[np.uint8]:
    """The small copy of a generated background that later images of its request are compared with."""
    rgb = image.convert("RGB")
    rgb.thumbnail((2 * COPY_SIDE, 2 * COPY_SIDE), Image.Resampling.BOX)
    return np.asarray(rgb, dtype=np.uint8)


def nearest_earlier(
    rgb: NDArray[np.uint8], earlier: Sequence[NDArray[np.uint8]], mask: NDArray[np.bool_]
) -> tuple[int, float] | None:
    """The earlier image closest to this one (index, mean grey difference where `mask` is true)."""
    if not earlier:
        return None
    side = (COPY_SIDE, COPY_SIDE)
    shown = cv2.resize(mask.astype(np.uint8), side, interpolation=cv2.INTER_NEAREST) > 0
    if not shown.any():
        return None

    def thumb(pixels: NDArray[np.uint8]) -> NDArray[np.float32]:
        grey = cv2.cvtColor(pixels, cv2.COLOR_RGB2GRAY)
        return cv2.resize(grey, side, interpolation=cv2.INTER_AREA).astype(np.float32)

    mine = thumb(rgb)
    scores = [float(np.abs(mine - thumb(other))[shown].mean()) for other in earlier]
    index = int(np.argmin(scores))
    return index, scores[index]
