"""Benchmark: the whole core suite on the tiny model through the local job queue; prints the run's figures.

    .venv/bin/python benchmarks/regress_suite.py [--suite suites/core.yaml] [--seeds 2] [--concurrency 2]
        [--limit N] [--family F] [--profile preview] [--keep DIR]

Builds a throw-away world (SQLite database, artifact folder, development signing chain, the
tiny model) in a temporary folder, unless --keep names a folder to build it in and leave.
The figures are the run's own summary: the same numbers `brandgate regress run` reports.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MIN_FOR_TAIL = 20  # renders below which the run's p95 and p99 are only its slowest ones
sys.path.insert(0, str(ROOT))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--suite", type=Path, default=ROOT / "suites" / "core.yaml")
    parser.add_argument("--seeds", type=int, default=2)
    parser.add_argument("--concurrency", type=int, default=2)
    parser.add_argument("--limit", type=int)
    parser.add_argument("--family", action="append", default=[])
    parser.add_argument("--profile", default="preview")
    parser.add_argument("--keep", type=Path, help="Build the world here and keep it (reports included).")
    args = parser.parse_args()

    root = args.keep or Path(tempfile.mkdtemp(prefix="bg-regress-bench-"))
    root.mkdir(parents=True, exist_ok=True)

    from brandgate.db.engine import make_engine, make_sessionmaker
    from brandgate.db.schema import upgrade
    from brandgate.regress import actions
    from brandgate.regress.report import summary_lines
    from brandgate.regress.suite import load_suite
    from brandgate.settings import Settings
    from pipeline.keys import issue_chain, write_dev_chain
    from pipeline.tiny_model import build_tiny_model

    settings = Settings(
        database_url=f"sqlite:///{root / 'brandgate.db'}",
        artifacts_dir=root / "artifacts",
        models_dir=root / "models",
        keys_dir=root / "keys",
        regress_reports_dir=root / "reports",
    )
    if not (settings.models_dir / "tiny-sd").exists():
        build_tiny_model(settings.models_dir)
    if not (settings.keys_dir / "signing-chain.pem").exists():
        write_dev_chain(settings.keys_dir, issue_chain())
    upgrade(settings)

    suite = load_suite(args.suite).select(args.family, args.limit)
    engine = make_engine(settings)
    sessions = make_sessionmaker(engine)
    options = actions.options_from(settings, args.seeds, args.concurrency, triggered_by="benchmark")
    started = time.perf_counter()
    view = actions.run_suite(settings, sessions, suite, args.profile, options)
    wall = time.perf_counter() - started
    html_path, json_path = actions.report(settings, view, None)
    engine.dispose()

    s = view.summary
    lat = s["latency_s"]
    print(f"machine: {platform.machine()} {os.cpu_count()} cpu(s), python {platform.python_version()}")
    print(
        f"suite {args.suite.name}: {len(suite.briefs)} briefs, {args.seeds} seed(s), concurrency {args.concurrency},"
        f" profile {args.profile}, status {view.status}"
    )
    print(
        f"renders: {len(view.outputs)} (incl. watchdog repeats), "
        f"measured {s['outputs_measured']}/{s['outputs_expected']}"
    )
    print(f"wall time: {wall:.1f} s (run {s['wall_s']:.1f} s)")
    measured = s["outputs_measured"]
    if measured >= MIN_FOR_TAIL:
        print(f"latency p50/p95/p99 over {measured} renders: {lat['p50']:.3f} / {lat['p95']:.3f} / {lat['p99']:.3f} s")
    else:
        print(
            f"latency p50 over {measured} renders: {lat['p50']:.3f} s; p95/p99: n too small (fewer than {MIN_FOR_TAIL})"
        )
    print(f"images/s: {s['images_per_s']:.3f}")
    print(
        f"acceptance rate: {100 * (s['acceptance_rate'] or 0):.1f}%   pass rate (as expected): "
        f"{100 * (s['pass_rate'] or 0):.1f}%"
    )
    cpu = s["cost_per_usable_image_usd"]
    print(
        f"total cost: ${s['total_cost_usd']:.5f}   cost per usable image: "
        f"{'inf (no usable image)' if cpu is None else f'${cpu:.6f}'}"
    )
    print(
        f"peak memory: {(s['peak_memory_bytes'] or 0) / 2**20:.0f} MiB ({s['memory_kind']})   "
        f"watchdog: {'clean' if s['watchdog_clean'] else 'TRIPPED'}"
    )
    print(
        "pass rate by family: "
        + json.dumps({k: round(v, 3) if v is not None else None for k, v in s["pass_rate_by_family"].items()})
    )
    print("failures by check: " + json.dumps(s["failures"]))
    for line in summary_lines(view)[:1]:
        print(line)
    print(f"report: {html_path}\nsummary: {json_path}")


if __name__ == "__main__":
    main()
