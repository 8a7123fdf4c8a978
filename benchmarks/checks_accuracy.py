"""Accuracy of every check on our labelled set: recall on its defects, false flags on clean.

    .venv/bin/python -m benchmarks.checks_accuracy [--n 384] [--seed 0] [--only BG201,BG301]
                                                   [--no-photos | --photos-only]

Runs all enabled checks of each item's kit (with the kit's policy.yaml) on images composed by
benchmarks/evalset.py, and on benchmarks/photoset.py: real photographs that installed packages
ship (kind `real-photo`, clean) and made-up degenerate backgrounds (kind `degenerate`, BG603 must
fail), both branded by pipeline.compose. Per check and kind it prints recall (share of the items
carrying that check's defect on which it reports `fail`), the false-flag rate (share of clean
items on which it reports `fail` or `error`) and the unverified rate (share of the runs on which
it reports `unverified`: it applied but could not decide), then lists every miss and false flag.
"""

from __future__ import annotations

import argparse
import collections
import time
from typing import Any

from benchmarks.evalset import KINDS, eval_items, kit
from benchmarks.photoset import photo_items
from policies.checks import builtin_specs
from policies.creative import Creative
from policies.engine import enabled_checks, run_one


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=384)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--only", default="", help="comma-separated check IDs")
    photos = parser.add_mutually_exclusive_group()
    photos.add_argument("--no-photos", action="store_true", help="leave out the real photographs")
    photos.add_argument("--photos-only", action="store_true", help="only the photographs and degenerate set")
    args = parser.parse_args()
    only = {s.strip() for s in args.only.split(",") if s.strip()}

    hits: dict[tuple[str, str], list[int]] = collections.defaultdict(lambda: [0, 0])
    false: dict[tuple[str, str], list[int]] = collections.defaultdict(lambda: [0, 0])
    unverified: dict[tuple[str, str], list[int]] = collections.defaultdict(lambda: [0, 0])
    misses: list[str] = []
    started = time.perf_counter()
    items: list[Any] = [] if args.photos_only else list(eval_items(args.n, args.seed))
    if not args.no_photos:
        items += photo_items(args.seed)
    kinds = tuple(dict.fromkeys([*KINDS, *(item.kind for item in items)]))
    for item in items:
        creative = Creative(item.name, item.render())
        k = kit(item.kit_name)
        for spec, options in enabled_checks(k, builtin_specs()):
            if only and spec.id not in only:
                continue
            if item.defect is None:
                result = run_one(spec, creative, item.brief, k, options)
                _count_unverified(unverified, spec.id, item.kind, result.status)
                bad = result.status in ("fail", "error")
                false[(spec.id, item.kind)][0] += 1
                false[(spec.id, item.kind)][1] += bad
                if bad:
                    misses.append(
                        f"false {result.status:5s} {spec.id} {item.name}: {result.message}"
                    )
            elif item.expected == spec.id:
                result = run_one(spec, creative, item.brief, k, options)
                _count_unverified(unverified, spec.id, item.kind, result.status)
                hit = result.status == "fail"
                hits[(spec.id, item.kind)][0] += 1
                hits[(spec.id, item.kind)][1] += hit
                if not hit:
                    misses.append(
                        f"miss  {result.status:5s} {spec.id} {item.name}: {result.message}"
                    )
    elapsed = time.perf_counter() - started

    print(f"{len(items)} images (seed {args.seed}), {elapsed:.0f} s")
    print(f"{'check':6s} {'kind':10s} {'recall':>16s} {'false flags':>16s} {'unverified':>16s}")
    ids = sorted({key[0] for key in list(hits) + list(false)})
    for check_id in ids:
        for kind in (*kinds, "all"):
            chosen = kinds if kind == "all" else (kind,)
            n_hit = sum(hits[(check_id, k)][0] for k in chosen)
            got = sum(hits[(check_id, k)][1] for k in chosen)
            n_clean = sum(false[(check_id, k)][0] for k in chosen)
            bad = sum(false[(check_id, k)][1] for k in chosen)
            runs = sum(unverified[(check_id, k)][0] for k in chosen)
            undecided = sum(unverified[(check_id, k)][1] for k in chosen)
            if not (n_hit or n_clean):
                continue
            recall = f"{got / n_hit:.3f} ({got}/{n_hit})" if n_hit else "—"
            rate = f"{bad / n_clean:.3f} ({bad}/{n_clean})" if n_clean else "—"
            share = f"{undecided / runs:.3f} ({undecided}/{runs})" if runs else "—"
            print(f"{check_id:6s} {kind:10s} {recall:>16s} {rate:>16s} {share:>16s}")
    clean_items = [item for item in items if item.defect is None]
    flagged = {m.split()[3] for m in misses if m.startswith("false")}
    print(f"\nclean items with any false flag: {len(flagged)}/{len(clean_items)}")
    print(f"\nmisses and false flags ({len(misses)}):")
    for line in misses:
        print("  " + line[:200])


def _count_unverified(
    table: dict[tuple[str, str], list[int]], check_id: str, kind: str, status: str
) -> None:
    table[(check_id, kind)][0] += 1
    table[(check_id, kind)][1] += status == "unverified"


if __name__ == "__main__":
    main()
