"""Perceptual hashes: fingerprints of what an image looks like, robust to re-encoding.

The hash is imagehash's pHash (DCT of a 32×32 greyscale copy, low 8×8 frequencies against their
median), written as imagehash writes it, so a hash stored in the audit trail is the one any
other tool built on imagehash computes for the same file.
"""

from __future__ import annotations

import imagehash
import numpy as np
from numpy.typing import NDArray
from PIL import Image


def phash(rgb: NDArray[np.uint8] | Image.Image) -> int:
    """64-bit perceptual hash of an RGB (or greyscale) array or a PIL image."""
    return int(phash_hex(rgb), 16)


def phash_hex(rgb: NDArray[np.uint8] | Image.Image) -> str:
    """The hash as 16 hex digits, most significant bit first (imagehash's `str()`)."""
    picture = rgb if isinstance(rgb, Image.Image) else Image.fromarray(np.ascontiguousarray(rgb))
    return str(imagehash.phash(picture))


def hamming(a: int | str, b: int | str) -> int:
    """Bits that differ between two hashes (ints or 16-digit hex strings)."""
    x = int(a, 16) if isinstance(a, str) else a
    y = int(b, 16) if isinstance(b, str) else b
    return (x ^ y).bit_count()
