"""Milliseconds per C2PA sign and verify for 1024x1024 PNG and JPEG, with and without a thumbnail.

Run: .venv/bin/python benchmarks/provenance.py [--rounds N]
Aim (issue #6): sign <= 20 ms and verify <= 10 ms without thumbnail.
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

from pipeline.keys import issue_chain
from pipeline.provenance import CheckRecord, GovernanceRecord, ModelIdentity, Signer, Verifier


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

    print(f"C2PA sign/verify, 1024x1024, {args.rounds} rounds each (median / p90 ms)")
    print(f"{'format':<11} {'bytes':>9} {'thumbnail':>9} {'sign':>16} {'verify':>16}")
    for thumbnail in (False, True):
        signer = Signer(
            chain_pem=chain.signing_chain,
            key_pem=chain.signing_key,
            trust_anchors_pem=chain.root_cert,
            thumbnail=thumbnail,
        )
        for media_type, data in encoded.items():
            signed = signer.sign(data, media_type, record).image
            assert verifier.read(signed).state == "trusted"
            sign_med, sign_p90 = timed(lambda d=data, m=media_type, s=signer: s.sign(d, m, record), args.rounds)
            read_med, read_p90 = timed(lambda s=signed: verifier.read(s), args.rounds)
            print(
                f"{media_type:<11} {len(data):>9,} {'yes' if thumbnail else 'no':>9} "
                f"{sign_med:>7.1f} / {sign_p90:>6.1f} {read_med:>7.1f} / {read_p90:>6.1f}"
            )


if __name__ == "__main__":
    main()
