"""A finished image as a file: its bytes in the requested format, its media type and its suffix."""

from __future__ import annotations

import io

from PIL import Image as PILImage

MEDIA_TYPES = {"png": "image/png", "jpeg": "image/jpeg", "webp": "image/webp"}
SUFFIXES = {"png": ".png", "jpeg": ".jpg", "webp": ".webp"}
# zlib level of a PNG creative: level 1 encodes a 1024² creative in about half the CPU time of
# Pillow's default 6, for files about a seventh larger (still lossless); the encode runs beside
# the checks on a shared core, so its time is the request's.
PNG_COMPRESS_LEVEL = 1


def encode(image: PILImage.Image, fmt: str) -> bytes:
    out = io.BytesIO()
    if fmt == "jpeg":
        image.convert("RGB").save(out, "JPEG", quality=92)
    elif fmt == "webp":
        image.save(out, "WEBP", quality=92)
    else:
        image.save(out, "PNG", compress_level=PNG_COMPRESS_LEVEL)
    return out.getvalue()


def encode_uncompressed_png(image: PILImage.Image) -> bytes:
    out = io.BytesIO()
    image.save(out, "PNG", compress_level=0)
    return out.getvalue()


def suffix_of(media_type: str) -> str:
    """The stored file's suffix for an image's media type (`image/jpeg` → `.jpg`); PNG's for any other."""
    for fmt, media in MEDIA_TYPES.items():
        if media == media_type:
            return SUFFIXES[fmt]
    return ".png"
