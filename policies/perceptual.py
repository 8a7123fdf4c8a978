"""Perceptual hashes: fingerprints of what an image looks like, robust to re-encoding."""

from __future__ import annotations

import cv2
import numpy as np
from numpy.typing import NDArray


def phash(rgb: NDArray[np.uint8], hash_size: int = 8, highfreq_factor: int = 4) -> int:
    """64-bit DCT perceptual hash: low frequencies of a small greyscale copy, against their median."""
    size = hash_size * highfreq_factor
    grey = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY) if rgb.ndim == 3 else rgb
    small = cv2.resize(grey, (size, size), interpolation=cv2.INTER_AREA).astype(np.float32)
    low = cv2.dct(small)[:hash_size, :hash_size]
    bits = (low > np.median(low)).flatten()
    value = 0
    for bit in bits:
        value = (value << 1) | int(bit)
    return value


def phash_hex(rgb: NDArray[np.uint8]) -> str:
    return f"{phash(rgb):016x}"


def hamming(a: int | str, b: int | str) -> int:
    """Bits that differ between two hashes (ints or 16-digit hex strings)."""
    x = int(a, 16) if isinstance(a, str) else a
    y = int(b, 16) if isinstance(b, str) else b
    return (x ^ y).bit_count()
