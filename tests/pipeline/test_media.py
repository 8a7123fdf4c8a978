"""pipeline/provenance/media.py: the container a file is, and whether a manifest store sits where C2PA puts one."""

from __future__ import annotations

import struct
from pathlib import Path

import pytest

from pipeline.provenance.media import C2PA_BMFF_UUID, holds_manifest_store, sniff_media_type
from pipeline.provenance.signer import Signer
from tests.pipeline.provenance_world import encode, png_chunks, png_from_chunks, record, scene, settings_with_chain


@pytest.mark.parametrize("media_type", ["image/png", "image/jpeg", "image/webp"])
def test_a_signed_file_holds_a_store_and_the_unsigned_one_does_not(tmp_path: Path, media_type: str) -> None:
    unsigned = encode(scene(), media_type)
    signed = Signer.from_settings(settings_with_chain(tmp_path)).sign(unsigned, media_type, record()).image

    assert sniff_media_type(signed[:64]) == media_type
    assert holds_manifest_store(signed, media_type)
    assert not holds_manifest_store(unsigned, media_type)


def test_words_about_c2pa_in_a_png_text_chunk_are_no_store() -> None:
    chunks = png_chunks(encode(scene(), "image/png"))
    comment = (b"tEXt", b"Comment\x00c2pa self#jumbf=/c2pa/urn:x jumb jumd")

    assert not holds_manifest_store(png_from_chunks([chunks[0], comment, *chunks[1:]]), "image/png")


def test_an_mp4_with_the_c2pa_uuid_box_holds_a_store() -> None:
    ftyp = struct.pack(">I4s", 16, b"ftyp") + b"isom\x00\x00\x02\x00"
    mdat = struct.pack(">I4s", 12, b"mdat") + b"c2pa"  # the words alone, inside media data
    store = struct.pack(">I4s", 8 + 16 + 4, b"uuid") + C2PA_BMFF_UUID + b"jumb"

    assert sniff_media_type(ftyp) == "video/mp4"
    assert not holds_manifest_store(ftyp + mdat, "video/mp4")
    assert holds_manifest_store(ftyp + mdat + store, "video/mp4")


@pytest.mark.parametrize(
    ("head", "expected"),
    [
        (b"RIFF\x00\x00\x00\x00WAVEfmt ", "audio/wav"),
        (b"%PDF-1.7\n", "application/pdf"),
        (b'<?xml version="1.0"?>\n<svg xmlns="http://www.w3.org/2000/svg"/>', "image/svg+xml"),
        (b"\x00\x00\x00\x1cftypheic", "image/heic"),
        (b"# Changelog: C2PA, JUMBF, self#jumbf=/c2pa/\n", None),
        (b'<?xml version="1.0"?><c2pa>jumbf</c2pa>', None),
        (b"PK\x03\x04", None),
    ],
)
def test_sniffing_names_the_container_or_nothing(head: bytes, expected: str | None) -> None:
    assert sniff_media_type(head) == expected
