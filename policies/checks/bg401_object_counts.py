"""BG401 object-counts: the number of objects the brief names (`counts: {apple: 5}`) differs.

Three ways of counting, chosen in this order:

1. *A local zero-shot object detector*, when one is configured: a folder holding a
   transformers zero-shot object detector (OWL-ViT / OWLv2 architecture: its config, weights
   and processor files), named by the `detector` option, which the application fills from the
   `BRANDGATE_COUNTS_DETECTOR` setting when policy.yaml leaves it out. Nothing is downloaded.
   Each object name is asked for as "a photo of a <name>"; detections at or above
   `detector_threshold` are counted per name after non-maximum suppression. This is the way to
   count on photographs.
2. *People, with the shipped face and pose models*, when no detector is configured and every
   object named is a person (person, people, man, woman, child, kid, friend, girl, boy, adult,
   baby; "a family of four" reads as four people): MediaPipe's full-range face detector and its
   pose detector with the pose-landmark model (BG402's models, `var/models/mediapipe`). A person
   is a face; a pose whose nose falls in no face (someone turned away, hidden, or a horse's head
   taken for one) leaves the count `unverified`. Several people nouns
   ("two men and three women") are compared as one total: the models do not tell men from
   women. `unverified` where the detectors cannot resolve the people: two faces overlapping,
   a face cut by the frame, a pose that meets none of the faces found,
   or more hands in view (palm detector) than the people found could have (someone cut by the
   frame, an arm reaching in), or fewer faces than asked while the pose model places fewer
   bodies than faces (the two models disagree on who is there: a person the detectors missed is
   as likely as one the image lacks, and a wrong "fewer" is a false flag). Faces are looked for
   in the whole image and in 2×2 overlapping tiles (policies/hands.py).
3. *Classical segmentation of flat graphics*, otherwise, and only on a flat graphic: the image
   is split into regions of smooth colour separated by sharp edges (connected components after
   edge detection); the candidates are compact, solid, flat-coloured shapes that are not the
   logo (located as in BG201); they are grouped by colour (CIE76 within 12) and size (within 3×
   of each other). The count is the size of the most numerous group. It tells one named object
   at a time.

Flat graphic or photograph: the brief's `style: flat|photo` decides, else the layout's `style`,
else the image itself. Measured, an image is a flat graphic when at least 70 % of its pixels (at
most 512 pixels a side) sit in a 3×3 neighbourhood whose colour varies by 2 levels or less per
channel: drawn colour fields and smooth gradients do, a camera's grain and texture do not. The
real photographs that scikit-image and matplotlib ship measure 0.5 % to 46 % (grace_hopper.jpg
0.5 %, rocket.jpg 44 %); flat illustrations 91 % and more. (A "smooth" share, gradients under an
edge threshold, misread grace_hopper.jpg as 84 % flat.)

Statuses:

- `pass` / `fail`: counted, with the method, the counts and the boxes in the evidence;
- `unverified`: it applies but could not count: a photograph of objects other than people with
  no detector configured, several kinds of object with no detector, or people who overlap or
  are cut by the frame. Never a pass, never a count;
- `skip`: it does not apply: the brief names no objects (`counts` empty or no brief).

Options (policy.yaml, under BG401):

- `detector`: path to the detector folder (default: the `BRANDGATE_COUNTS_DETECTOR` setting).
- `detector_threshold` (0.3): detection score from which an object counts.
- `hand_models`: folder of the face and pose models (default: BG402's, `var/models/mediapipe`).
- `min_object_area` (0.001): smallest shape counted, as a share of the image (classical).
- `min_flat_share` (0.7): share of flat pixels from which a measured image is a flat graphic.
- `severity`: `flag` (default) or `reject`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import cv2
import numpy as np
from numpy.typing import NDArray

from policies.check import Outcome
from policies.checks.bg201_logo_match import locate_required
from policies.detector import detect_objects
from policies.downscale import shrunk
from policies.hands import Face, Pose, hand_models, models_present, pose_models_present
from policies.options import number

if TYPE_CHECKING:
    from policies.brief import Brief
    from policies.creative import Creative
    from policies.kit import Kit

ID = "BG401"
NAME = "object-counts"
FAMILY = "counts"
DEFAULT_SEVERITY = "flag"

DETECTOR_SETTING = "BRANDGATE_COUNTS_DETECTOR"
DEFAULT_HAND_MODELS = Path(__file__).resolve().parents[2] / "var" / "models" / "mediapipe"
# Counted objects that are people, as prompt counts name them (singular).
PEOPLE_NOUNS = frozenset(
    {"person", "man", "woman", "child", "kid", "friend", "girl", "boy", "adult", "baby", "teenager"}
)
FRAME_MARGIN = 2  # pixels: a face box this close to an edge is cut by the frame
HAND_PRESENCE = 0.5  # as BG402: a palm the hand-landmark model confirms
WORK_LONG_SIDE = 512
EDGE_STRENGTH = 6.0  # Lab gradient magnitude per pixel above which a pixel is an edge
MIN_SOLIDITY = 0.85
MIN_FILL = 0.85
MAX_ASPECT = 3.0
GROUP_DELTA_E = 12.0
FLAT_NEIGHBOURHOOD_LEVELS = 2  # most a 3×3 neighbourhood's colour varies in a flat pixel
MIN_FLAT_SHARE = 0.7


def run(creative: Creative, brief: Brief | None, kit: Kit, options: Mapping[str, Any]) -> Outcome:
    if brief is None or not brief.counts:
        return Outcome("skip", "the brief names no objects to count")
    what = ", ".join(sorted(brief.counts))
    folder = options.get("detector")
    if folder:
        return _count_with_detector(creative, brief.counts, Path(str(folder)), options)
    if set(brief.counts) <= PEOPLE_NOUNS:
        models = Path(str(options.get("hand_models") or DEFAULT_HAND_MODELS))
        if models_present(models) and pose_models_present(models):
            return count_people(creative, brief.counts, models)
    if len(brief.counts) > 1:
        return Outcome(
            "unverified",
            f"not checked: object counts ({what}), classical counting tells one kind of object at a time "
            f"and no detector is configured ({DETECTOR_SETTING})",
        )
    min_flat = number(options, ID, "min_flat_share", MIN_FLAT_SHARE, above=0, at_most=1)
    style = image_style(creative, brief, kit, min_flat)
    if style.style == "photo":
        return Outcome(
            "unverified",
            f"not checked: object counts ({what}), a photograph ({style.reason}) and no detector "
            f"is configured ({DETECTOR_SETTING})",
            evidence={"method": "none", "style": style.to_json()},
        )
    name, wanted = next(iter(brief.counts.items()))
    min_area = number(options, ID, "min_object_area", 0.001, above=0, below=1)
    logo_mask = _logo_mask(creative, brief, kit)
    result = classical_count(creative.rgb, min_area, logo_mask)
    evidence = {
        "method": "classical",
        "style": style.to_json(),
        "object": name,
        "wanted": wanted,
        "counted": result.count,
        "boxes": result.boxes,
        "colour": result.colour,
    }
    if result.count != wanted:
        return Outcome(
            "fail",
            f"{name}: the brief asks for {wanted}, the image shows {result.count}",
            confidence=0.75,
            evidence=evidence,
        )
    return Outcome("pass", f"{name}: {wanted} as asked", confidence=0.75, evidence=evidence)


# ---------------------------------------------------------------- flat graphic or photograph


@dataclass(frozen=True)
class ImageStyle:
    style: str  # "flat" or "photo"
    reason: str
    flat_share: float | None = None

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"style": self.style, "reason": self.reason}
        if self.flat_share is not None:
            out["flat_share"] = round(self.flat_share, 3)
        return out


def image_style(creative: Creative, brief: Brief | None, kit: Kit, min_flat: float = MIN_FLAT_SHARE) -> ImageStyle:
    """Flat graphic or photograph: declared by the brief, else by its layout, else measured."""
    if brief is not None and brief.style is not None:
        return ImageStyle(brief.style, "the brief says so")
    if brief is not None and brief.layout is not None:
        declared = kit.layout(brief.layout).style
        if declared is not None:
            return ImageStyle(declared, f"layout {brief.layout!r} says so")
    share = flat_share(creative.rgb)
    if share >= min_flat:
        return ImageStyle("flat", f"{share:.0%} of it is flat colour", share)
    return ImageStyle("photo", f"only {share:.0%} of it is flat colour", share)


def flat_share(rgb: NDArray[np.uint8]) -> float:
    """Share of pixels whose 3×3 neighbourhood varies by FLAT_NEIGHBOURHOOD_LEVELS or less per channel."""
    factor = min(1.0, WORK_LONG_SIDE / max(rgb.shape[:2]))
    small = shrunk(rgb, factor) if factor < 1 else rgb
    kernel = np.ones((3, 3), np.uint8)
    spread = np.zeros(small.shape[:2], np.int16)
    for channel in cv2.split(small):
        spread = np.maximum(
            spread, cv2.dilate(channel, kernel).astype(np.int16) - cv2.erode(channel, kernel).astype(np.int16)
        )
    return float((spread <= FLAT_NEIGHBOURHOOD_LEVELS).mean())


# ---------------------------------------------------------------- classical


@dataclass(frozen=True)
class ClassicalCount:
    count: int
    boxes: list[list[int]]
    colour: str | None
    smooth_share: float


def classical_count(rgb: NDArray[np.uint8], min_area: float, exclude: NDArray[np.bool_] | None) -> ClassicalCount:
    """The most numerous group of similar flat shapes (call it on flat graphics only)."""
    h0, w0 = rgb.shape[:2]
    factor = min(1.0, WORK_LONG_SIDE / max(h0, w0))
    small = shrunk(rgb, factor) if factor < 1 else rgb
    h, w = small.shape[:2]
    lab = cv2.cvtColor(small.astype(np.float32) / 255.0, cv2.COLOR_RGB2Lab)
    magnitude = np.zeros((h, w), np.float32)
    for channel in cv2.split(lab):
        gx = cv2.Sobel(channel, cv2.CV_32F, 1, 0, ksize=3) / 8
        gy = cv2.Sobel(channel, cv2.CV_32F, 0, 1, ksize=3) / 8
        magnitude += gx * gx + gy * gy
    smooth = (np.sqrt(magnitude) < EDGE_STRENGTH).astype(np.uint8)
    smooth_share = float(smooth.mean())
    count, labels, stats, _ = cv2.connectedComponentsWithStats(smooth, connectivity=4)
    if exclude is not None:
        excluded = cv2.resize(exclude.astype(np.uint8), (w, h), interpolation=cv2.INTER_NEAREST) > 0
        excluded = cv2.dilate(excluded.astype(np.uint8), np.ones((5, 5), np.uint8)) > 0
    else:
        excluded = np.zeros((h, w), bool)

    candidates = []
    min_px = min_area * h * w
    for i in range(1, count):
        x, y, bw, bh, area = (int(v) for v in stats[i])
        if area < min_px or area > 0.1 * h * w:
            continue
        if max(bw, bh) / max(1, min(bw, bh)) > MAX_ASPECT:
            continue
        component = (labels[y : y + bh, x : x + bw] == i).astype(np.uint8)
        if excluded[y : y + bh, x : x + bw][component > 0].mean() > 0.2:
            continue
        contours, _ = cv2.findContours(component, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
        outline = max(contours, key=cv2.contourArea)
        filled_area = cv2.contourArea(outline)
        hull_area = cv2.contourArea(cv2.convexHull(outline))
        if filled_area <= 0 or hull_area <= 0:
            continue
        # Plates carrying text have holes; letters are neither solid nor convex.
        if area / filled_area < MIN_FILL or filled_area / hull_area < MIN_SOLIDITY:
            continue
        colour = lab[y : y + bh, x : x + bw][component > 0].mean(axis=0)
        candidates.append((colour, area, (x, y, x + bw, y + bh)))

    groups: list[list[tuple[NDArray[np.float32], int, tuple[int, int, int, int]]]] = []
    for cand in sorted(candidates, key=lambda c: -c[1]):
        for group in groups:
            centre = np.mean([g[0] for g in group], axis=0)
            median_area = float(np.median([g[1] for g in group]))
            if np.linalg.norm(cand[0] - centre) < GROUP_DELTA_E and median_area / 3 <= cand[1] <= median_area * 3:
                group.append(cand)
                break
        else:
            groups.append([cand])
    if not groups:
        return ClassicalCount(0, [], None, smooth_share)
    best = max(groups, key=lambda g: (len(g), sum(c[1] for c in g)))
    scale = 1 / factor
    boxes = [[round(v * scale) for v in c[2]] for c in best]
    mean_lab = np.mean([c[0] for c in best], axis=0).astype(np.float32).reshape(1, 1, 3)
    mean_rgb = (cv2.cvtColor(mean_lab, cv2.COLOR_Lab2RGB).reshape(3) * 255).round().clip(0, 255)
    colour = "#{:02X}{:02X}{:02X}".format(*(int(v) for v in mean_rgb))
    return ClassicalCount(len(best), boxes, colour, smooth_share)


def _logo_mask(creative: Creative, brief: Brief, kit: Kit) -> NDArray[np.bool_] | None:
    """Where the brief's logo is (shared with BG201), so that its shapes are not counted."""
    if not brief.logo or brief.logo not in kit.spec.logos:
        return None

    found = [loc for loc in locate_required(creative, kit, brief.logo).values() if loc is not None]
    if not found:
        return None
    mask = np.zeros((creative.height, creative.width), bool)
    for loc in found:
        x0, y0, x1, y1 = loc.box
        mask[y0:y1, x0:x1] = True
    return mask


