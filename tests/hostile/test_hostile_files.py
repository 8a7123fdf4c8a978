"""Output folders, kit files, odd images, long IDs and file names: refused or shown safely, before any work."""

from __future__ import annotations

import io
import os
import shutil
import sqlite3
import stat
import struct
import zlib
from pathlib import Path

import pytest
from PIL import Image

from brandgate.cli.output import copy_private, write_private
from tests.hostile.cli import KITS, ROOT, assert_refused, environment, run

BRIEF = ROOT / "tests" / "fixtures" / "briefs" / "acme_apples.yaml"


def _chunk(kind: bytes, payload: bytes) -> bytes:
    return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", zlib.crc32(kind + payload) & 0xFFFFFFFF)


def huge_png_header(side: int = 30000) -> bytes:
    """A PNG that declares side×side pixels in a few dozen bytes (never decoded)."""
    ihdr = struct.pack(">IIBBBBB", side, side, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", ihdr) + _chunk(b"IDAT", zlib.compress(b"\0")) + _chunk(b"IEND", b"")


def png_with_big_ztxt() -> bytes:
    """A valid 64×64 PNG whose zTXt chunk unpacks to 2 MB, past Pillow's 1 MB text limit."""
    buffer = io.BytesIO()
    Image.new("RGB", (64, 64), (200, 10, 10)).save(buffer, "PNG")
    data = buffer.getvalue()
    ztxt = _chunk(b"zTXt", b"Comment\0\0" + zlib.compress(b"a" * (2 * 1024 * 1024)))
    return data[:33] + ztxt + data[33:]


@pytest.mark.parametrize("out", ["/proc/1/x", "/etc/passwd/x", "FILE"])
@pytest.mark.parametrize("command", ["generate", "render"])
def test_an_unwritable_out_is_refused_before_any_work(tmp_path: Path, out: str, command: str) -> None:
    env = environment(tmp_path)
    assert run("db", "upgrade", env=env).code == 0
    if out == "FILE":
        (tmp_path / "a-file").write_text("x")
        out = str(tmp_path / "a-file")
    ran = run(command, "--brief", str(BRIEF), "--out", out, env=env)
    assert_refused(ran, "--out", out)
    with sqlite3.connect(tmp_path / "brandgate.db") as db:
        assert db.execute("select count(*) from requests").fetchone() == (0,)
    assert not (tmp_path / "artifacts").exists() or not any((tmp_path / "artifacts").rglob("*.png"))


@pytest.fixture
def kit(tmp_path: Path) -> Path:
    root = tmp_path / "kits" / "acme"
    shutil.copytree(KITS / "acme", root)
    return root


@pytest.mark.parametrize(
    ("name", "content", "mention"),
    [
        ("acme-primary.png", b"", "is an empty file"),
        ("acme-primary.png", os.urandom(4096), "is not an image brandgate can read"),
        ("acme-primary.png", huge_png_header(), "claims 900000000 pixels (decompression bomb guard)"),
        ("acme-primary.png", huge_png_header(5000), "5000x5000 pixels"),
        ("acme-primary.svg", b"<svg xmlns='http://www.w3.org/2000/svg'/>", "is an SVG"),
        ("acme-primary.png", huge_png_header(100000), "decompression bomb"),
    ],
    ids=["empty", "random-bytes", "30000-square", "5000-square", "svg", "bomb"],
)
def test_kit_validate_opens_every_logo(tmp_path: Path, kit: Path, name: str, content: bytes, mention: str) -> None:
    (kit / "logos" / name).write_bytes(content)
    if name.endswith(".svg"):
        spec = (kit / "kit.yaml").read_text().replace("logos/acme-primary.png", "logos/acme-primary.svg")
        (kit / "kit.yaml").write_text(spec)
    ran = run("kit", "validate", str(kit), env=environment(tmp_path))
    assert_refused(ran, "logos.primary.file", mention)


def test_kit_validate_decodes_a_truncated_logo(tmp_path: Path, kit: Path) -> None:
    logo = kit / "logos" / "acme-primary.png"
    logo.write_bytes(logo.read_bytes()[:-200])
    ran = run("kit", "validate", str(kit), env=environment(tmp_path))
    assert_refused(ran, "logos.primary.file", "damaged")


def test_kit_validate_opens_every_font(tmp_path: Path, kit: Path) -> None:
    (kit / "fonts").mkdir()
    (kit / "fonts" / "DejaVuSans-Bold.ttf").write_bytes(os.urandom(2048))
    ran = run("kit", "validate", str(kit), env=environment(tmp_path))
    assert_refused(ran, "fonts.headline", "not a font file")


def test_a_png_with_an_oversized_text_chunk_is_named_as_such(tmp_path: Path) -> None:
    image = tmp_path / "metadata.png"
    image.write_bytes(png_with_big_ztxt())
    ran = run("check", str(image), "--kit", "acme", env=environment(tmp_path))
    line = assert_refused(ran, "zTXt", "strip the metadata")
    assert "not a known image format" not in line


def test_status_does_not_echo_a_huge_argument(tmp_path: Path) -> None:
    env = environment(tmp_path)
    assert run("db", "upgrade", env=env).code == 0
    line = assert_refused(run("status", "f" * 3000, env=env), "no request")
    assert len(line) < 300


def test_an_unknown_export_kit_is_an_error_naming_the_known_ones(tmp_path: Path) -> None:
    env = environment(tmp_path)
    assert run("db", "upgrade", env=env).code == 0
    assert_refused(run("audit", "export", "--kit", "ACME", env=env), "did you mean 'acme'?")
    known = run("audit", "export", "--kit", "acme", env=env)
    assert known.code == 0 and "exported 0 images" in known.stderr


def test_bidi_controls_in_a_file_name_are_escaped(tmp_path: Path) -> None:
    name = "invoice\u202egnp.png"
    image = tmp_path / name
    Image.new("RGB", (128, 128), (250, 250, 250)).save(image, "PNG")
    (tmp_path / "missing\u202e.png").unlink(missing_ok=True)
    ran = run("check", str(tmp_path / "missing\u202e.png"), "--kit", "acme", env=environment(tmp_path))
    line = assert_refused(ran, "missing\\u202e.png")
    assert "\u202e" not in ran.stderr, line
    kits = tmp_path / "kits"
    shutil.copytree(KITS / "acme", kits / "acme")
    (kits / "acme" / "policy.yaml").write_text(
        "".join(f"{i}: {{enabled: false}}\n" for i in ("BG101", "BG102", "BG103", "BG104", "BG201", "BG202",
                                                       "BG301", "BG302", "BG401", "BG402", "BG501", "BG502"))
    )
    ran = run("check", str(image), "--kit", str(kits / "acme"), env=environment(tmp_path))
    assert "\u202e" not in ran.stdout and "invoice\\u202egnp.png" in ran.stdout, ran.stdout + ran.stderr


def test_out_files_are_private(tmp_path: Path) -> None:
    write_private(tmp_path / "request.json", b"{}")
    source = tmp_path / "source.png"
    source.write_bytes(b"png")
    source.chmod(0o644)
    copy_private(source, tmp_path / "copy.png")
    existing = tmp_path / "existing.json"
    existing.write_text("old")
    existing.chmod(0o644)
    write_private(existing, b"new")
    for made in ("request.json", "copy.png", "existing.json"):
        assert stat.S_IMODE((tmp_path / made).stat().st_mode) == 0o600, made
    assert existing.read_bytes() == b"new"
