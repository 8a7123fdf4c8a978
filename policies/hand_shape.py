"""Whether a hand the landmark model found looks like a human hand: measured, not assumed.

The hand-landmark model fits 21 plausible points to whatever it is shown (a hand with a sixth
finger still gets five), so its points alone cannot say a hand is good. Two measures are added
here, each independent of the other:

- **The skeleton's geometry.** Finger order across the palm (index, middle, ring, little bases in
  one direction), each finger's length and the palm's width as multiples of the palm's length.
  (Joint angles were measured and dropped: a fist folds a finger up to 170° at one joint in the
  landmarks, and the landmarks' depth is too noisy to tell a backwards bend from a curl.)
- **The silhouette.** The hand is cut out of its crop by GrabCut, seeded with the palm as sure
  hand, the finger bones as likely hand and everything well beyond the skeleton as background.
  The outline is read on two circles around the palm centre (at 1.0 and 1.3 palm lengths): each
  finger and the forearm cross them as a run of hand pixels. A run that recurs on both circles at
  nearby angles (within 40°: a slanted finger drifts along them), is as narrow as a finger and
  that no bone of the skeleton crosses is a finger the landmark model did not place: a sixth
  finger. A bone the skeleton puts across a circle
  where the silhouette shows none is a finger the outline does not confirm.

`judge_shape` returns a `ShapeJudgement`: `good` (everything measured and in range), `bad` (the
skeleton out of human ranges, with what), `odd` (a finger-like outline the skeleton does not
explain: a sixth finger, or a finger of another hand beside it, which the outline cannot tell
apart) or `unknown` (it could not measure, with why: too small, outline not separable from its
background, fingers the outline does not confirm).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from itertools import pairwise
from typing import Any

import cv2
import numpy as np
from numpy.typing import NDArray

FINGERS = {
    "thumb": (1, 2, 3, 4),
    "index": (5, 6, 7, 8),
    "middle": (9, 10, 11, 12),
    "ring": (13, 14, 15, 16),
    "little": (17, 18, 19, 20),
}
FINGER_BONES = [(a, b) for joints in FINGERS.values() for a, b in pairwise(joints)]
WRIST_BONES = [(0, 1), (0, 5), (0, 17)]
BONES = [*WRIST_BONES, *FINGER_BONES]
PALM_POINTS = (0, 1, 5, 9, 13, 17)
RINGS = (1.0, 1.3)  # circle radii around the palm centre, in palm lengths
SAME_FINGER_DEG = 40.0  # runs on neighbouring circles this close in angle can be one finger
RING_SAMPLES = 720
FAR = 1.0  # palm lengths from the skeleton beyond which the crop is sure background
WORK_PALM_PX = 64.0  # larger hands are shrunk to this palm length before the outline is cut
BONE_TOLERANCE_DEG = 6.0  # a bone crossing this close to a run explains it
FOREARM_DEG = 40.0
# The measured bounds (see docs/checks-visual.md, "Anatomy (BG402)", for where they come from).
MIN_PALM_PX = 24.0  # palm length (wrist to middle-finger base) below which the outline is too coarse
# A finger's width on the circle, in palm lengths (measured on tests/fixtures/photos).
RUN_MIN_PALMS, RUN_MAX_PALMS = 0.08, 0.45
MAX_HAND_SHARE_OF_RING = 0.6  # more of a circle than this is "hand": the outline took in the background
MIN_CONFIRMED_SHARE = 0.75
MAX_EXTRA = 2  # more unexplained finger-like runs: a ragged outline, not extra fingers


@dataclass(frozen=True)
class ShapeJudgement:
    verdict: str  # "good", "bad" or "unknown"
    reason: str
    measures: dict[str, Any] = field(default_factory=dict)


def judge_shape(
    rgb: NDArray[np.uint8],
    landmarks: NDArray[np.float64],
    max_finger_ratio: float,
    max_palm_width_ratio: float,
) -> ShapeJudgement:
    """The skeleton's geometry, then the silhouette against it (see the module docstring)."""
    geometry = skeleton_anomalies(landmarks, max_finger_ratio, max_palm_width_ratio)
    measures: dict[str, Any] = {"geometry": geometry.measures}
    if geometry.problems:
        return ShapeJudgement("bad", "; ".join(geometry.problems), measures)
    palm = float(np.linalg.norm(landmarks[9, :2] - landmarks[0, :2]))
    measures["palm_px"] = round(palm, 1)
    if palm < MIN_PALM_PX:
        return ShapeJudgement("unknown", f"too small to judge (palm {palm:.0f} px < {MIN_PALM_PX:g})", measures)
    outline = silhouette(rgb, landmarks)
    measures["silhouette"] = outline.to_json()
    if outline.extra:
        angles = ", ".join(f"{a:.0f}°" for a in outline.extra)
        # Not a fail: a finger of another hand beside this one, which the palm detector missed,
        # reads the same (tests/fixtures/photos/two-thumbs-up.jpg), so it is a doubt, never a pass.
        return ShapeJudgement(
            "odd",
            f"a finger-like outline no finger of the skeleton explains (at {angles}): "
            "a sixth finger, or another hand's",
            measures,
        )
    if outline.unclear:
        return ShapeJudgement("unknown", outline.unclear, measures)
    return ShapeJudgement("good", "skeleton in human ranges and its outline agrees", measures)