def count_people(creative: Creative, counts: Mapping[str, int], folder: Path) -> Outcome:
    """People counted with the face and pose models: the faces, where every pose has one."""
    models = hand_models(folder)
    faces = models.faces(creative.rgb)
    poses = models.poses(creative.rgb)
    turned_away = [p for p in poses if not any(_inside(p.nose, f) for f in faces)]
    counted = len(faces)
    wanted = sum(counts.values())
    names = ", ".join(f"{n}: {c}" for n, c in counts.items())
    evidence: dict[str, Any] = {
        "method": "people (face and pose models)",
        "models": str(folder),
        "wanted": dict(counts),
        "counted": counted,
        "faces": [f.to_json() for f in faces],
        "poses": [p.to_json() for p in poses],
    }
    if len(counts) > 1:
        evidence["note"] = "the models do not tell one kind of person from another: the total is compared"
    unresolved = _unresolved_people(faces, turned_away, creative.width, creative.height)
    if unresolved is None:
        hands = sum(h.presence >= HAND_PRESENCE for h in models.hands(creative.rgb))
        evidence["hands"] = hands
        if hands > 2 * counted:
            plural = "s" if hands != 1 else ""
            unresolved = f"{hands} hand{plural} in view for {_people(counted)}: someone is cut by the frame or hidden"
    if unresolved:
        return Outcome(
            "unverified",
            f"not checked: people counts ({names}), {unresolved}; {_people(counted)} found",
            evidence=evidence,
        )
    if counted < wanted and len(poses) < counted:
        # Fewer faces than asked, and the pose model does not place a body for each face found:
        # the two models do not agree on who is there, so a missed person is as likely as a missing one.
        return Outcome(
            "unverified",
            f"not checked: people counts ({names}), {_people(counted)} found by face but the pose model places "
            f"only {len(poses)}: smaller, hidden or overlapping people are missed",
            evidence=evidence,
        )
    if counted != wanted:
        return Outcome(
            "fail",
            f"people: the brief asks for {wanted} ({names}), the image shows {counted}",
            confidence=0.65,
            evidence=evidence,
        )
    return Outcome("pass", f"people: {wanted} as asked ({names})", confidence=0.65, evidence=evidence)


