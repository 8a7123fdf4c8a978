"""What kind of image some bytes are, from their first bytes, and whether they hold a C2PA manifest store."""

from __future__ import annotations

_MAGIC: tuple[tuple[bytes, int, str], ...] = (
    (b"\x89PNG\r\n\x1a\n", 0, "image/png"),
    (b"\xff\xd8\xff", 0, "image/jpeg"),
    (b"WEBP", 8, "image/webp"),
    (b"GIF8", 0, "image/gif"),
    (b"II*\x00", 0, "image/tiff"),
    (b"MM\x00*", 0, "image/tiff"),
    (b"ftypavif", 4, "image/avif"),
    (b"ftypheic", 4, "image/heic"),
    (b"ftypmif1", 4, "image/heif"),
)


def sniff_media_type(head: bytes) -> str | None:
    """The image type the first bytes announce, whatever the file's name says."""
    for magic, offset, media_type in _MAGIC:
        if head[offset : offset + len(magic)] == magic:
            if media_type == "image/webp" and head[:4] != b"RIFF":
                continue
            return media_type
    return None


def has_c2pa_marker(data: bytes) -> bool:
    """True when the bytes hold a C2PA manifest store box, readable or not."""
    return b"jumb" in data and b"c2pa" in data
