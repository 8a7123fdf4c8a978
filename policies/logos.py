"""Finding a kit's logo in a creative: SIFT features, a RANSAC homography, then a pixel comparison.

Shared by BG201 (is it the right, unaltered logo?) and BG202 (is it big enough, is its clear
space free?). Reference features are computed once per process per logo file; the creative's
features once per creative (through `Creative.shared`), whichever check asks first.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import cv2
import numpy as np
from numpy.typing import NDArray
from PIL import Image

from policies.colour import delta_e_2000, srgb_to_lab
from policies.errors import InvalidInput
from policies.perceptual import hamming, phash

if TYPE_CHECKING:
    from policies.creative import Creative

# The reference frame: logos are compared at this width whatever their size in the creative.
FRAME_WIDTH = 256
# SIFT sees reference logos at several widths so that a 64 px logo and a 600 px one both match.
REFERENCE_WIDTHS = (64, 96, 160, 256, 384)
# Matching runs on a copy whose long side is at most this; SIFT's own 2x upsampling keeps
# logos down to about 64 px findable at this size while a 1024 px creative costs half as much.
MATCH_LONG_SIDE = 768
# The logo is first looked for at this side (a third of the pixels of MATCH_LONG_SIDE), then
# matched again at full resolution in the region where it was found, seen at up to
# REGION_LONG_SIDE.
COARSE_LONG_SIDE = 512
REGION_LONG_SIDE = 640
MIN_INLIERS = 8
RATIO_TEST = 0.8
# A pixel of the logo whose CIEDE2000 difference to the reference exceeds this "differs".
PIXEL_DELTA_E = 14.0


@dataclass(frozen=True)
class DominantColour:
    """One flat colour of the logo file and where it is, in the reference frame."""

    rgb: tuple[int, int, int]
    lab: NDArray[np.float64]
    share: float
    mask: NDArray[np.bool_]

    @property
    def hex(self) -> str:
        return "#{:02X}{:02X}{:02X}".format(*self.rgb)


@dataclass(frozen=True)
class ColourFidelity:
    """A dominant logo colour as measured in the creative."""

    reference: str
    measured: str
    delta_e: float  # median CIEDE2000 over the colour's own pixels
    share: float

    def evidence(self) -> dict[str, object]:
        return {
            "reference": self.reference,
            "measured": self.measured,
            "delta_e": round(self.delta_e, 2),
            "share": round(self.share, 3),
        }


@dataclass(frozen=True)
class LogoReference:
    """A logo file prepared for matching: pixels in the reference frame and SIFT features."""

    path: str
    rgb: NDArray[np.uint8]  # FRAME_WIDTH wide, composited on nothing (transparent = 0)
    alpha: NDArray[np.float32]  # 0..1, same frame
    points: NDArray[np.float32]  # keypoint positions in frame coordinates, N×2
    descriptors: NDArray[np.float32]  # N×128
    source_width: int
    source_height: int
    # The logo's own dominant colours: (sRGB, Lab, share of the opaque pixels, frame mask of
    # the pixels that are that colour away from any edge), largest first.
    colours: tuple[DominantColour, ...] = ()
    # Where the frame lies in the file: x0, y0 of the opaque box, and the file's width and height
    # (compositing scales the whole file, padding included, into the placed box).
    file_box: tuple[int, int, int, int] = (0, 0, 0, 0)

    @property
    def frame_size(self) -> tuple[int, int]:
        return int(self.alpha.shape[1]), int(self.alpha.shape[0])


@dataclass(frozen=True)
class Features:
    points: NDArray[np.float32]  # in full-resolution creative coordinates
    descriptors: NDArray[np.float32] | None


@dataclass(frozen=True)
class Geometry:
    """How the located logo is transformed relative to the reference frame."""

    width_px: float  # width of the logo in the creative, along its own axis
    height_px: float
    scale: float  # geometric mean of the two axis scales (creative px per frame px)
    anisotropy: float  # larger axis scale / smaller: 1.0 is an undistorted logo
    shear_deg: float  # deviation from a right angle between the logo's axes
    rotation_deg: float
    perspective: float  # how far the homography is from affine, per frame width
    corners: tuple[tuple[float, float], ...]  # the frame's corners in the creative, clockwise


@dataclass(frozen=True)
class Comparison:
    """The warped creative region against the reference, on the logo's own pixels."""

    phash_distance: int
    median_delta_e: float
    differing_fraction: float  # share of the logo's pixels whose colour differs
    largest_blob_fraction: float  # the largest connected patch of differing pixels, as a share
    edge_agreement: float  # correlation of edge strength, reference vs creative: low = not a logo
    colours: tuple[ColourFidelity, ...] = ()  # each dominant logo colour as measured

    @property
    def worst_colour(self) -> ColourFidelity | None:
        return max(self.colours, key=lambda c: c.delta_e, default=None)


