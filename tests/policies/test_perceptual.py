"""The perceptual hash computed with numpy is imagehash's pHash, bit for bit, including its ties."""

from __future__ import annotations

import io

import imagehash
import numpy as np
import pytest
from PIL import Image, ImageDraw

from brandgate.verification import perceptual_hash_of
from policies.perceptual import hamming, phash_hex


def pictures() -> list[Image.Image]:
    """Noise, gradients, photos-like scenes, and flat or mirror-symmetric pictures whose DCT has ties."""
    rng = np.random.default_rng(7)
    found = []
    for i in range(160):
        h, w = (int(v) for v in rng.integers(16, 600, 2))
        kind = i % 4
        if kind == 0:
            array = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
        elif kind == 1:
            y, x = np.mgrid[0:h, 0:w]
            array = np.stack([x * 255 // w, y * 255 // h, (x * y) % 256], axis=-1).astype(np.uint8)
        else:
            array = np.zeros((h, w, 3), np.uint8) + rng.integers(0, 256, 3, dtype=np.uint8)
        picture = Image.fromarray(array)
        if kind == 2:  # a flat field with one bright box: many coefficients exactly at the median
            ImageDraw.Draw(picture).rectangle((w // 4, h // 4, w // 2, h // 2), fill=(255, 255, 255))
        if kind == 3:  # scattered shapes, as a creative has
            draw = ImageDraw.Draw(picture)
            for _ in range(6):
                x0, y0 = int(rng.integers(0, w)), int(rng.integers(0, h))
                draw.ellipse((x0, y0, x0 + w // 5, y0 + h // 5), fill=tuple(int(c) for c in rng.integers(0, 256, 3)))
        found.append(picture)
    return found


def test_the_hash_is_imagehash_s_phash_bit_for_bit() -> None:
    different = [(i, phash_hex(p), str(imagehash.phash(p))) for i, p in enumerate(pictures())
                 if phash_hex(p) != str(imagehash.phash(p))]  # fmt: skip

    assert not different, different


@pytest.mark.parametrize("kind", ["PNG", "JPEG"])
def test_a_file_s_lookup_hash_is_within_a_bit_or_two_of_the_full_decode_s(kind: str) -> None:
    # A JPEG is hashed from a reduced decode (draft); a PNG from the full one.
    for picture in pictures()[3::4][:20]:
        picture = picture.resize((1024, 768))
        out = io.BytesIO()
        picture.save(out, kind)
        full = phash_hex(Image.open(io.BytesIO(out.getvalue())).convert("RGB"))

        distance = hamming(perceptual_hash_of(out.getvalue(), 10**8), full)

        assert distance == 0 if kind == "PNG" else distance <= 2, distance


def test_an_image_over_the_pixel_limit_or_undecodable_is_refused_with_the_reason() -> None:
    out = io.BytesIO()
    Image.new("RGB", (200, 100)).save(out, "JPEG")

    with pytest.raises(ValueError, match="200x100 is over the 10,000-pixel limit"):
        perceptual_hash_of(out.getvalue(), 10_000)
    with pytest.raises(ValueError, match="cannot decode the image"):
        perceptual_hash_of(out.getvalue()[:300], 10**8)
