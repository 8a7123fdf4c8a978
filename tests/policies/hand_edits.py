"""Real hand photographs edited into malformed ones: a finger copied, turned and blended in."""

from __future__ import annotations

from itertools import pairwise

import cv2
import numpy as np

from policies.hand_shape import FINGERS


def sixth_finger(rgb: np.ndarray, landmarks: np.ndarray, finger: str, degrees: float) -> np.ndarray:
    """`rgb` with a copy of one finger turned about its base and blended in: a hand with a sixth finger."""
    xy = landmarks[:, :2]
    palm = float(np.linalg.norm(xy[9] - xy[0]))
    joints = FINGERS[finger]
    mask = np.zeros(rgb.shape[:2], np.uint8)
    for a, b in pairwise(joints):
        cv2.line(mask, tuple(int(v) for v in xy[a]), tuple(int(v) for v in xy[b]), 255, max(3, int(palm * 0.28)))
    cv2.circle(mask, tuple(int(v) for v in xy[joints[-1]]), max(2, int(palm * 0.14)), 255, -1)
    turn = cv2.getRotationMatrix2D((float(xy[joints[0], 0]), float(xy[joints[0], 1])), degrees, 1.0)
    size = (rgb.shape[1], rgb.shape[0])
    moved, moved_mask = cv2.warpAffine(rgb, turn, size), cv2.warpAffine(mask, turn, size)
    soft = cv2.GaussianBlur(moved_mask, (5, 5), 0)[..., None] / 255.0
    return (rgb * (1 - soft) + moved * soft).astype(np.uint8)