# ---------------------------------------------------------------- skeleton


@dataclass(frozen=True)
class Geometry:
    problems: list[str]
    measures: dict[str, Any]


def skeleton_anomalies(landmarks: NDArray[np.float64], max_finger: float, max_width: float) -> Geometry:
    """Finger lengths, palm width, finger order and joint bends of the 21 points, with what is out of range."""
    points = landmarks
    palm = float(np.linalg.norm(points[9] - points[0])) or 1e-6
    fingers = {}
    for name, joints in FINGERS.items():
        length = sum(float(np.linalg.norm(points[b] - points[a])) for a, b in pairwise(joints))
        fingers[name] = round(length / palm, 3)
    width = float(np.linalg.norm(points[5] - points[17])) / palm
    problems = []
    long = {k: v for k, v in fingers.items() if v > max_finger}
    if long:
        problems.append(
            f"finger longer than {max_finger:g}× the palm ({', '.join(f'{k} {v:.2f}' for k, v in long.items())})"
        )
    if width > max_width:
        problems.append(f"palm {width:.2f}× wider than long (most {max_width:g})")
    # Finger order: the bases of index, middle, ring and little finger lie in that order across the
    # palm (2-D, along the index→little direction); a swapped pair is a hand no person has.
    across = points[17, :2] - points[5, :2]
    norm = float(np.linalg.norm(across))
    order = [
        float(np.dot(points[i, :2] - points[5, :2], across) / (norm * norm)) if norm else 0.0 for i in (5, 9, 13, 17)
    ]
    if norm and any(b < a - 0.15 for a, b in pairwise(order)):
        problems.append("finger bases out of order across the palm")
    measures = {
        "finger_ratios": fingers,
        "palm_width_ratio": round(width, 3),
        "base_order": [round(v, 2) for v in order],
    }
    return Geometry(problems, measures)


# ---------------------------------------------------------------- silhouette


@dataclass(frozen=True)
class Silhouette:
    runs: list[list[dict[str, float]]]  # per circle: each run's centre angle, width (palms) and whether explained
    extra: list[float]  # angles of finger-like runs no bone explains, on both circles
    unclear: str | None  # why the outline cannot be trusted, or None
    confirmed: float  # share of the skeleton's crossings the outline shows

    def to_json(self) -> dict[str, Any]:
        return {
            "runs": self.runs,
            "extra_at_deg": [round(a) for a in self.extra],
            "confirmed_share": round(self.confirmed, 3),
            "unclear": self.unclear,
        }


