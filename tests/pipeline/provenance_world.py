"""What the provenance tests share: real scenes, governance records, key chains, an audit database."""

from __future__ import annotations

import datetime as dt
import io
import json
import struct
import uuid
import zlib
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from brandgate.db.engine import make_engine, make_sessionmaker
from brandgate.db.models import Image as ImageRow
from brandgate.db.models import Request
from brandgate.db.schema import upgrade
from brandgate.settings import Settings
from pipeline.keys import IssuedChain, issue_chain, write_dev_chain
from pipeline.provenance.governance import CheckRecord, GovernanceRecord, ModelIdentity
from pipeline.provenance.signer import TRAINED_ALGORITHMIC_MEDIA, Signer
from policies.perceptual import phash_hex

FORMATS = {"image/png": "PNG", "image/jpeg": "JPEG", "image/webp": "WEBP"}


def scene(size: int = 256, seed: int = 0) -> Image.Image:
    """A photograph-like test picture: smooth light, shapes, grain; survives re-encoding recognisably."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:size, 0:size].astype(np.float32) / size
    base = np.stack([180 * x + 40, 120 * y + 60, 200 * (1 - x * y) + 20], axis=-1)
    grain = rng.normal(0, 6, base.shape)
    image = Image.fromarray(np.clip(base + grain, 0, 255).astype(np.uint8))
    draw = ImageDraw.Draw(image)
    for _ in range(6):
        cx, cy, r = (int(v) for v in rng.integers(size // 8, size - size // 8, 3) // np.array([1, 1, 4]))
        colour = tuple(int(c) for c in rng.integers(0, 255, 3))
        draw.ellipse((cx - r, cy - r, cx + r, cy + r), fill=colour)
    return image


def encode(image: Image.Image, media_type: str, **options: object) -> bytes:
    out = io.BytesIO()
    image.save(out, FORMATS[media_type], **options)
    return out.getvalue()


def record(**changes: object) -> GovernanceRecord:
    fields: dict[str, object] = {
        "request_id": "req-0001",
        "image_id": "img-0001",
        "verdict": "flag",
        "checks": (
            CheckRecord("BG101", "fail", 0.9312345678901234),
            CheckRecord("BG201", "pass", 1.0),
            CheckRecord("BG402", "skip", 0.0),
            CheckRecord("BG502", "error", 0.5),
        ),
        "kit_name": "acme",
        "kit_hash": "a" * 64,
        "brief_hash": "b" * 64,
        "seed": 2**40 + 7,
        "profile_name": "preview",
        "profile_hash": "c" * 64,
        "model": ModelIdentity("tiny-sd", "0123456789abcdef0123456789abcdef01234567"),
    }
    fields.update(changes)
    return GovernanceRecord(**fields)  # type: ignore[arg-type]


def settings_with_chain(tmp: Path, chain: IssuedChain | None = None, **overrides: object) -> Settings:
    keys_dir = tmp / "keys"
    write_dev_chain(keys_dir, chain or issue_chain(), force=True)
    values: dict[str, object] = {
        "database_url": f"sqlite:///{tmp / 'audit.db'}",
        "artifacts_dir": tmp / "artifacts",
        "keys_dir": keys_dir,
    }
    values.update(overrides)
    return Settings(**values)  # type: ignore[arg-type]


def signer_for(chain: IssuedChain, **options: object) -> Signer:
    return Signer(
        chain_pem=chain.signing_chain,
        key_pem=chain.signing_key,
        trust_anchors_pem=chain.root_cert,
        **options,  # type: ignore[arg-type]
    )


def seed_audit_db(settings: Settings, images: dict[str, bytes]) -> dict[str, str]:
    """A real audit database, migrated to head, holding one request with `images` (id -> bytes).

    Returns id -> phash.
    """
    upgrade(settings)
    engine = make_engine(settings)
    hashes: dict[str, str] = {}
    with make_sessionmaker(engine)() as session:
        session.add(
            Request(
                id="req-0001",
                requested_by="U123",
                kit_name="acme",
                kit_hash="a" * 64,
                brief={"kit": "acme", "prompt": "apples"},
                brief_hash="b" * 64,
                profile_name="preview",
                profile_hash="c" * 64,
                seed=7,
                n_images=len(images),
            )
        )
        for index, (image_id, data) in enumerate(images.items()):
            picture = Image.open(io.BytesIO(data)).convert("RGB")
            hashes[image_id] = phash_hex(np.asarray(picture))
            session.add(
                ImageRow(
                    id=image_id,
                    request_id="req-0001",
                    index=index,
                    sha256=uuid.uuid4().hex * 2,
                    phash=hashes[image_id],
                    width=picture.width,
                    height=picture.height,
                    model_id="tiny-sd",
                    model_revision="0123",
                    generation_config={},
                    seed=7 + index,
                    verdict="flag",
                    created_at=dt.datetime(2026, 1, 1, tzinfo=dt.UTC),
                )
            )
        session.commit()
    engine.dispose()
    return hashes


def png_chunks(data: bytes) -> list[tuple[bytes, bytes]]:
    """(type, body) of every chunk of a PNG."""
    chunks, pos = [], 8
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kind = data[pos + 4 : pos + 8]
        chunks.append((kind, data[pos + 8 : pos + 8 + length]))
        pos += 12 + length
    return chunks


def png_from_chunks(chunks: list[tuple[bytes, bytes]]) -> bytes:
    out = [b"\x89PNG\r\n\x1a\n"]
    for kind, body in chunks:
        out.append(struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body)))
    return b"".join(out)


def transplant_credentials(signed_png: bytes, other_png: bytes) -> bytes:
    """`other_png`'s pixels carrying `signed_png`'s C2PA chunk: what a forger copying credentials makes."""
    manifest = [c for c in png_chunks(signed_png) if c[0] == b"caBX"]
    assert manifest, "the signed PNG has no caBX chunk"
    target = png_chunks(other_png)
    return png_from_chunks([target[0], *manifest, *target[1:]])


def foreign_tool_png(chain: IssuedChain, picture: Image.Image) -> bytes:
    """A PNG signed by another tool, written with the C2PA SDK directly, with assertions we do not know."""
    import c2pa

    manifest = {
        "claim_generator_info": [{"name": "OtherTool", "version": "9.1"}],
        "assertions": [
            {
                "label": "c2pa.actions.v2",
                "data": {"actions": [{"action": "c2pa.created", "digitalSourceType": TRAINED_ALGORITHMIC_MEDIA}]},
            },
            {"label": "org.example.review", "data": {"reviewer": "someone", "score": 4}},
            {"label": "com.brandgate.governance", "data": {"verdict": "pass"}},
        ],
    }
    context = c2pa.Context.from_dict({"builder": {"thumbnail": {"enabled": False}}})
    native = c2pa.Signer.from_info(c2pa.C2paSignerInfo(b"es256", chain.signing_chain, chain.signing_key, None))
    out = io.BytesIO()
    with c2pa.Builder(manifest, context) as builder:
        builder.sign(native, "image/png", io.BytesIO(encode(picture, "image/png")), out)
    return out.getvalue()


def remote_manifest_asset(chain: IssuedChain, picture: Image.Image, media_type: str, url: str) -> tuple[bytes, bytes]:
    """An image signed by another tool whose manifest is not embedded: the file only points at `url`.

    What a publisher that keeps credentials on its own server ships; the SDK writes the pointer
    into the file's XMP as `dcterms:provenance`. Returns the file and the manifest store kept remote.
    """
    import c2pa

    manifest = {
        "claim_generator_info": [{"name": "CloudTool", "version": "2.0"}],
        "assertions": [
            {
                "label": "c2pa.actions.v2",
                "data": {"actions": [{"action": "c2pa.created", "digitalSourceType": TRAINED_ALGORITHMIC_MEDIA}]},
            }
        ],
    }
    context = c2pa.Context.from_dict({"builder": {"thumbnail": {"enabled": False}}})
    native = c2pa.Signer.from_info(c2pa.C2paSignerInfo(b"es256", chain.signing_chain, chain.signing_key, None))
    out = io.BytesIO()
    with c2pa.Builder(manifest, context) as builder:
        builder.set_no_embed()
        builder.set_remote_url(url)
        store = builder.sign(native, media_type, io.BytesIO(encode(picture, media_type)), out)
    return out.getvalue(), bytes(store)


XMP_WITH_PROVENANCE = (
    '<?xpacket begin="" id="W5M0MpCehiHzreSzNTczkc9d"?><x:xmpmeta xmlns:x="adobe:ns:meta/">'
    '<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"><rdf:Description rdf:about=""'
    ' xmlns:dcterms="http://purl.org/dc/terms/" dcterms:provenance="{reference}"/></rdf:RDF></x:xmpmeta>'
    '<?xpacket end="w"?>'
)


def with_provenance_reference(picture: Image.Image, media_type: str, reference: str) -> bytes:
    """An unsigned image whose XMP points at a remote manifest with `reference`, written by hand."""
    from PIL import PngImagePlugin

    xmp = XMP_WITH_PROVENANCE.format(reference=reference)
    if media_type == "image/png":
        info = PngImagePlugin.PngInfo()
        info.add_itxt("XML:com.adobe.xmp", xmp)
        return encode(picture, media_type, pnginfo=info)
    return encode(picture, media_type, xmp=xmp.encode())


def jpeg_segments(data: bytes) -> list[tuple[int, bytes]]:
    """(marker, whole segment) of a JPEG's header segments up to the scan; the scan and the rest last."""
    segments, pos = [(0xD8, data[:2])], 2
    while pos < len(data):
        marker = data[pos + 1]
        if marker == 0xDA:  # start of scan: the entropy-coded data and EOI follow
            segments.append((marker, data[pos:]))
            break
        (length,) = struct.unpack(">H", data[pos + 2 : pos + 4])
        segments.append((marker, data[pos : pos + 2 + length]))
        pos += 2 + length
    return segments


