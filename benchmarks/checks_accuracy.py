"""Accuracy of every check on our labelled set: recall on its defects, false flags on clean.

    .venv/bin/python -m benchmarks.checks_accuracy [--n 384] [--seed 0] [--only BG201,BG301]

Runs all enabled checks of each item's kit (with the kit's policy.yaml) on images composed by
benchmarks/evalset.py. Per check and background kind it prints recall (share of the items
carrying that check's defect on which it reports `fail`) and the false-flag rate (share of clean
items on which it reports `fail` or `error`), then lists every miss and false flag.
"""

from __future__ import annotations

import argparse
import collections
import time

from benchmarks.evalset import KINDS, eval_items, kit
from policies.checks import builtin_specs
from policies.creative import Creative
from policies.engine import enabled_checks, run_one


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=384)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--only", default="", help="comma-separated check IDs")
    args = parser.parse_args()
    only = {s.strip() for s in args.only.split(",") if s.strip()}

    hits: dict[tuple[str, str], list[int]] = collections.defaultdict(lambda: [0, 0])
    false: dict[tuple[str, str], list[int]] = collections.defaultdict(lambda: [0, 0])
    misses: list[str] = []
    started = time.perf_counter()
    items = eval_items(args.n, args.seed)
    for item in items:
        creative = Creative(item.name, item.render())
        k = kit(item.kit_name)
        for spec, options in enabled_checks(k, builtin_specs()):
            if only and spec.id not in only:
                continue
            if item.defect is None:
                result = run_one(spec, creative, item.brief, k, options)
                bad = result.status in ("fail", "error")
                false[(spec.id, item.kind)][0] += 1
                false[(spec.id, item.kind)][1] += bad
                if bad:
                    misses.append(
                        f"false {result.status:5s} {spec.id} {item.name}: {result.message}"
                    )
            elif item.expected == spec.id:
                result = run_one(spec, creative, item.brief, k, options)
                hit = result.status == "fail"
                hits[(spec.id, item.kind)][0] += 1
                hits[(spec.id, item.kind)][1] += hit
                if not hit:
                    misses.append(
                        f"miss  {result.status:5s} {spec.id} {item.name}: {result.message}"
                    )
    elapsed = time.perf_counter() - started

    print(f"{len(items)} images (seed {args.seed}), {elapsed:.0f} s")
    print(f"{'check':6s} {'kind':9s} {'recall':>14s} {'false flags':>16s}")
    ids = sorted({key[0] for key in list(hits) + list(false)})
    for check_id in ids:
        for kind in (*KINDS, "all"):
            kinds = KINDS if kind == "all" else (kind,)
            n_hit = sum(hits[(check_id, k)][0] for k in kinds)
            got = sum(hits[(check_id, k)][1] for k in kinds)
            n_clean = sum(false[(check_id, k)][0] for k in kinds)
            bad = sum(false[(check_id, k)][1] for k in kinds)
            recall = f"{got / n_hit:.3f} ({got}/{n_hit})" if n_hit else "—"
            rate = f"{bad / n_clean:.3f} ({bad}/{n_clean})" if n_clean else "—"
            print(f"{check_id:6s} {kind:9s} {recall:>14s} {rate:>16s}")
    print(f"\nmisses and false flags ({len(misses)}):")
    for line in misses:
        print("  " + line[:200])


if __name__ == "__main__":
    main()