def silhouette(rgb: NDArray[np.uint8], landmarks: NDArray[np.float64]) -> Silhouette:
    """The GrabCut outline of the hand read on the circles (see the module docstring)."""
    xy = landmarks[:, :2]
    palm = float(np.linalg.norm(xy[9] - xy[0]))
    if palm > WORK_PALM_PX:  # GrabCut's time grows with the crop; the outline needs no more detail
        factor = WORK_PALM_PX / palm
        rgb = np.asarray(cv2.resize(rgb, None, fx=factor, fy=factor, interpolation=cv2.INTER_AREA), np.uint8)
        xy, palm = xy * factor, WORK_PALM_PX
    centre = xy[list(PALM_POINTS)].mean(axis=0)
    mask, origin = _cut_out(rgb, xy, palm)
    circles: list[list[dict[str, float]]] = []
    unexplained: list[list[float]] = []
    crossings = confirmed = 0
    shares = []
    for times in RINGS:
        radius = times * palm
        angles = np.linspace(0, 2 * math.pi, RING_SAMPLES, endpoint=False)
        px = centre[0] + radius * np.cos(angles) - origin[0]
        py = centre[1] + radius * np.sin(angles) - origin[1]
        inside = (px >= 0) & (py >= 0) & (px < mask.shape[1]) & (py < mask.shape[0])
        on = np.zeros(RING_SAMPLES, bool)
        on[inside] = mask[py[inside].astype(int), px[inside].astype(int)]
        shares.append(float(on.mean()))
        finger_angles = _bone_crossings(xy, centre, radius, FINGER_BONES)
        bone_angles = [*finger_angles, *_bone_crossings(xy, centre, radius, WRIST_BONES, forearm=True)]
        away = xy[0] - centre
        wrist_at = math.degrees(math.atan2(away[1], away[0])) % 360
        runs = _runs(on)
        listed, odd = [], []
        for start, length in runs:
            mid = (start + length / 2) * 360 / RING_SAMPLES % 360
            half = length * 180 / RING_SAMPLES + BONE_TOLERANCE_DEG
            # The forearm (or a sleeve) leaves the crop within FOREARM_DEG of the wrist's direction,
            # which bends away from the palm's own line.
            explained = any(_angle_gap(mid, b) <= half for b in bone_angles) or _angle_gap(mid, wrist_at) <= FOREARM_DEG
            width = 2 * math.pi * radius * length / RING_SAMPLES / palm
            listed.append({"at_deg": round(mid, 1), "width_palms": round(width, 3), "explained": explained})
            if not explained and RUN_MIN_PALMS <= width <= RUN_MAX_PALMS:
                odd.append(mid)
        for b in finger_angles:  # the forearm is cut off by the crop's background seeds: not counted
            crossings += 1
            confirmed += any(
                _angle_gap((s + n / 2) * 360 / RING_SAMPLES, b) <= n * 180 / RING_SAMPLES + BONE_TOLERANCE_DEG
                for s, n in runs
            )
        circles.append(listed)
        unexplained.append(odd)
    # A finger crosses neighbouring circles at nearby angles (a slanted one drifts along them).
    extra = [
        a
        for ring, here in enumerate(unexplained[:-1])
        for a in here
        if any(_angle_gap(a, b) <= SAME_FINGER_DEG for b in unexplained[ring + 1])
    ]
    share = confirmed / crossings if crossings else 1.0
    unclear = None
    if len(extra) > MAX_EXTRA:
        unclear = (
            f"its outline is ragged ({len(extra)} finger-like runs no finger explains: the background, not fingers)"
        )
    elif max(shares) > MAX_HAND_SHARE_OF_RING:
        unclear = f"its outline is not separable from the background ({max(shares):.0%} of a circle round the palm)"
    elif share < MIN_CONFIRMED_SHARE:
        unclear = (
            f"its outline confirms {share:.0%} of the fingers the landmarks place (at least {MIN_CONFIRMED_SHARE:.0%})"
        )
    return Silhouette(circles, extra if unclear is None else [], unclear, share)


