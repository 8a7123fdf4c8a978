"""Shrinking pictures for analysis without losing a side: a 16×40000 strip keeps at least one row."""

from __future__ import annotations

from typing import Any

import cv2
import numpy as np
from numpy.typing import NDArray


def shrunk(pixels: NDArray[Any], factor: float, interpolation: int = cv2.INTER_AREA) -> NDArray[Any]:
    """`pixels` scaled by `factor` (below 1), each side rounded but never below 1 pixel.

    OpenCV's own `fx`/`fy` scaling rounds the short side of a long strip to 0 and refuses.
    """
    height, width = pixels.shape[:2]
    size = (max(1, round(width * factor)), max(1, round(height * factor)))
    return np.asarray(cv2.resize(pixels, size, interpolation=interpolation), dtype=pixels.dtype)
