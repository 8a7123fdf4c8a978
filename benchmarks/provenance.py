"""Milliseconds per C2PA sign and verify for 1024x1024 PNG and JPEG, against a bare c2pa SDK sign.

Run: .venv/bin/python benchmarks/provenance.py [--rounds N]
Aim (issue #6): sign <= 20 ms and verify <= 10 ms without thumbnail.

Each row signs the same encoded file three ways and prints each as a ratio to the first:
- `bare SDK`: c2pa's Builder and Signer alone with the SDK's default settings, the same certificate
  chain and key, a manifest holding one `c2pa.created` action, no ingredients, and a thumbnail only
  in the rows where brandgate embeds one;
- `ours`: brandgate's Signer with its governance assertion (nine check records), no ingredients;
- `ours+ingr.`: as a composite is signed in production: the generated background (the same
  picture, 1024² PNG) and the kit's logo file as `componentOf` ingredients with `c2pa.placed`.
Verify times the composite's signed file.
"""

from __future__ import annotations

import argparse
import io
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


import c2pa

from pipeline.keys import issue_chain
from pipeline.provenance.governance import CheckRecord, GovernanceRecord, ModelIdentity
from pipeline.provenance.signer import ALGORITHMIC_MEDIA, Ingredient, Signer
from pipeline.provenance.verifier import Verifier

ROOT = Path(__file__).resolve().parent.parent
LOGO = ROOT / "brand_kits" / "acme" / "logos" / "acme-primary.png"


class BareSdkSigner:
    """The c2pa SDK alone: what any tool pays to sign a file, before brandgate adds anything."""

    def __init__(self, chain_pem: bytes, key_pem: bytes, algorithm: c2pa.C2paSigningAlg, thumbnail: bool) -> None:
        self._signer = c2pa.Signer.from_info(c2pa.C2paSignerInfo(algorithm, chain_pem, key_pem, None))
        # the SDK's defaults but the thumbnail, which follows the row being compared
        self._context = c2pa.Context.from_dict({"builder": {"thumbnail": {"enabled": thumbnail}}})
        self._manifest = {
            "claim_generator_info": [{"name": "bare-sdk-benchmark", "version": "1"}],
            "title": "bench",
            "assertions": [
                {
                    "label": "c2pa.actions.v2",
                    "data": {"actions": [{"action": "c2pa.created", "digitalSourceType": ALGORITHMIC_MEDIA}]},
                }
            ],
        }

    def sign(self, data: bytes, media_type: str) -> bytes:
        with c2pa.Builder(self._manifest, self._context) as builder:
            out = io.BytesIO()
            builder.sign(self._signer, media_type, io.BytesIO(data), out)
        return out.getvalue()


def picture(size: int = 1024) -> Image.Image:
    """Smooth light, a few shapes and sensor-like grain: compresses like a generated image does."""
    rng = np.random.default_rng(1)
    y, x = np.mgrid[0:size, 0:size].astype(np.float32) / size
    base = np.stack([180 * x + 40, 120 * y + 60, 200 * (1 - x * y) + 20], axis=-1)
    image = Image.fromarray(np.clip(base + rng.normal(0, 4, base.shape), 0, 255).astype(np.uint8))
    draw = ImageDraw.Draw(image)
    for _ in range(12):
        cx, cy = (int(v) for v in rng.integers(100, size - 100, 2))
        r = int(rng.integers(20, 120))
        draw.ellipse((cx - r, cy - r, cx + r, cy + r), fill=tuple(int(c) for c in rng.integers(0, 255, 3)))
    return image


def timed(fn: Callable[[], object], rounds: int) -> tuple[float, float]:
    fn()  # warm-up: first call pays one-off costs
    samples = []
    for _ in range(rounds):
        start = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - start) * 1000)
    samples.sort()
    return statistics.median(samples), samples[int(0.9 * (len(samples) - 1))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=30)
    args = parser.parse_args()

    chain = issue_chain()
    record = GovernanceRecord(
        request_id="bench",
        image_id="bench-0",
        verdict="pass",
        checks=tuple(CheckRecord(f"BG{n}", "pass", 0.99) for n in (101, 102, 103, 104, 201, 202, 301, 302, 601)),
        kit_name="acme",
        kit_hash="a" * 64,
        brief_hash="b" * 64,
        seed=1234,
        profile_hash="c" * 64,
        model=ModelIdentity("tiny-sd", "0" * 40),
    )
    verifier = Verifier(chain.root_cert)
    image = picture()
    encoded = {}
    for media_type, fmt, options in (("image/png", "PNG", {}), ("image/jpeg", "JPEG", {"quality": 92})):
        out = io.BytesIO()
        image.save(out, fmt, **options)
        encoded[media_type] = out.getvalue()

    png = io.BytesIO()
    image.save(png, "PNG")
    ingredients = [Ingredient.background(png.getvalue(), "image/png"),
                   Ingredient.logo(LOGO.read_bytes(), "image/png", title="logo primary")]  # fmt: skip

    print(f"C2PA sign/verify, 1024x1024, {args.rounds} rounds each (median / p90 ms; ratio of medians to bare SDK)")
    print(f"{'format':<11} {'bytes':>9} {'thumbnail':>9} {'bare SDK':>16} {'ours':>16} {'ours+ingr.':>16} "
          f"{'ratio':>11} {'verify':>16}")  # fmt: skip
    for thumbnail in (False, True):
        signer = Signer(
            chain_pem=chain.signing_chain,
            key_pem=chain.signing_key,
            trust_anchors_pem=chain.root_cert,
            thumbnail=thumbnail,
        )
        assert signer.algorithm is not None
        bare = BareSdkSigner(chain.signing_chain, chain.signing_key, signer.algorithm, thumbnail)
        for media_type, data in encoded.items():
            signed = signer.sign(data, media_type, record, ingredients).image
            assert verifier.read(signed).state == "trusted"
            assert bare.sign(data, media_type)
            bare_med, bare_p90 = timed(lambda d=data, m=media_type, b=bare: b.sign(d, m), args.rounds)
            sign_med, sign_p90 = timed(lambda d=data, m=media_type, s=signer: s.sign(d, m, record), args.rounds)
            full_med, full_p90 = timed(
                lambda d=data, m=media_type, s=signer: s.sign(d, m, record, ingredients), args.rounds
            )
            read_med, read_p90 = timed(lambda s=signed: verifier.read(s), args.rounds)
            print(
                f"{media_type:<11} {len(data):>9,} {'yes' if thumbnail else 'no':>9} "
                f"{bare_med:>7.1f} / {bare_p90:>6.1f} {sign_med:>7.1f} / {sign_p90:>6.1f} "
                f"{full_med:>7.1f} / {full_p90:>6.1f} {sign_med / bare_med:>4.2f}/{full_med / bare_med:>5.2f} "
                f"{read_med:>7.1f} / {read_p90:>6.1f}"
            )


if __name__ == "__main__":
    main()
