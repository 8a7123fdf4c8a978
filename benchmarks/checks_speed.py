"""Speed of the policy checks on 1024² creatives: p50/p95 ms per check, OCR and the whole default set.

    .venv/bin/python benchmarks/checks_speed.py [--images 12] [--kit acme] [--side 1024]

Creatives are rendered here (flat, gradient and photo-like backgrounds with the brief's headline
and disclaimer), so the figures need nothing but the repository. Per check, the
shared OCR reading is computed first and timed on its own, so a text check's figure is its
own work; the whole set is timed from a fresh creative (OCR included), both on the engine's
thread pool (the default) and one check after another.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from policies.brief import Brief  # noqa: E402
from policies.checks import builtin_specs, known_ids  # noqa: E402
from policies.creative import Creative  # noqa: E402
from policies.engine import enabled_checks, run_checks, run_one  # noqa: E402
from policies.kit import load_kit  # noqa: E402
from policies.ocr import read_text, recognise  # noqa: E402

BOLD = "/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf"
REGULAR = "/usr/share/fonts/truetype/liberation2/LiberationSans-Regular.ttf"
KINDS = ("flat", "gradient", "photo")


def creative(kind: str, side: int, seed: int) -> Creative:
    rng = np.random.default_rng(seed)
    if kind == "flat":
        image = Image.new("RGB", (side, side), tuple(int(v) for v in rng.integers(0, 120, 3)))
    elif kind == "gradient":
        t = np.linspace(0, 1, side)[None, :, None]
        a, b = rng.integers(0, 100, 3), rng.integers(0, 100, 3)  # dark enough for white text
        image = Image.fromarray(((a * (1 - t) + b * t) * np.ones((side, 1, 1))).astype(np.uint8))
    else:
        field = np.zeros((side, side, 3))
        for cells, weight in ((4, 0.5), (16, 0.3), (64, 0.2)):
            small = rng.integers(0, 256, (cells, cells, 3)).astype(np.uint8)
            field += weight * np.asarray(Image.fromarray(small).resize((side, side), Image.Resampling.BICUBIC), float)
        image = Image.fromarray(np.clip(field + rng.normal(0, 18, field.shape), 0, 255).astype(np.uint8))
    draw = ImageDraw.Draw(image)
    stroke = 4 if kind == "photo" else 0
    scale = side / 1024
    draw.text((int(60 * scale), int(70 * scale)), "Fresh Deals Friday", font=ImageFont.truetype(BOLD, int(84 * scale)),
              fill="white", stroke_width=stroke, stroke_fill="black")
    small = ImageFont.truetype(REGULAR, int(26 * scale))
    draw.text((int(60 * scale), int(950 * scale)), "Offer ends Sunday.", font=small, fill="white",
              stroke_width=stroke // 2, stroke_fill="black")
    return Creative.from_pil(image, f"{kind}-{seed}.png", source_format="png")


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=12)
    parser.add_argument("--kit", default="acme")
    parser.add_argument("--side", type=int, default=1024)
    args = parser.parse_args()

    kit = load_kit(ROOT / "brand_kits" / args.kit, known_check_ids=known_ids())
    brief = Brief(kit=kit.name, prompt="five red apples on a wooden table", headline="Fresh Deals Friday",
                  disclaimer="Offer ends Sunday.", size=(args.side, args.side))
    chosen = enabled_checks(kit, builtin_specs())
    # Warm-up: load the OCR models, read the kit's logo wordmarks, touch every check once.
    warm = creative("flat", args.side, 999)
    run_checks(warm, brief, kit)

    creatives = [creative(KINDS[i % 3], args.side, i) for i in range(args.images)]
    per_check: dict[str, list[float]] = {spec.id: [] for spec, _ in chosen}
    statuses: dict[str, dict[str, int]] = {spec.id: {} for spec, _ in chosen}
    ocr_ms: list[float] = []
    for c in creatives:
        started = time.perf_counter()
        read_text(c)
        ocr_ms.append((time.perf_counter() - started) * 1000)
        for spec, options in chosen:
            result = run_one(spec, c, brief, kit, options)
            per_check[spec.id].append(result.duration_ms)
            statuses[spec.id][result.status] = statuses[spec.id].get(result.status, 0) + 1

    whole_pool: list[float] = []
    whole_serial: list[float] = []
    for i in range(args.images):
        for concurrent, bucket in ((True, whole_pool), (False, whole_serial)):
            fresh = creative(KINDS[i % 3], args.side, i)
            started = time.perf_counter()
            run_checks(fresh, brief, kit, concurrent=concurrent)
            bucket.append((time.perf_counter() - started) * 1000)

    engine_ms = [recognise(c.rgb).duration_ms for c in creatives[:3]]
    print(f"brandgate checks speed: {args.images} creatives of {args.side}×{args.side}, kit {kit.name},"
          f" {len(chosen)} checks enabled")
    print(f"{'what':<34}{'p50 ms':>10}{'p95 ms':>10}   statuses")
    print(f"{'OCR, both engines (shared)':<34}{pct(ocr_ms, 50):>10.1f}{pct(ocr_ms, 95):>10.1f}")
    for spec, _ in chosen:
        values = per_check[spec.id]
        shown = ", ".join(f"{k} {v}" for k, v in sorted(statuses[spec.id].items()))
        print(f"{spec.id + ' ' + spec.name:<34}{pct(values, 50):>10.1f}{pct(values, 95):>10.1f}   {shown}")
    print(f"{'whole default set, thread pool':<34}{pct(whole_pool, 50):>10.1f}{pct(whole_pool, 95):>10.1f}")
    print(f"{'whole default set, one by one':<34}{pct(whole_serial, 50):>10.1f}{pct(whole_serial, 95):>10.1f}")
    print(f"(OCR re-timed alone on 3 creatives: {', '.join(f'{v:.0f}' for v in engine_ms)} ms)")
    print(f"machine: {len(__import__('os').sched_getaffinity(0))} cores, load average"
          f" {', '.join(f'{v:.2f}' for v in __import__('os').getloadavg())}")


if __name__ == "__main__":
    main()
