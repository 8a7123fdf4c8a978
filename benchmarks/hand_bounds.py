"""BG402's hand bounds measured on the photographs in the repository, printed beside the ones in code.

    .venv/bin/python -m benchmarks.hand_bounds [--photos tests/fixtures/photos]

BG402 (policies/checks/bg402_anatomy.py) fails a hand whose landmark fit is not confident
(presence under `min_presence`) or whose proportions no human hand has (a finger longer than
`max_finger_ratio` times the palm, a palm wider than `max_palm_width_ratio` times its length).
Its docstring says the bounds are the extremes measured on real photographs of hands with about
20 % added. This finds the hands on every photograph of the folder exactly as BG402 does (the
palm detector, then the hand-landmark model beyond each wrist the pose model places, a hand found
both ways counted once, confirmed at presence ≥ 0.5), prints each hand's presence and ratios,
then the extremes, the bounds the same 20 % margin gives, and the defaults the check's code
holds, and says for each whether a real hand in the folder breaks the bound in code (that would
be a false flag on a real photograph). The photographs and their sources: tests/fixtures/photos
and its SOURCES.md. Nothing is changed: the bounds in code stay as they are.
"""

from __future__ import annotations

import argparse
import ast
import os
import time
from pathlib import Path

import numpy as np
from PIL import Image

from policies.checks import bg402_anatomy
from policies.checks.bg402_anatomy import DEFAULT_HAND_MODELS, MIN_HAND_PRESENCE, _same_hand, hand_ratios
from policies.hands import hand_models

ROOT = Path(__file__).resolve().parent.parent
MARGIN = 1.2  # "the bounds add about 20 %" (BG402's docstring)
BOUNDS = ("min_presence", "max_finger_ratio", "max_palm_width_ratio")


def defaults_in_code() -> dict[str, float]:
    """The defaults BG402 reads its bounds with (`number(options, ID, "name", default)`), from its source."""
    found: dict[str, float] = {}
    tree = ast.parse(Path(bg402_anatomy.__file__).read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "number" and len(node.args) == 4:
            name, default = node.args[2], node.args[3]
            if isinstance(name, ast.Constant) and name.value in BOUNDS and isinstance(default, ast.Constant):
                found[str(name.value)] = float(default.value)
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--photos", type=Path, default=ROOT / "tests" / "fixtures" / "photos")
    args = parser.parse_args()
    if not args.photos.is_dir():
        parser.error(f"--photos {args.photos} is not a folder")
    models = hand_models(DEFAULT_HAND_MODELS)
    started = time.perf_counter()
    presences: list[float] = []
    fingers: list[float] = []
    widths: list[float] = []
    print(
        f"{'photograph':22s} {'hand':>4s} {'found by':>8s} {'presence':>9s} {'longest finger':>18s} {'palm width':>11s}"
    )
    photos = sorted(p for p in args.photos.iterdir() if p.suffix.lower() in (".jpg", ".jpeg", ".png"))
    for path in photos:
        with Image.open(path) as image:
            rgb = np.ascontiguousarray(np.asarray(image.convert("RGB")))
        poses = models.poses(rgb) if models.has_pose else []
        wrists = [w for pose in poses for w in pose.wrists if w.in_view]
        palms = models.hands(rgb)
        beyond = [h for h in models.hands_at_wrists(rgb, wrists) if not _same_hand(h, palms)]
        found = [(h, "palm") for h in palms] + [(h, "wrist") for h in beyond]
        confirmed = [(h, how) for h, how in found if h.presence >= MIN_HAND_PRESENCE]
        if not confirmed:
            print(f"{path.name:22s} {'—':>4s}  no hand confirmed ({len(found)} candidates under presence 0.5)")
        for number, (hand, how) in enumerate(confirmed, 1):
            ratios = hand_ratios(hand)
            name, longest = max(ratios["finger_ratios"].items(), key=lambda kv: kv[1])
            presences.append(hand.presence)
            fingers.append(longest)
            widths.append(ratios["palm_width_ratio"])
            print(
                f"{path.name:22s} {number:>4d} {how:>8s} {hand.presence:>9.3f} {f'{longest:.3f} ({name})':>18s}"
                f" {ratios['palm_width_ratio']:>11.3f}"
            )
    elapsed = time.perf_counter() - started
    one, five, fifteen = os.getloadavg()
    where = args.photos.resolve()
    shown = where.relative_to(ROOT) if where.is_relative_to(ROOT) else where
    print(f"\n{len(presences)} hands confirmed on {len(photos)} photographs of {shown}, {elapsed:.0f} s;"
          f" machine: {os.cpu_count()} cores, load average {one:.2f}, {five:.2f}, {fifteen:.2f}")  # fmt: skip
    if not presences:
        print("no hand confirmed: nothing to derive bounds from")
        return
    code = defaults_in_code()
    measured = {
        "min_presence": min(presences),
        "max_finger_ratio": max(fingers),
        "max_palm_width_ratio": max(widths),
    }
    derived = {
        "min_presence": measured["min_presence"] / MARGIN,
        "max_finger_ratio": measured["max_finger_ratio"] * MARGIN,
        "max_palm_width_ratio": measured["max_palm_width_ratio"] * MARGIN,
    }
    print(
        f"\n{'bound':22s} {'extreme measured':>17s} {'± 20 % margin':>14s} {'in code':>8s}  every hand here within it?"
    )
    for bound in BOUNDS:
        in_code = code.get(bound)
        if in_code is None:
            print(
                f"{bound:22s} {measured[bound]:>17.3f} {derived[bound]:>14.3f} {'?':>8s}  default not found in the code"
            )
            continue
        if bound == "min_presence":
            breaking = sum(p < in_code for p in presences)
        else:
            breaking = sum(v > in_code for v in (fingers if bound == "max_finger_ratio" else widths))
        verdict = "yes" if not breaking else f"no: {breaking} of {len(presences)} real hands break it"
        print(f"{bound:22s} {measured[bound]:>17.3f} {derived[bound]:>14.3f} {in_code:>8g}  {verdict}")


if __name__ == "__main__":
    main()