@dataclass(frozen=True)
class Located:
    variant: str
    inliers: int
    matches: int
    homography: NDArray[np.float64]  # frame → creative, full resolution
    geometry: Geometry
    comparison: Comparison
    box: tuple[int, int, int, int]  # x0, y0, x1, y1 of the logo's opaque pixels in the creative
    mask: NDArray[np.bool_]  # creative-sized, where the logo is opaque
    # How it was located: "placed" (brandgate's placement record, confirmed by the logo's own
    # outlines there), "features" (SIFT matches over the pixels) or "shape" (the outline search,
    # where features found nothing or only texture).
    located_by: str = "features"

    def evidence(self) -> dict[str, object]:
        g, c = self.geometry, self.comparison
        return {
            "variant": self.variant,
            "located_by": self.located_by,
            "box": list(self.box),
            "width_px": round(g.width_px, 1),
            "rotation_deg": round(g.rotation_deg, 1),
            "anisotropy": round(g.anisotropy, 3),
            "shear_deg": round(g.shear_deg, 1),
            "inliers": self.inliers,
            "phash_distance": c.phash_distance,
            "median_delta_e": round(c.median_delta_e, 2),
            "differing_fraction": round(c.differing_fraction, 3),
            "largest_blob_fraction": round(c.largest_blob_fraction, 3),
            "edge_agreement": round(c.edge_agreement, 3),
            "colours": [colour.evidence() for colour in c.colours],
        }


_reference_cache: dict[tuple[str, int, int], LogoReference] = {}
_reference_lock = threading.Lock()


def reference_for(path: Path) -> LogoReference:
    """The prepared reference of a logo file; computed once per process per file version."""
    stat = path.stat()
    key = (str(path.resolve()), stat.st_mtime_ns, stat.st_size)
    with _reference_lock:
        cached = _reference_cache.get(key)
        if cached is None:
            cached = _prepare_reference(path)
            _reference_cache[key] = cached
        return cached


def _prepare_reference(path: Path) -> LogoReference:
    try:
        with Image.open(path) as image:
            rgba = np.asarray(image.convert("RGBA"), dtype=np.uint8)
    except (OSError, ValueError) as exc:
        raise InvalidInput(f"logo file cannot be read as an image: {exc}", str(path)) from None
    alpha_full = rgba[..., 3]
    file_h, file_w = alpha_full.shape
    ys, xs = np.nonzero(alpha_full > 0)
    if len(xs) == 0:
        raise InvalidInput("logo file is fully transparent", str(path))
    # The frame is the logo's opaque bounding box: padding in the file is not part of the logo.
    rgba = rgba[ys.min() : ys.max() + 1, xs.min() : xs.max() + 1]
    src_h, src_w = rgba.shape[:2]
    frame = _resize_rgba(rgba, FRAME_WIDTH)
    alpha = frame[..., 3].astype(np.float32) / 255.0
    rgb = frame[..., :3]

    sift = cv2.SIFT_create()  # type: ignore[attr-defined]
    points: list[NDArray[np.float32]] = []
    descriptors: list[NDArray[np.float32]] = []
    for width in REFERENCE_WIDTHS:
        scaled = _resize_rgba(rgba, width)
        factor = FRAME_WIDTH / width
        a = scaled[..., 3:4].astype(np.float32) / 255.0
        # Composited on light and on dark: a logo's outline features depend on what is behind it.
        for backdrop in (255.0, 0.0):
            comp = scaled[..., :3].astype(np.float32) * a + backdrop * (1 - a)
            grey = cv2.cvtColor(comp.astype(np.uint8), cv2.COLOR_RGB2GRAY)
            pad = 16
            grey = cv2.copyMakeBorder(grey, pad, pad, pad, pad, cv2.BORDER_CONSTANT, value=backdrop)
            keypoints, desc = sift.detectAndCompute(grey, None)
            if desc is None:
                continue
            pts = np.array([kp.pt for kp in keypoints], dtype=np.float32) - pad
            points.append(pts * factor)
            descriptors.append(desc.astype(np.float32))
    if not descriptors:
        raise InvalidInput("logo has no distinctive features to match (is it blank?)", str(path))
    return LogoReference(
        path=str(path),
        rgb=rgb,
        alpha=alpha,
        points=np.concatenate(points),
        descriptors=np.concatenate(descriptors),
        source_width=src_w,
        source_height=src_h,
        colours=_dominant_colours(rgb, alpha),
        file_box=(int(xs.min()), int(ys.min()), int(file_w), int(file_h)),
    )


# A colour counts as one of the logo's own when it covers at least this share of its opaque
# pixels; pixels within DOMINANT_DELTA_E of it are that colour (anti-aliased edges are not).
DOMINANT_SHARE = 0.03
DOMINANT_DELTA_E = 6.0