def stripped_of_its_manifest_store(signed: bytes, media_type: str) -> bytes:
    """A signed file with its C2PA manifest store cut out and the XMP that pointed into it kept.

    What a tool that drops unknown boxes leaves: Adobe's tools and others write `dcterms:provenance
    = self#jumbf=/c2pa/<active manifest>` into the XMP of what they sign; stripping the JUMBF
    (JPEG APP11, PNG caBX) leaves that pointer dangling."""
    import c2pa

    with c2pa.Reader(media_type, io.BytesIO(signed)) as reader:
        label = json.loads(reader.json())["active_manifest"]
    xmp = XMP_WITH_PROVENANCE.format(reference=f"self#jumbf=/c2pa/{label}").encode()
    if media_type == "image/png":
        chunks = [c for c in png_chunks(signed) if c[0] != b"caBX"]
        itxt = b"XML:com.adobe.xmp\x00\x00\x00\x00\x00" + xmp
        return png_from_chunks([chunks[0], (b"iTXt", itxt), *chunks[1:]])
    kept = [body for marker, body in jpeg_segments(signed) if marker != 0xEB]
    app1 = b"http://ns.adobe.com/xap/1.0/\x00" + xmp
    xmp_segment = b"\xff\xe1" + struct.pack(">H", len(app1) + 2) + app1
    return kept[0] + xmp_segment + b"".join(kept[1:])
