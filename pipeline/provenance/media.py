"""Which media container a file is, from its first bytes, and whether it holds a manifest store where C2PA puts one.

Reading the container's own structure (JPEG segments, PNG chunks, RIFF chunks, ISO BMFF boxes,
TIFF tags) rather than searching the bytes for "c2pa" or "jumbf": a comment, an XMP packet or a
text file that merely mentions C2PA holds no manifest store, and damage to it is not tampering.
"""

from __future__ import annotations

import struct

# How far into a file `sniff_media_type` looks: an SVG may open with an XML declaration and comments.
SNIFF_BYTES = 1024

_MAGIC: tuple[tuple[bytes, int, str], ...] = (
    (b"\x89PNG\r\n\x1a\n", 0, "image/png"),
    (b"\xff\xd8\xff", 0, "image/jpeg"),
    (b"GIF8", 0, "image/gif"),
    (b"II*\x00", 0, "image/tiff"),
    (b"MM\x00*", 0, "image/tiff"),
    (b"%PDF-", 0, "application/pdf"),
    (b"ID3", 0, "audio/mpeg"),
)
# RIFF's form type (bytes 8-12) names what the chunks are.
_RIFF_FORMS = {b"WEBP": "image/webp", b"WAVE": "audio/wav", b"AVI ": "video/avi"}
# ISO BMFF's major brand (bytes 8-12, after `ftyp`); any other brand is read as MP4.
_BMFF_BRANDS = {
    b"avif": "image/avif",
    b"avis": "image/avif",
    b"heic": "image/heic",
    b"heix": "image/heic",
    b"mif1": "image/heif",
    b"msf1": "image/heif",
    b"qt  ": "video/quicktime",
    b"M4A ": "audio/mp4",
}

# The user type of an ISO BMFF `uuid` box holding a manifest store (C2PA specification, 11.3.4).
C2PA_BMFF_UUID = bytes.fromhex("d8fec3d61b0e483c92975828877ec481")
# The TIFF tag holding a manifest store (C2PA specification, A.3.3).
_TIFF_C2PA_TAG = 0xCD41


def sniff_media_type(head: bytes) -> str | None:
    """The media type the first bytes announce (up to SNIFF_BYTES of them), whatever the file's name says.

    None for anything that is not a container C2PA covers: text, source code, an archive."""
    for magic, offset, media_type in _MAGIC:
        if head[offset : offset + len(magic)] == magic:
            return media_type
    if head[:4] == b"RIFF":
        return _RIFF_FORMS.get(head[8:12])
    if head[4:8] == b"ftyp":
        return _BMFF_BRANDS.get(head[8:12], "video/mp4")
    text = head.lstrip(b"\xef\xbb\xbf \t\r\n")
    if text.startswith((b"<?xml", b"<svg", b"<!--", b"<!DOCTYPE svg")) and b"<svg" in head:
        return "image/svg+xml"
    return None


def holds_manifest_store(data: bytes, media_type: str) -> bool:
    """True when the container holds a manifest store where C2PA embeds one, readable or not.

    A damaged or truncated store still counts (that is what makes a file tampered rather than
    unsigned); a mention of C2PA anywhere else in the file does not.
    """
    if media_type == "image/jpeg":
        return _jpeg_holds_store(data)
    if media_type == "image/png":
        return _png_holds_store(data)
    if data[:4] == b"RIFF":
        return _riff_holds_store(data)
    if data[4:8] == b"ftyp":
        return _bmff_holds_store(data)
    if media_type == "image/tiff":
        return _tiff_holds_store(data)
    if media_type == "image/gif":
        # GIF: an application extension (0x21 0xFF, 11-byte block) named C2PA_GIF.
        return b"\x21\xff\x0bC2PA_GIF" in data
    if media_type == "image/svg+xml":
        return b"<c2pa:manifest" in data
    # PDF and MP3 embed the JUMBF store as a stream or frame whose bytes start with the store's
    # superbox; the box types are the narrowest test without parsing those formats.
    return b"jumb" in data and b"jumd" in data and b"c2pa" in data


def _jpeg_holds_store(data: bytes) -> bool:
    """An APP11 segment carrying JUMBF (common identifier "JP"), before the image data starts."""
    at = 2
    while at + 4 <= len(data):
        if data[at] != 0xFF:
            return False  # not a marker where one must be: the segments are damaged past here
        marker = data[at + 1]
        if marker == 0xFF:  # fill byte
            at += 1
            continue
        if marker in (0xD9, 0xDA):  # end of image, start of scan: no metadata segments after this
            return False
        if 0xD0 <= marker <= 0xD7 or marker == 0x01:  # markers without a length
            at += 2
            continue
        (length,) = struct.unpack(">H", data[at + 2 : at + 4])
        if marker == 0xEB and data[at + 4 : at + 6] == b"JP":
            return True
        at += 2 + length
    return False


def _png_holds_store(data: bytes) -> bool:
    """A `caBX` chunk."""
    at = 8
    while at + 8 <= len(data):
        length, kind = struct.unpack(">I4s", data[at : at + 8])
        if kind == b"caBX":
            return True
        if kind == b"IEND":
            return False
        at += 12 + length
    return False


def _riff_holds_store(data: bytes) -> bool:
    """A `C2PA` chunk at the top level of a RIFF file (WebP, WAV, AVI)."""
    at = 12
    while at + 8 <= len(data):
        kind, length = struct.unpack("<4sI", data[at : at + 8])
        if kind == b"C2PA":
            return True
        at += 8 + length + (length & 1)  # chunks are padded to an even length
    return False


def _bmff_holds_store(data: bytes) -> bool:
    """A top-level `uuid` box with C2PA's user type (MP4, MOV, HEIF, AVIF)."""
    at = 0
    while at + 8 <= len(data):
        size, kind = struct.unpack(">I4s", data[at : at + 8])
        header = 8
        if size == 1 and at + 16 <= len(data):
            (size,) = struct.unpack(">Q", data[at + 8 : at + 16])
            header = 16
        if kind == b"uuid" and data[at + header : at + header + 16] == C2PA_BMFF_UUID:
            return True
        if size == 0 or size < header:
            return False  # the box runs to the end of the file, or the size is broken
        at += size
    return False


def _tiff_holds_store(data: bytes) -> bool:
    """Tag 0xCD41 in the first image file directory."""
    order = "<" if data[:2] == b"II" else ">"
    if len(data) < 8:
        return False
    (ifd,) = struct.unpack(order + "I", data[4:8])
    if ifd + 2 > len(data):
        return False
    (count,) = struct.unpack(order + "H", data[ifd : ifd + 2])
    for entry in range(count):
        at = ifd + 2 + 12 * entry
        if at + 2 > len(data):
            return False
        (tag,) = struct.unpack(order + "H", data[at : at + 2])
        if tag == _TIFF_C2PA_TAG:
            return True
    return False


def has_c2pa_marker(data: bytes) -> bool:
    """True when a sidecar's first bytes hold a C2PA manifest store box, readable or not."""
    return b"jumb" in data and b"c2pa" in data