def _dominant_colours(rgb: NDArray[np.uint8], alpha: NDArray[np.float32]) -> tuple[DominantColour, ...]:
    """The flat colours a logo file is drawn in, most frequent first (greedy clustering of the
    opaque pixels' colours in CIELAB)."""
    opaque = alpha > 0.98
    total = int(opaque.sum())
    if total == 0:
        return ()
    lab = srgb_to_lab(rgb)
    pixels = rgb[opaque]
    quantised, counts = np.unique((pixels // 4).astype(np.int32) @ np.array([4096, 64, 1]), return_counts=True)
    order = np.argsort(-counts)
    unassigned = opaque.copy()
    out: list[DominantColour] = []
    for index in order[:64]:
        code = int(quantised[index])
        centre_rgb = np.array([(code // 4096) * 4 + 2, (code // 64 % 64) * 4 + 2, (code % 64) * 4 + 2], np.float64)
        centre = srgb_to_lab(centre_rgb)
        near = unassigned & (delta_e_2000(lab, centre) < DOMINANT_DELTA_E)
        share = float(near.sum()) / total
        if share < DOMINANT_SHARE:
            continue
        unassigned &= ~near
        measured = np.median(rgb[near], axis=0)
        out.append(
            DominantColour(
                rgb=(int(measured[0]), int(measured[1]), int(measured[2])),
                lab=srgb_to_lab(measured),
                share=share,
                mask=near,
            )
        )
    return tuple(sorted(out, key=lambda c: -c.share))


def _colour_fidelity(reference: LogoReference, warped: NDArray[np.uint8], scale: float) -> tuple[ColourFidelity, ...]:
    """Each dominant colour of the logo as the creative shows it: the median ΔE2000 between the
    kit file's colour and the creative's pixels where the logo has that colour, away from its
    edges by a creative pixel and a half (so resampling and JPEG's blurred edges do not count)."""
    reach = max(1, int(np.ceil(1.5 / max(scale, 1e-6))))
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * reach + 1, 2 * reach + 1))
    lab = srgb_to_lab(warped)
    out = []
    for colour in reference.colours:
        inner = cv2.erode(colour.mask.astype(np.uint8), kernel) > 0
        if inner.sum() < 12:
            continue
        delta = delta_e_2000(lab[inner], colour.lab)
        measured = np.median(warped[inner], axis=0)
        out.append(
            ColourFidelity(
                reference=colour.hex,
                measured="#{:02X}{:02X}{:02X}".format(*(int(v) for v in measured)),
                delta_e=float(np.median(delta)),
                share=colour.share,
            )
        )
    return tuple(out)


def _resize_rgba(rgba: NDArray[np.uint8], width: int) -> NDArray[np.uint8]:
    h, w = rgba.shape[:2]
    height = max(1, round(h * width / w))
    # Premultiplied so that transparent pixels' colour does not bleed into the edges.
    a = rgba[..., 3:4].astype(np.float32) / 255.0
    premult = np.concatenate([rgba[..., :3].astype(np.float32) * a, a * 255.0], axis=2)
    interp = cv2.INTER_AREA if width < w else cv2.INTER_CUBIC
    small = cv2.resize(premult, (width, height), interpolation=interp)
    out_a = np.clip(small[..., 3:4], 0, 255)
    colour = np.where(out_a > 0, small[..., :3] * 255.0 / np.maximum(out_a, 1e-6), 0)
    return np.concatenate([np.clip(colour, 0, 255), out_a], axis=2).round().astype(np.uint8)


def _features_of(grey: NDArray[np.uint8], long_side: int, offset: tuple[int, int] = (0, 0)) -> Features:
    """SIFT features of `grey` seen with its long side at most `long_side`, positions in the
    creative's full-resolution pixels (`offset` is the crop's corner)."""
    factor = min(1.0, long_side / max(grey.shape))
    if factor < 1.0:
        grey = np.asarray(cv2.resize(grey, None, fx=factor, fy=factor, interpolation=cv2.INTER_AREA), np.uint8)
    sift = cv2.SIFT_create()  # type: ignore[attr-defined]
    keypoints, desc = sift.detectAndCompute(grey, None)
    pts = np.array([kp.pt for kp in keypoints], dtype=np.float32).reshape(-1, 2) / factor
    pts += np.array(offset, dtype=np.float32)
    return Features(points=pts, descriptors=None if desc is None else desc.astype(np.float32))


def creative_features(creative: Creative) -> Features:
    """SIFT features of the whole creative at matching scale (MATCH_LONG_SIDE)."""
    return creative.shared("logos.features", lambda: _features_of(creative.grey(), MATCH_LONG_SIDE))


def coarse_features(creative: Creative) -> Features:
    """SIFT features of the whole creative at COARSE_LONG_SIDE: where a logo is, cheaply."""
    return creative.shared("logos.features-coarse", lambda: _features_of(creative.grey(), COARSE_LONG_SIDE))


def region_features(creative: Creative, region: tuple[int, int, int, int]) -> Features:
    """SIFT features of one region of the creative, at full resolution up to REGION_LONG_SIDE."""
    x0, y0, x1, y1 = region

    def compute() -> Features:
        return _features_of(creative.grey()[y0:y1, x0:x1], REGION_LONG_SIDE, (x0, y0))

    return creative.shared(f"logos.features-region:{region}", compute)


def _padded(box: tuple[float, float, float, float], creative: Creative, share: float) -> tuple[int, int, int, int]:
    x0, y0, x1, y1 = box
    pad = share * max(x1 - x0, y1 - y0)
    return (
        int(max(0, np.floor(x0 - pad))),
        int(max(0, np.floor(y0 - pad))),
        int(min(creative.width, np.ceil(x1 + pad))),
        int(min(creative.height, np.ceil(y1 + pad))),
    )


def locate(creative: Creative, reference: LogoReference, variant: str) -> Located | None:
    """Where `reference` appears in the creative and how it compares; None when not found.

    Where brandgate placed a logo, the file as compositing drew it into the recorded box is
    compared first, and believed when its outlines are there (`_locate_placed`); failing that,
    its features are taken around the placed box only. Else the logo is first looked for at
    COARSE_LONG_SIDE and, once found, matched again at full resolution around where it was
    found; only when the coarse look finds nothing is the whole creative searched at
    MATCH_LONG_SIDE (a logo too small to survive the coarse scale). From the pixels alone, the
    outline search (`_locate_by_shape`) runs beside the features and the candidate whose outline
    agrees better with the reference's is kept (`_better`).
    """

    def compute() -> Located | None:
        placed = creative.placed("logo")
        box = placed.get("box") if placed is not None else None
        if box and len(box) == 4:
            found = _locate_placed(creative, reference, variant, tuple(float(v) for v in box))  # type: ignore[arg-type]
            if found is not None:
                return found
        zone = placed.get("clear_zone") or placed.get("box") if placed is not None else None
        if zone and len(zone) == 4:
            region = _padded(tuple(float(v) for v in zone), creative, 0.25)  # type: ignore[arg-type]
            found = _locate(creative, reference, variant, region_features(creative, region))
            if found is not None:
                return found
        rough = _homography(creative, reference, coarse_features(creative))
        if rough is not None:
            corners = cv2.perspectiveTransform(_frame_corners(reference), rough[0]).reshape(-1, 2)
            box = (
                float(corners[:, 0].min()),
                float(corners[:, 1].min()),
                float(corners[:, 0].max()),
                float(corners[:, 1].max()),
            )
            region = _padded(box, creative, 0.2)
            found = _locate(creative, reference, variant, region_features(creative, region))
            if found is not None:
                return _better(found, by_shape())
        return _better(_locate(creative, reference, variant, creative_features(creative)), by_shape())

    def by_shape() -> Located | None:
        return _locate_by_shape(creative, reference, variant)

    return creative.shared(f"logos.locate:{reference.path}", compute)


# A placed logo counts as there when its outlines, seen where the placement record puts it,
# correlate with the reference's at least this much. A clean logo measures 0.8 and up (JPEG
# included); where the logo is not there, or the record is not this creative's, the correlation
# is that of the reference's outlines with whatever texture is behind, far lower.
PLACED_MIN_EDGE_AGREEMENT = 0.6


def _placed_homography(reference: LogoReference, box: tuple[float, float, float, float]) -> NDArray[np.float64]:
    """Frame → creative as compositing drew the file: the whole file scaled into `box`."""
    x0, y0, x1, y1 = box
    crop_x, crop_y, file_w, file_h = reference.file_box
    fw, fh = reference.frame_size
    # frame → file: the opaque box, resized to the frame's width
    to_file = np.array(
        [[reference.source_width / fw, 0, crop_x], [0, reference.source_height / fh, crop_y], [0, 0, 1]], np.float64
    )
    to_creative = np.array(
        [[(x1 - x0) / max(file_w, 1), 0, x0], [0, (y1 - y0) / max(file_h, 1), y0], [0, 0, 1]], np.float64
    )
    return np.asarray(to_creative @ to_file, dtype=np.float64)


def _locate_placed(
    creative: Creative, reference: LogoReference, variant: str, box: tuple[float, float, float, float]
) -> Located | None:
    """The logo where brandgate's placement record says it drew it, if its outlines are there.

    Compositing knows where it put the logo, so no search is needed and photographic texture
    (hair, foliage, a dark backdrop that hides the logo's outline features) cannot lead one
    astray. The record is only believed once the pixels agree: the logo's own outline edges,
    colour ignored, must correlate with the reference's (PLACED_MIN_EDGE_AGREEMENT); else the
    features decide, as for a creative without a record. A recoloured or altered logo at the
    recorded place keeps its outlines and is judged by the comparison, as any other.
    """
    if reference.file_box[2] <= 0 or box[2] <= box[0] or box[3] <= box[1]:
        return None
    return _outline_judged(creative, reference, variant, _placed_homography(reference, box), "placed")


# The outline search looks at the creative with its long side at this, for logos from
# SHAPE_MIN_WIDTH px wide up to SHAPE_MAX_SHARE of the creative's width, in steps of SHAPE_STEP.
SHAPE_LONG_SIDE = 384
SHAPE_MIN_WIDTH = 64
SHAPE_MAX_SHARE = 0.6
SHAPE_STEP = 1.12


def _edges(rgb: NDArray[np.float32]) -> NDArray[np.float32]:
    """Gradient magnitude in CIELAB: a dark blue logo on dark foliage differs in hue, not grey."""
    lab = cv2.cvtColor(np.clip(rgb / 255.0, 0, 1).astype(np.float32), cv2.COLOR_RGB2Lab)
    total = np.zeros(rgb.shape[:2], np.float32)
    for channel in cv2.split(lab):
        gx = cv2.Sobel(channel, cv2.CV_32F, 1, 0, ksize=3)
        gy = cv2.Sobel(channel, cv2.CV_32F, 0, 1, ksize=3)
        total += gx * gx + gy * gy
    return np.asarray(np.sqrt(total), np.float32)


def _locate_by_shape(creative: Creative, reference: LogoReference, variant: str) -> Located | None:
    """The logo found by its outline: normalised cross-correlation of edge maps, upright and
    unstretched, at the widths a logo can have, on the logo's own pixels only (its mask, so what
    lies behind transparent pixels is not compared). The best candidate is then aligned (ECC)
    and kept only when its outline agrees with the reference's (PLACED_MIN_EDGE_AGREEMENT), as a
    placed one; its colours are judged by the comparison as always.

    Features fail on a logo over photographic texture: its outline features depend on what is
    behind it, and hair or foliage outnumber them in the ratio test. The outline as a whole does
    not depend on the background's texture, only on the logo being there.
    """
    factor = min(1.0, SHAPE_LONG_SIDE / max(creative.width, creative.height))
    small = creative.rgb.astype(np.float32)
    if factor < 1.0:
        small = np.asarray(cv2.resize(small, None, fx=factor, fy=factor, interpolation=cv2.INTER_AREA), np.float32)
    image_edges = _edges(small)
    fw, fh = reference.frame_size
    best: tuple[float, float, tuple[int, int]] | None = None  # (score, width in creative px, top-left)
    width = float(SHAPE_MIN_WIDTH)
    while width <= SHAPE_MAX_SHARE * creative.width:
        w = max(8, round(width * factor))
        h = max(4, round(w * fh / fw))
        if w >= image_edges.shape[1] or h >= image_edges.shape[0]:
            break
        # The logo on mid grey: its outline against whatever is behind is where its alpha edge is.
        alpha = cv2.resize(reference.alpha, (w, h), interpolation=cv2.INTER_AREA)
        rgb = cv2.resize(reference.rgb.astype(np.float32), (w, h), interpolation=cv2.INTER_AREA)
        template = _edges(rgb * alpha[..., None] + 128.0 * (1 - alpha[..., None]))
        mask = (cv2.dilate((alpha > 0.05).astype(np.uint8), np.ones((3, 3), np.uint8)) > 0).astype(np.float32)
        scores = cv2.matchTemplate(image_edges, template, cv2.TM_CCOEFF_NORMED, mask=mask)
        scores = np.nan_to_num(scores, nan=-1.0, posinf=-1.0, neginf=-1.0)
        _, score, _, at = cv2.minMaxLoc(scores)
        if best is None or score > best[0]:
            best = (float(score), w / factor, (int(at[0]), int(at[1])))
        width *= SHAPE_STEP
    if best is None:
        return None
    _, logo_width, (x, y) = best
    scale = logo_width / fw
    homography = np.array([[scale, 0, x / factor], [0, scale, y / factor], [0, 0, 1]], np.float64)
    return _outline_judged(creative, reference, variant, homography, "shape")


def _settled(
    creative: Creative, reference: LogoReference, homography: NDArray[np.float64]
) -> tuple[NDArray[np.float64], Geometry] | None:
    """The homography refined by ECC where that converges to a plausible geometry, with its geometry;
    None when the starting homography's geometry is not plausible."""
    geometry = _geometry(homography, reference)
    if geometry is None:
        return None
    refined = _refine(creative, reference, homography, geometry)
    if refined is not None:
        refined_geometry = _geometry(refined, reference)
        if refined_geometry is not None:
            return refined, refined_geometry
    return homography, geometry


def _outline_judged(
    creative: Creative, reference: LogoReference, variant: str, homography: NDArray[np.float64], located_by: str
) -> Located | None:
    """The logo at `homography` (refined by ECC where it converges), kept only when its outlines agree
    with the creative's at PLACED_MIN_EDGE_AGREEMENT or more; None otherwise."""
    settled = _settled(creative, reference, homography)
    if settled is None:
        return None
    homography, geometry = settled
    comparison, mask, box = _compare(creative, reference, homography, geometry)
    if comparison.edge_agreement < PLACED_MIN_EDGE_AGREEMENT:
        return None
    return Located(
        variant=variant,
        inliers=0,
        matches=0,
        homography=homography,
        geometry=geometry,
        comparison=comparison,
        box=box,
        mask=mask,
        located_by=located_by,
    )


def _better(a: Located | None, b: Located | None) -> Located | None:
    """Of two placements found from the pixels, the one whose outline agrees better with the
    reference's: features can match texture (hair, foliage) and yield a stretched, sheared
    "logo" where the outline search finds the upright one, and an outline search cannot see a
    stretched logo that the features' homography follows."""
    if a is None or b is None:
        return a or b
    return b if b.comparison.edge_agreement > a.comparison.edge_agreement else a


def _frame_corners(reference: LogoReference) -> NDArray[np.float64]:
    fw, fh = reference.frame_size
    return np.array([[0, 0], [fw, 0], [fw, fh], [0, fh]], dtype=np.float64).reshape(-1, 1, 2)


def _homography(
    creative: Creative, reference: LogoReference, features: Features
) -> tuple[NDArray[np.float64], int, int] | None:
    """RANSAC homography frame → creative from feature matches: (H, inliers, matches) or None."""
    if features.descriptors is None or len(features.descriptors) < 2:
        return None
    matcher = cv2.BFMatcher(cv2.NORM_L2)
    pairs = matcher.knnMatch(reference.descriptors, features.descriptors, k=2)
    good = [p[0] for p in pairs if len(p) == 2 and p[0].distance < RATIO_TEST * p[1].distance]
    if len(good) < MIN_INLIERS:
        return None
    src = reference.points[[m.queryIdx for m in good]].reshape(-1, 1, 2)
    dst = features.points[[m.trainIdx for m in good]].reshape(-1, 1, 2)
    reproj = max(3.0, 0.006 * max(creative.width, creative.height))
    found_h, inlier_mask = cv2.findHomography(src, dst, cv2.RANSAC, reproj, maxIters=2000, confidence=0.995)
    if found_h is None or inlier_mask is None:
        return None
    inliers = int(inlier_mask.sum())
    if inliers < MIN_INLIERS:
        return None
    homography: NDArray[np.float64] = np.asarray(found_h, dtype=np.float64)
    if _geometry(homography, reference) is None:
        return None
    return homography, inliers, len(good)


def _locate(creative: Creative, reference: LogoReference, variant: str, features: Features) -> Located | None:
    found = _homography(creative, reference, features)
    if found is None:
        return None
    homography, inliers, matches = found
    settled = _settled(creative, reference, homography)
    if settled is None:
        return None
    homography, geometry = settled
    comparison, mask, box = _compare(creative, reference, homography, geometry)
    return Located(
        variant=variant,
        inliers=inliers,
        matches=matches,
        homography=homography,
        geometry=geometry,
        comparison=comparison,
        box=box,
        mask=mask,
    )


def _warp_to_frame(
    creative: Creative, homography: NDArray[np.float64], geometry: Geometry, size: tuple[int, int]
) -> NDArray[np.uint8]:
    """The creative resampled onto the reference frame (blurred first when shrinking)."""
    rgb = creative.rgb
    if geometry.scale > 1.5:
        # Warping samples sparsely when shrinking: blur first so the frame sees averages.
        sigma = 0.5 * geometry.scale
        x0, y0, x1, y1 = _corner_box(geometry, creative, pad=int(3 * sigma) + 2)
        patch = cv2.GaussianBlur(rgb[y0:y1, x0:x1], (0, 0), sigma)
        shift = np.array([[1, 0, -x0], [0, 1, -y0], [0, 0, 1]], dtype=np.float64)
        rgb = patch  # type: ignore[assignment]  # OpenCV 5 stubs widen the dtype
        homography = np.asarray(shift @ homography, dtype=np.float64)
    warped: NDArray[np.uint8] = cv2.warpPerspective(  # type: ignore[assignment]  # OpenCV 5 stubs widen the dtype
        rgb,
        homography,
        size,
        flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
        borderMode=cv2.BORDER_REPLICATE,
    )
    return warped


def _refine(
    creative: Creative,
    reference: LogoReference,
    homography: NDArray[np.float64],
    geometry: Geometry,
) -> NDArray[np.float64] | None:
    """Sub-pixel alignment by ECC on the logo's own pixels; None when it does not converge.

    Feature positions carry about a pixel of noise each, which leaves small logos a few pixels
    off at their ends; the pixel comparison after this needs them on top of each other.
    """
    size = reference.frame_size
    warped = _warp_to_frame(creative, homography, geometry, size)
    alpha = reference.alpha[..., None]
    template = (reference.rgb.astype(np.float32) * alpha + warped.astype(np.float32) * (1 - alpha)).astype(np.uint8)
    template_grey = cv2.cvtColor(template, cv2.COLOR_RGB2GRAY).astype(np.float32)
    input_grey = cv2.cvtColor(warped, cv2.COLOR_RGB2GRAY).astype(np.float32)
    mask = cv2.dilate((reference.alpha > 0.05).astype(np.uint8), np.ones((9, 9), np.uint8))
    warp = np.eye(3, dtype=np.float32)
    criteria = (cv2.TERM_CRITERIA_EPS | cv2.TERM_CRITERIA_COUNT, 40, 1e-4)
    try:
        _, warp = cv2.findTransformECC(  # type: ignore[assignment]
            template_grey, input_grey, warp, cv2.MOTION_HOMOGRAPHY, criteria, mask, 3
        )
    except cv2.error:
        return None
    # A correction of more than a few frame pixels is not a refinement but a different answer.
    corners = np.array([[0, 0], [size[0], 0], [size[0], size[1]], [0, size[1]]], np.float32).reshape(-1, 1, 2)
    moved = cv2.perspectiveTransform(corners, warp.astype(np.float64)).reshape(-1, 2) - corners.reshape(-1, 2)
    if float(np.abs(moved).max()) > 0.08 * size[0]:
        return None
    refined: NDArray[np.float64] = homography @ warp.astype(np.float64)
    return refined


def _geometry(homography: NDArray[np.float64], reference: LogoReference) -> Geometry | None:
    fw, fh = reference.frame_size
    corners_frame = np.array([[0, 0], [fw, 0], [fw, fh], [0, fh]], dtype=np.float64).reshape(-1, 1, 2)
    corners = cv2.perspectiveTransform(corners_frame, homography).reshape(-1, 2)
    if not np.all(np.isfinite(corners)):
        return None
    # A real placement keeps the corner order: a folded (non-convex) quad is a chance alignment.
    if not cv2.isContourConvex(corners.astype(np.float32)):
        return None
    cx, cy = fw / 2, fh / 2
    jac = _jacobian(homography, cx, cy)
    s = np.linalg.svd(jac, compute_uv=False)
    if s[1] <= 1e-9 or np.linalg.det(jac) <= 0:  # mirrored or degenerate
        return None
    axis_x, axis_y = jac[:, 0], jac[:, 1]
    width_scale = float(np.linalg.norm(axis_x))
    height_scale = float(np.linalg.norm(axis_y))
    cos_angle = float(np.dot(axis_x, axis_y) / (width_scale * height_scale))
    shear = abs(90.0 - float(np.degrees(np.arccos(np.clip(cos_angle, -1, 1)))))
    rotation = float(np.degrees(np.arctan2(axis_x[1], axis_x[0])))
    perspective = float(np.hypot(homography[2, 0], homography[2, 1]) * fw / abs(homography[2, 2]))
    return Geometry(
        width_px=width_scale * fw,
        height_px=height_scale * fh,
        scale=float(np.sqrt(s[0] * s[1])),
        anisotropy=float(s[0] / s[1]),
        shear_deg=shear,
        rotation_deg=rotation,
        perspective=perspective,
        corners=tuple((float(x), float(y)) for x, y in corners),
    )


def _jacobian(h: NDArray[np.float64], x: float, y: float) -> NDArray[np.float64]:
    w = h[2, 0] * x + h[2, 1] * y + h[2, 2]
    u = h[0, 0] * x + h[0, 1] * y + h[0, 2]
    v = h[1, 0] * x + h[1, 1] * y + h[1, 2]
    return np.array(
        [
            [(h[0, 0] * w - u * h[2, 0]) / w**2, (h[0, 1] * w - u * h[2, 1]) / w**2],
            [(h[1, 0] * w - v * h[2, 0]) / w**2, (h[1, 1] * w - v * h[2, 1]) / w**2],
        ]
    )


def _compare(
    creative: Creative,
    reference: LogoReference,
    homography: NDArray[np.float64],
    geometry: Geometry,
) -> tuple[Comparison, NDArray[np.bool_], tuple[int, int, int, int]]:
    fw, fh = reference.frame_size
    warped = _warp_to_frame(creative, homography, geometry, (fw, fh))
    ref_rgb, ref_alpha = _at_resolution(reference, geometry.scale)
    alpha = ref_alpha[..., None]
    # The reference as it would look on this very background: only the logo's pixels can differ.
    expected = (ref_rgb * alpha + warped.astype(np.float32) * (1 - alpha)).round()
    distance = hamming(phash(expected.astype(np.uint8)), phash(warped))

    core = ref_alpha > 0.75
    if core.sum() < 20:
        core = ref_alpha > 0.5
    # Each logo pixel is compared with the nearest-matching creative pixel within about one
    # creative pixel: misregistration and resampling blur then cost nothing, while an element that
    # is missing or recoloured differs wherever one looks, however thin it is.
    reach = max(1, int(np.ceil(1.0 / max(geometry.scale, 1e-6))))
    warped_lab = srgb_to_lab(warped)
    ys, xs = np.nonzero(core)
    ref_lab = srgb_to_lab(ref_rgb[ys, xs])
    fh_, fw_ = core.shape
    delta = np.full(len(ys), np.inf)
    for dy in (-reach, 0, reach):
        for dx in (-reach, 0, reach):
            yy = np.clip(ys + dy, 0, fh_ - 1)
            xx = np.clip(xs + dx, 0, fw_ - 1)
            delta = np.minimum(delta, delta_e_2000(ref_lab, warped_lab[yy, xx]))
    # ...and with the reference blurred by about a creative pixel, as JPEG's chroma subsampling
    # and ringing blur a thin stroke: a stroke that is there, only smeared, then matches, while
    # an element that is missing still differs from its blurred self.
    sigma = 0.8 / max(geometry.scale, 1e-6)
    blurred = cv2.GaussianBlur(expected.astype(np.float32), (0, 0), sigma)
    blurred_lab = srgb_to_lab(np.clip(blurred[ys, xs], 0, 255).round().astype(np.uint8))
    delta = np.minimum(delta, delta_e_2000(blurred_lab, warped_lab[ys, xs]))
    differing = np.zeros(core.shape, np.uint8)
    differing[ys, xs] = delta > PIXEL_DELTA_E
    # Single stray pixels are noise, not an element.
    opened = cv2.morphologyEx(differing, cv2.MORPH_OPEN, np.ones((2, 2), np.uint8))
    count, _, stats, _ = cv2.connectedComponentsWithStats(opened, connectivity=8)
    largest = int(stats[1:, cv2.CC_STAT_AREA].max()) if count > 1 else 0
    total = int(core.sum())
    comparison = Comparison(
        phash_distance=distance,
        median_delta_e=float(np.median(delta)) if delta.size else 0.0,
        differing_fraction=float(opened.sum() / total),
        largest_blob_fraction=largest / total,
        edge_agreement=_edge_agreement(expected.astype(np.uint8), warped, ref_alpha),
        colours=_colour_fidelity(reference, warped, geometry.scale),
    )

    mask_frame = (reference.alpha > 0.5).astype(np.uint8) * 255
    mask = cv2.warpPerspective(mask_frame, homography, (creative.width, creative.height), flags=cv2.INTER_NEAREST) > 0
    ys, xs = np.nonzero(mask)
    if len(xs):
        box = (int(xs.min()), int(ys.min()), int(xs.max()) + 1, int(ys.max()) + 1)
    else:
        box = _corner_box(geometry, creative, pad=0)
    return comparison, mask, box


def _at_resolution(reference: LogoReference, scale: float) -> tuple[NDArray[np.float32], NDArray[np.float32]]:
    """The reference frame as a logo `scale` times its size would show it.

    A 64 px logo cannot carry a 2 px stroke of the 256 px frame: comparing it with the full
    detail would call every small logo altered. Shrinking the reference to the creative's size
    and back loses exactly the detail the creative could not have.
    """
    rgb = reference.rgb.astype(np.float32)
    alpha = reference.alpha.astype(np.float32)
    if scale >= 0.9:
        return rgb, alpha
    fw, fh = reference.frame_size
    small_w, small_h = max(4, round(fw * scale)), max(2, round(fh * scale))
    premult = np.concatenate([rgb * alpha[..., None], alpha[..., None]], axis=2)
    small = cv2.resize(premult, (small_w, small_h), interpolation=cv2.INTER_AREA)
    back = cv2.resize(small, (fw, fh), interpolation=cv2.INTER_LINEAR)
    out_alpha = np.clip(back[..., 3], 0, 1)
    out_rgb = np.where(out_alpha[..., None] > 1e-3, back[..., :3] / np.maximum(out_alpha[..., None], 1e-3), 0)
    return np.clip(out_rgb, 0, 255).astype(np.float32), out_alpha.astype(np.float32)


def _edge_agreement(expected: NDArray[np.uint8], warped: NDArray[np.uint8], alpha: NDArray[np.float32]) -> float:
    """Pearson correlation of gradient magnitude around the logo's shapes, structure only.

    A chance alignment of features in texture puts no logo outline where the reference has one.
    Colour is ignored on purpose: a recoloured logo still has the logo's edges.
    """

    def magnitude(rgb: NDArray[np.uint8]) -> NDArray[np.float32]:
        lab = cv2.cvtColor(rgb.astype(np.float32) / 255.0, cv2.COLOR_RGB2Lab)
        total = np.zeros(rgb.shape[:2], np.float32)
        for channel in cv2.split(lab):
            gx = cv2.Sobel(channel, cv2.CV_32F, 1, 0, ksize=3)
            gy = cv2.Sobel(channel, cv2.CV_32F, 0, 1, ksize=3)
            total += gx * gx + gy * gy
        return np.sqrt(total)

    region = cv2.dilate((alpha > 0.05).astype(np.uint8), np.ones((5, 5), np.uint8)) > 0
    a = magnitude(expected)[region]
    b = magnitude(warped)[region]
    if a.std() < 1e-6 or b.std() < 1e-6:
        return 0.0
    return float(np.corrcoef(a, b)[0, 1])


def _corner_box(geometry: Geometry, creative: Creative, pad: int) -> tuple[int, int, int, int]:
    xs = [c[0] for c in geometry.corners]
    ys = [c[1] for c in geometry.corners]
    x0 = int(np.clip(np.floor(min(xs)) - pad, 0, creative.width - 1))
    y0 = int(np.clip(np.floor(min(ys)) - pad, 0, creative.height - 1))
    x1 = int(np.clip(np.ceil(max(xs)) + pad, x0 + 1, creative.width))
    y1 = int(np.clip(np.ceil(max(ys)) + pad, y0 + 1, creative.height))
    return x0, y0, x1, y1
