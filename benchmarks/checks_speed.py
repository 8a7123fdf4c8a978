"""Speed of the policy checks on 1024² creatives, as a ratio to one plain tesseract pass.

    .venv/bin/python benchmarks/checks_speed.py [--images 12] [--kit acme] [--side 1024]

Creatives are made the way the pipeline makes them: a background (flat, gradient or
photo-like) composed by `pipeline.compose` with the brief's headline, disclaimer and logo, and
the brief asks for counts, so every default check has work to do. Each creative is timed twice:
as the pipeline checks it (brandgate's placements known) and as `brandgate check` checks a file
(nothing known but the pixels). Then creatives with one text or logo defect each (`DEFECTS`),
checked as files, each kind with its own ratio and how many the target check flagged. A plain
`tesseract IMAGE stdout` over the same PNGs runs in the same process run, and every figure is
also printed as a ratio to it, since the machine is shared and the absolute milliseconds move
with its load (printed at the start, per defect kind and at the end). The pixels-only and
defect figures are also printed in CPU time (this process's threads and its tesseract
children), which a heavily loaded machine moves far less than the wall clock.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from pipeline.compose import compose  # noqa: E402
from policies.brief import Brief  # noqa: E402
from policies.checks import builtin_specs, known_ids  # noqa: E402
from policies.creative import Creative  # noqa: E402
from policies.engine import enabled_checks, run_checks  # noqa: E402
from policies.kit import Kit, load_kit  # noqa: E402

KINDS = ("flat", "gradient", "photo")
# Creatives drawn from a changed brief and checked against the real one: each text and logo
# defect kind alone, with the check that should flag it (issue #26 times each kind separately).
DEFECTS: tuple[tuple[str, dict[str, object], str], ...] = (
    ("misspelt headline", {"headline": "Fresh Deels Friday"}, "BG101"),
    ("missing disclaimer", {"disclaimer": None}, "BG102"),
    ("banned word in headline", {"headline": "Cheapest Deals Friday"}, "BG103"),
    ("extra text in disclaimer", {"disclaimer": "Offer ends Sunday. Not valid with other offers. Call now."}, "BG104"),
    ("logo missing", {"logo": None}, "BG201"),
    ("other logo variant", {"logo": "mono"}, "BG201"),
)
COUNTED = {"acme": "orange", "nordwind": "buoy"}


def background(kind: str, side: int, seed: int) -> Image.Image:
    rng = np.random.default_rng(seed)
    if kind == "flat":
        return Image.new("RGB", (side, side), tuple(int(v) for v in rng.integers(0, 120, 3)))
    if kind == "gradient":
        t = np.linspace(0, 1, side)[None, :, None]
        a, b = rng.integers(0, 100, 3), rng.integers(0, 100, 3)
        return Image.fromarray(((a * (1 - t) + b * t) * np.ones((side, 1, 1))).astype(np.uint8))
    field = np.zeros((side, side, 3))
    for cells, weight in ((4, 0.5), (16, 0.3), (64, 0.2)):
        small = rng.integers(0, 256, (cells, cells, 3)).astype(np.uint8)
        field += weight * np.asarray(Image.fromarray(small).resize((side, side), Image.Resampling.BICUBIC), float)
    return Image.fromarray(np.clip(field + rng.normal(0, 18, field.shape), 0, 255).astype(np.uint8))


def composed(kind: str, side: int, seed: int, brief: Brief, kit: Kit) -> tuple[Image.Image, list[dict[str, object]]]:
    made = compose(background(kind, side, seed), brief, kit)
    return made.image, made.placements


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))]


def tesseract_pass(path: Path) -> float:
    """Seconds for one plain `tesseract IMAGE stdout` (its defaults: page segmentation 3)."""
    started = time.perf_counter()
    subprocess.run(["tesseract", str(path), "stdout"], capture_output=True, check=True)
    return time.perf_counter() - started


def cpu_seconds() -> float:
    """CPU time of this process (every thread) and of its finished children (tesseract): on a
    machine shared by others it moves with their load far less than the wall clock does."""
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=12)
    parser.add_argument("--kit", default="acme")
    parser.add_argument("--side", type=int, default=1024)
    parser.add_argument("--defect-images", type=int, default=3, help="creatives per defect kind (0: none)")
    args = parser.parse_args()
    if shutil.which("tesseract") is None:
        raise SystemExit("tesseract is not installed: the figures are ratios to a tesseract pass")

    kit = load_kit(ROOT / "brand_kits" / args.kit, known_check_ids=known_ids())
    brief = Brief(
        kit=kit.name,
        prompt="three oranges on a wooden table",
        headline="Fresh Deals Friday",
        disclaimer="Offer ends Sunday. Not valid with other offers.",
        logo="primary",
        counts={COUNTED.get(kit.name, "orange"): 3},
        size=(args.side, args.side),
    )
    chosen = enabled_checks(kit, builtin_specs())
    print(f"load average at the start: {load_average()}")
    warm_image, warm_placements = composed("flat", args.side, 999, brief, kit)
    run_checks(Creative.from_pil(warm_image, "warm.png", "png", placements=warm_placements), brief, kit)
    run_checks(Creative.from_pil(warm_image, "warm.png", "png"), brief, kit)

    made = [composed(KINDS[i % 3], args.side, i, brief, kit) for i in range(args.images)]
    placed_ms: list[float] = []
    bare_ms: list[float] = []
    tess_ms: list[float] = []
    tess_cpu: list[float] = []
    bare_cpu: list[float] = []
    statuses: dict[str, dict[str, int]] = {spec.id: {} for spec, _ in chosen}
    per_check: dict[str, list[float]] = {spec.id: [] for spec, _ in chosen}
    with tempfile.TemporaryDirectory() as folder:
        for i, (image, placements) in enumerate(made):
            path = Path(folder) / f"creative-{i}.png"
            image.save(path)
            # Interleaved, so that a change in the machine's load touches all three alike.
            cpu = cpu_seconds()
            tess_ms.append(tesseract_pass(path) * 1000)
            tess_cpu.append((cpu_seconds() - cpu) * 1000)
            started = time.perf_counter()
            report = run_checks(Creative.from_pil(image, path.name, "png", placements=placements), brief, kit)
            placed_ms.append((time.perf_counter() - started) * 1000)
            for check in report.checks:
                statuses[check.id][check.status] = statuses[check.id].get(check.status, 0) + 1
                per_check[check.id].append(check.duration_ms)
            started, cpu = time.perf_counter(), cpu_seconds()
            run_checks(Creative.from_pil(image, path.name, "png"), brief, kit)
            bare_ms.append((time.perf_counter() - started) * 1000)
            bare_cpu.append((cpu_seconds() - cpu) * 1000)

    base = pct(tess_ms, 50)
    print(
        f"brandgate checks speed: {args.images} composed creatives of {args.side}×{args.side}, kit {kit.name},"
        f" brief with headline, disclaimer, logo and counts, {len(chosen)} checks enabled"
    )
    print(f"{'what':<44}{'p50 ms':>9}{'p95 ms':>9}{'× tesseract':>13}")
    print(f"{'plain tesseract pass (same images)':<44}{base:>9.1f}{pct(tess_ms, 95):>9.1f}{1.0:>13.2f}")
    for label, values in (
        ("whole default set, placements known", placed_ms),
        ("whole default set, pixels only", bare_ms),
    ):
        print(f"{label:<44}{pct(values, 50):>9.1f}{pct(values, 95):>9.1f}{pct(values, 50) / base:>13.2f}")
    print("per check, placements known (wall time on the pool, waits for shared work included):")
    for spec, _ in chosen:
        values = per_check[spec.id]
        shown = ", ".join(f"{k} {v}" for k, v in sorted(statuses[spec.id].items()))
        print(f"  {spec.id + ' ' + spec.name:<42}{pct(values, 50):>9.1f}{pct(values, 95):>9.1f}   {shown}")
    print(
        f"ratio (p50 checks / p50 tesseract): placements known {pct(placed_ms, 50) / base:.2f}×,"
        f" pixels only {pct(bare_ms, 50) / base:.2f}× (aim ≤ 1.3×)"
    )
    clean = pct(bare_ms, 50) / base
    clean_cpu = pct(bare_cpu, 50) / pct(tess_cpu, 50)
    print(
        f"CPU time, pixels only: checks p50 {pct(bare_cpu, 50):.1f} ms, tesseract p50 {pct(tess_cpu, 50):.1f} ms,"
        f" {clean_cpu:.2f}×"
    )
    defective = defects(args, brief, kit) if args.defect_images else None
    print(
        f"summary, pixels only (`brandgate check` on a file), wall clock: clean {clean:.2f}×"
        + (f", defective {defective[0]:.2f}×" if defective is not None else "")
        + f"; CPU time: clean {clean_cpu:.2f}×"
        + (f", defective {defective[1]:.2f}×" if defective is not None else "")
        + " of a plain tesseract pass (aim ≤ 1.3× for both)"
    )
    print(f"machine: {len(os.sched_getaffinity(0))} cores, load average {load_average()}")


def load_average() -> str:
    return ", ".join(f"{v:.2f}" for v in os.getloadavg())


def defects(args: argparse.Namespace, brief: Brief, kit: Kit) -> tuple[float, float]:
    """Each defect kind: creatives drawn from a changed brief, checked as files against the real one.

    A banned word in the headline is also asked for by the brief (so only BG103 has cause to
    flag); every other kind is checked against the unchanged brief.
    """
    print(f"defective creatives, pixels only (`brandgate check` on a file), {args.defect_images} each, "
          f"tesseract timed on the same files:")  # fmt: skip
    print(f"{'defect kind':<30}{'p50 ms':>9}{'tess ms':>9}{'× tesseract':>13}{'× in CPU':>10}"
          "   flagged by the target check")  # fmt: skip
    every_check: list[float] = []
    every_tess: list[float] = []
    every_check_cpu: list[float] = []
    every_tess_cpu: list[float] = []
    with tempfile.TemporaryDirectory() as folder:
        for label, changes, target in DEFECTS:
            drawn = brief.model_copy(update=changes)
            judged = drawn if label.startswith("banned") else brief
            check_ms: list[float] = []
            tess_ms: list[float] = []
            check_cpu: list[float] = []
            tess_cpu: list[float] = []
            flagged = 0
            for i in range(args.defect_images):
                image, _ = composed(KINDS[i % 3], args.side, 100 + i, drawn, kit)
                path = Path(folder) / f"defect-{target}-{i}.png"
                image.save(path)
                cpu = cpu_seconds()
                tess_ms.append(tesseract_pass(path) * 1000)
                tess_cpu.append((cpu_seconds() - cpu) * 1000)
                started, cpu = time.perf_counter(), cpu_seconds()
                report = run_checks(Creative.from_pil(image, path.name, "png"), judged, kit)
                check_ms.append((time.perf_counter() - started) * 1000)
                check_cpu.append((cpu_seconds() - cpu) * 1000)
                flagged += any(c.id == target and c.status == "fail" for c in report.checks)
            every_check += check_ms
            every_tess += tess_ms
            every_check_cpu += check_cpu
            every_tess_cpu += tess_cpu
            ratio = pct(check_ms, 50) / pct(tess_ms, 50)
            in_cpu = pct(check_cpu, 50) / pct(tess_cpu, 50)
            print(f"{label:<30}{pct(check_ms, 50):>9.1f}{pct(tess_ms, 50):>9.1f}{ratio:>13.2f}{in_cpu:>10.2f}   "
                  f"{target} {flagged}/{args.defect_images}   (load {os.getloadavg()[0]:.2f})")  # fmt: skip
    ratio = pct(every_check, 50) / pct(every_tess, 50)
    print(f"ratio (p50 checks / p50 tesseract), defective creatives: {ratio:.2f}× "
          f"(clean creatives: the pixels-only ratio above; aim ≤ 1.3× for both)")  # fmt: skip
    return ratio, pct(every_check_cpu, 50) / pct(every_tess_cpu, 50)


if __name__ == "__main__":
    main()