def _cut_out(rgb: NDArray[np.uint8], xy: NDArray[np.float64], palm: float) -> tuple[NDArray[np.bool_], tuple[int, int]]:
    """GrabCut of the crop round the skeleton: palm sure hand, bones likely hand, far off background."""
    h, w = rgb.shape[:2]
    margin = 1.6 * palm
    x0, y0 = max(0, int(xy[:, 0].min() - margin)), max(0, int(xy[:, 1].min() - margin))
    x1, y1 = min(w, int(xy[:, 0].max() + margin) + 1), min(h, int(xy[:, 1].max() + margin) + 1)
    crop: NDArray[np.uint8] = np.ascontiguousarray(rgb[y0:y1, x0:x1, ::-1])
    local = (xy - (x0, y0)).astype(np.int32)
    thick = max(2, round(palm * 0.12))
    seeds: NDArray[np.uint8] = np.full(crop.shape[:2], cv2.GC_PR_BGD, np.uint8)
    # Sure background only far from every bone (a palm length): a finger the landmark model did
    # not place lies beside the others and must be free to join the hand.
    near = np.zeros(crop.shape[:2], np.uint8)
    for a, b in BONES:
        cv2.line(
            near, tuple(int(v) for v in local[a]), tuple(int(v) for v in local[b]), 1, max(3, round(palm * 2 * FAR))
        )
    seeds[near == 0] = cv2.GC_BGD
    for a, b in BONES:
        cv2.line(seeds, tuple(int(v) for v in local[a]), tuple(int(v) for v in local[b]), cv2.GC_PR_FGD, thick)
    cv2.fillConvexPoly(seeds, cv2.convexHull(local[list(PALM_POINTS)]), cv2.GC_FGD)
    if not (seeds == cv2.GC_BGD).any() or crop.shape[0] < 8 or crop.shape[1] < 8:
        return np.zeros(crop.shape[:2], bool), (x0, y0)
    bgd, fgd = np.zeros((1, 65), np.float64), np.zeros((1, 65), np.float64)
    # The rectangle is ignored when GrabCut starts from the mask.
    cv2.grabCut(crop, seeds, (0, 0, crop.shape[1], crop.shape[0]), bgd, fgd, 4, cv2.GC_INIT_WITH_MASK)
    hand = ((seeds == cv2.GC_FGD) | (seeds == cv2.GC_PR_FGD)).astype(np.uint8)
    hand = cv2.morphologyEx(hand, cv2.MORPH_OPEN, np.ones((3, 3), np.uint8))
    return hand.astype(bool), (x0, y0)


def _bone_crossings(
    xy: NDArray[np.float64],
    centre: NDArray[np.float64],
    radius: float,
    bones: list[tuple[int, int]],
    forearm: bool = False,
) -> list[float]:
    """Angles (degrees) where `bones`, and with `forearm` the forearm beyond the wrist, cross the circle."""
    segments = [(xy[a], xy[b]) for a, b in bones]
    if forearm:
        away = xy[0] - centre
        segments.append((xy[0], xy[0] + away / (np.linalg.norm(away) or 1.0) * radius * 2))
    found = []
    for p, q in segments:
        d = q - p
        f = p - centre
        a, b, c = float(d @ d), 2 * float(f @ d), float(f @ f) - radius * radius
        disc = b * b - 4 * a * c
        if a < 1e-9 or disc < 0:
            continue
        for t in ((-b - math.sqrt(disc)) / (2 * a), (-b + math.sqrt(disc)) / (2 * a)):
            if 0 <= t <= 1:
                point = p + t * d - centre
                found.append(math.degrees(math.atan2(point[1], point[0])) % 360)
    return found


def _runs(on: NDArray[np.bool_]) -> list[tuple[int, int]]:
    """Runs of True around a circle as (start, length), a run across index 0 kept whole."""
    if on.all():
        return [(0, len(on))]
    if not on.any():
        return []
    shift = int(np.argmin(on))  # start at a False sample so no run wraps
    rolled = np.roll(on, -shift)
    runs, start = [], None
    for i, v in enumerate(rolled):
        if v and start is None:
            start = i
        elif not v and start is not None:
            runs.append(((start + shift) % len(on), i - start))
            start = None
    if start is not None:
        runs.append(((start + shift) % len(on), len(on) - start))
    return runs


def _angle_gap(a: float, b: float) -> float:
    return abs((a - b + 180) % 360 - 180)
