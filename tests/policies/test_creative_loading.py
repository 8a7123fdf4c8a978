"""Reading image files for the checks: every kind of bad input gets InvalidInput, odd ones decode right."""

from __future__ import annotations

import io
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageCms

from policies.creative import Creative, load_creative, load_creative_bytes
from policies.errors import InvalidInput


def png_bytes(image: Image.Image, **params: object) -> bytes:
    out = io.BytesIO()
    image.save(out, "PNG", **params)
    return out.getvalue()


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def declared_png(width: int, height: int) -> bytes:
    """A tiny PNG whose header declares width × height RGB pixels (a decompression bomb)."""
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _chunk(b"IHDR", header)
        + _chunk(b"IDAT", zlib.compress(b"\0" * 4096))
        + _chunk(b"IEND", b"")
    )


def test_non_image_with_png_name(tmp_path: Path) -> None:
    path = tmp_path / "creative.png"
    path.write_text("<html>this is a web page</html>")
    with pytest.raises(InvalidInput, match="not an image"):
        load_creative(path)


def test_truncated_png(tmp_path: Path) -> None:
    data = png_bytes(Image.fromarray(np.random.default_rng(1).integers(0, 255, (128, 128, 3), dtype=np.uint8)))
    path = tmp_path / "cut.png"
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(InvalidInput, match="truncated"):
        load_creative(path)


def test_zero_byte_file(tmp_path: Path) -> None:
    path = tmp_path / "empty.png"
    path.write_bytes(b"")
    with pytest.raises(InvalidInput, match="empty"):
        load_creative(path)


def test_decompression_bomb_is_refused_from_its_header() -> None:
    with pytest.raises(InvalidInput, match="decompression bomb") as caught:
        load_creative_bytes(declared_png(50_000, 50_000), "bomb.png")
    assert "2500000000" in str(caught.value)


def test_image_over_our_pixel_limit_is_refused() -> None:
    with pytest.raises(InvalidInput, match="3000×3000"):
        load_creative_bytes(declared_png(3000, 3000), "big.png", max_pixels=4_000_000)


def test_file_over_the_byte_limit(tmp_path: Path) -> None:
    path = tmp_path / "a.png"
    path.write_bytes(png_bytes(Image.new("RGB", (64, 64))))
    with pytest.raises(InvalidInput, match="limit"):
        load_creative(path, max_bytes=10)


def test_one_pixel_image_is_too_small() -> None:
    with pytest.raises(InvalidInput, match="too small"):
        load_creative_bytes(png_bytes(Image.new("RGB", (1, 1), (255, 0, 0))), "dot.png")


def test_directory_and_missing_paths(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match="folder"):
        load_creative(tmp_path)
    with pytest.raises(InvalidInput, match="no such"):
        load_creative(tmp_path / "absent.png")


def test_cmyk_jpeg_converts_to_the_right_rgb() -> None:
    out = io.BytesIO()
    Image.new("CMYK", (64, 64), (0, 255, 255, 0)).save(out, "JPEG", quality=95)  # pure red in CMYK
    creative = load_creative_bytes(out.getvalue(), "cmyk.jpg")
    assert creative.source_format == "jpeg"
    r, g, b = creative.rgb[32, 32].tolist()
    assert r > 230 and g < 25 and b < 25
    assert any("CMYK" in note for note in creative.notes)


def test_cmyk_jpeg_with_icc_profile_is_colour_managed() -> None:
    # A CMYK image carrying an (sRGB-built) profile exercises the colour-managed path.
    profile = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    out = io.BytesIO()
    Image.new("CMYK", (64, 64), (0, 0, 0, 0)).save(out, "JPEG", icc_profile=profile)
    creative = load_creative_bytes(out.getvalue(), "cmyk-icc.jpg")
    assert creative.rgb.shape == (64, 64, 3)
    assert creative.rgb.mean() > 200  # no ink is white


def test_sixteen_bit_grey_png_is_scaled_not_clipped() -> None:
    values = np.tile(np.linspace(0, 65535, 64, dtype=np.uint16), (64, 1))
    image = Image.fromarray(values)
    creative = load_creative_bytes(png_bytes(image), "grey16.png")
    row = creative.rgb[0, :, 0].astype(int)
    assert row[0] == 0 and row[-1] == 255
    assert abs(row[32] - round(values[0, 32] / 257)) <= 1  # mid-grey stays mid-grey, not 255
    assert np.all(np.diff(row) >= 0)
    assert any("16-bit" in note for note in creative.notes)


def test_palette_png_with_transparency_is_composited_on_white() -> None:
    image = Image.new("P", (32, 32), 0)
    image.putpalette([0, 0, 0, 200, 0, 0] + [0] * 762)
    image.paste(1, (0, 0, 16, 32))  # left half opaque red, right half transparent
    creative = load_creative_bytes(png_bytes(image, transparency=0), "palette.png")
    assert creative.rgb[16, 4].tolist() == [200, 0, 0]
    assert creative.rgb[16, 28].tolist() == [255, 255, 255]
    assert any("white" in note for note in creative.notes)


def test_animated_gif_checks_the_first_frame_and_says_so() -> None:
    frames = [Image.new("RGB", (48, 48), colour) for colour in ((255, 0, 0), (0, 255, 0), (0, 0, 255))]
    out = io.BytesIO()
    frames[0].save(out, "GIF", save_all=True, append_images=frames[1:], duration=100)
    creative = load_creative_bytes(out.getvalue(), "anim.gif")
    assert creative.rgb[0, 0].tolist() == [255, 0, 0]
    assert creative.source_format == "gif"
    assert any("first frame" in note and "3 frames" in note for note in creative.notes)


def test_a_plain_png_loads_with_its_format(tmp_path: Path) -> None:
    path = tmp_path / "ok.png"
    path.write_bytes(png_bytes(Image.new("RGB", (80, 60), (1, 2, 3))))
    creative = load_creative(path)
    assert isinstance(creative, Creative)
    assert (creative.width, creative.height, creative.source_format, creative.notes) == (80, 60, "png", [])
