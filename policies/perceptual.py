"""Perceptual hashes: fingerprints of what an image looks like, robust to re-encoding.

The hash is imagehash's pHash (DCT of a 32×32 greyscale copy, low 8×8 frequencies against their
median), written as imagehash writes it, so a hash stored in the audit trail is the one any
other tool built on imagehash computes for the same file. It is computed here with numpy (the
low frequencies alone, as two small matrix products) rather than by imagehash, whose DCT loads
scipy: the same bits (tests/policies/test_perceptual.py compares them) without scipy's import,
except for a picture with a coefficient at the median, which imagehash decides.
"""

from __future__ import annotations

from functools import cache

import numpy as np
from numpy.typing import NDArray
from PIL import Image

HASH_SIZE = 8  # bits per side of the hash: 8×8 = 64
GRID = HASH_SIZE * 4  # the greyscale copy the DCT is taken of, 32×32 (imagehash's highfreq_factor 4)
# A coefficient this close to the median, relative to the largest, is a tie: rounding noise is
# about 1e-16 of the largest, so nothing that is not a tie comes near it.
TIE = 1e-9


def phash(rgb: NDArray[np.uint8] | Image.Image) -> int:
    """64-bit perceptual hash of an RGB (or greyscale) array or a PIL image."""
    return int(phash_hex(rgb), 16)


def phash_hex(rgb: NDArray[np.uint8] | Image.Image) -> str:
    """The hash as 16 hex digits, most significant bit first (imagehash's `str()`)."""
    picture = rgb if isinstance(rgb, Image.Image) else Image.fromarray(np.ascontiguousarray(rgb))
    grey = np.asarray(picture.convert("L").resize((GRID, GRID), Image.Resampling.LANCZOS), dtype=np.float64)
    basis = _dct_basis()
    # scipy.fftpack.dct (type II, unnormalised) down the columns then along the rows, low rows only.
    low = basis @ grey @ basis.T
    median = np.median(low)
    if np.abs(low - median).min() <= TIE * (1.0 + np.abs(low).max()):
        # A coefficient at the median (flat or mirror-symmetric pictures): floating-point rounding
        # decides its bit, so imagehash's own DCT decides it, as it does for the stored hashes.
        import imagehash

        return str(imagehash.phash(picture))
    bits = (low > median).flatten()
    # imagehash's str(): the bits row by row, most significant first, as hex.
    value = int("".join("1" if bit else "0" for bit in bits), 2)
    return f"{value:0{HASH_SIZE * HASH_SIZE // 4}x}"


@cache
def _dct_basis() -> NDArray[np.float64]:
    """The first HASH_SIZE rows of the GRID-point DCT-II matrix: 2·cos(πk(2n+1)/2N)."""
    k = np.arange(HASH_SIZE)[:, None]
    n = np.arange(GRID)[None, :]
    basis: NDArray[np.float64] = 2.0 * np.cos(np.pi * k * (2 * n + 1) / (2 * GRID))
    return basis


def hamming(a: int | str, b: int | str) -> int:
    """Bits that differ between two hashes (ints or 16-digit hex strings)."""
    x = int(a, 16) if isinstance(a, str) else a
    y = int(b, 16) if isinstance(b, str) else b
    return (x ^ y).bit_count()