def _unresolved_people(
    faces: list[Face], turned_away: list[Pose], width: int, height: int
) -> str | None:
    """Why the people found cannot be taken as the count; None when they can."""
    for face in faces:
        x0, y0, x1, y1 = face.box
        if x0 < FRAME_MARGIN or y0 < FRAME_MARGIN or x1 > width - FRAME_MARGIN or y1 > height - FRAME_MARGIN:
            return "a face is cut by the frame"
    for index, face in enumerate(faces):
        if any(_overlap(face.box, other.box) for other in faces[index + 1 :]):
            return "two faces overlap"
    if turned_away:
        # A pose with no face: someone turned away, hidden behind a plate, or not a person at all
        # (the pose detector fires on a horse's head): the two models do not agree on who is there.
        return f"the pose model finds {_n(len(turned_away), 'person')} with no face"
    return None


def _inside(point: tuple[float, float], face: Face) -> bool:
    x0, y0, x1, y1 = face.box
    grow_x, grow_y = (x1 - x0) * 0.25, (y1 - y0) * 0.25
    return x0 - grow_x <= point[0] <= x1 + grow_x and y0 - grow_y <= point[1] <= y1 + grow_y


def _overlap(a: tuple[float, float, float, float], b: tuple[float, float, float, float]) -> bool:
    return min(a[2], b[2]) > max(a[0], b[0]) and min(a[3], b[3]) > max(a[1], b[1])


def _n(count: int, one: str) -> str:
    return f"{count} {one if count == 1 else one + 's'}"


def _people(count: int) -> str:
    return f"{count} {'person' if count == 1 else 'people'}"


def _count_with_detector(
    creative: Creative, counts: Mapping[str, int], folder: Path, options: Mapping[str, Any]
) -> Outcome:
    threshold = number(options, ID, "detector_threshold", 0.3)
    names = sorted(counts)
    found = detect_objects(creative, names, folder, threshold)
    counted = {name: len(found[name]) for name in names}
    wrong = {name: (counts[name], counted[name]) for name in names if counted[name] != counts[name]}
    evidence = {
        "method": "detector",
        "detector": str(folder),
        "wanted": dict(counts),
        "counted": counted,
        "detections": found,
    }
    if wrong:
        parts = [f"{name}: asked {want}, found {got}" for name, (want, got) in sorted(wrong.items())]
        return Outcome("fail", "; ".join(parts), confidence=0.7, evidence=evidence)
    return Outcome(
        "pass",
        ", ".join(f"{n}: {counts[n]}" for n in names) + " as asked",
        confidence=0.7,
        evidence=evidence,
    )
