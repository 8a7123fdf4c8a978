"""CPU benchmark of the generation backend on the offline tiny model: latency under concurrency, steps, batches.

Runs the real Generator (profile, scheduler swap, seeds, metering) on a tiny model built
into a temporary folder. Prints s/image p50/p95/p99 at 1, 2 and 4 concurrent requests (threads
sharing one loaded model and taking turns on it under one device lock, as the local worker pool
does; a request's time includes its wait for the lock), peak RSS, and what the step cap and
the batch size do to time and memory. Figures depend on what else the machine is running:
the load average is printed with them. No aim is set: the tiny model on CPU measures the
Generator's plumbing, not production speed (benchmarks/generation_gpu.py measures that).

    .venv/bin/python benchmarks/generation.py [--quick] [--size 256] [--requests 20]

A p95 or p99 from fewer than 20 requests per level (`--quick` runs 4) is printed as
"n too small", since with so few it is only the slowest request.
"""

from __future__ import annotations

import argparse
import math
import os
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from brandgate.settings import Settings
from pipeline.generation import Generator, derive_seeds, load_model
from pipeline.profiles import Profile, validate_profile
from pipeline.tiny_model import build_tiny_model

PROMPT = "five red apples on a wooden table, studio light"


MIN_FOR_TAIL = 20  # requests per level below which p95 and p99 are not printed


def tail(values: list[float], q: float) -> str:
    """p95/p99 as a cell of the table, or "n too small" from fewer than MIN_FOR_TAIL values."""
    return f"{percentile(values, q):>9.3f}" if len(values) >= MIN_FOR_TAIL else "n too small"


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile (the ⌈q/100 · n⌉-th smallest): p95 of 20 is the 19th, p99 the 20th."""
    ordered = sorted(values)
    rank = max(1, min(len(ordered), math.ceil(q / 100 * len(ordered))))
    return ordered[rank - 1]


def peak_rss_mib() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def make_profile(size: int, steps: int, batch: int) -> Profile:
    return validate_profile(
        {
            "name": "bench",
            "model": "tiny-sd",
            "device": "cpu",
            "dtype": "fp32",
            "scheduler": {"name": "EulerDiscreteScheduler", "config": {"timestep_spacing": "trailing"}},
            "steps": steps,
            "max_steps": 50,
            "guidance_scale": 5.0,
            "resolution": [size, size],
            "max_batch_size": batch,
            "cpu_threads": 2,
        },
        "benchmark profile",
    )


def concurrency_run(
    settings: Settings, profile: Profile, size: int, concurrent: int, requests: int
) -> tuple[list[float], float]:
    """`requests` one-image requests, `concurrent` at a time; returns per-request seconds, wall."""
    latencies: list[float] = []
    lock = threading.Lock()
    # One model call at a time, as the worker pool's device lock allows: a diffusers pipeline
    # called from two threads at once mixes their prompt embeddings and fails.
    device = threading.Lock()
    queue = list(range(requests))

    def worker() -> None:
        generator = Generator(profile, settings)
        while True:
            with lock:
                if not queue:
                    return
                number = queue.pop()
            started = time.perf_counter()
            with device:
                generator.generate(PROMPT, None, derive_seeds(number, 1), (size, size))
            with lock:
                latencies.append(time.perf_counter() - started)

    started = time.perf_counter()
    threads = [threading.Thread(target=worker) for _ in range(concurrent)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return latencies, time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer requests, smaller sweeps")
    parser.add_argument("--size", type=int, default=256, help="square image side (multiple of 8)")
    parser.add_argument(
        "--requests", type=int, default=MIN_FOR_TAIL, help="requests per concurrency level (p95/p99 need 20+)"
    )
    args = parser.parse_args()
    requests = 4 if args.quick else args.requests
    steps = 12  # the built-in preview profile's steps

    with tempfile.TemporaryDirectory(prefix="brandgate-bench-") as tmp:
        models = Path(tmp)
        started = time.perf_counter()
        build_tiny_model(models)
        build_s = time.perf_counter() - started
        settings = Settings(models_dir=models, profiles_dir=models / "profiles", gpu_hourly_usd=2.50)
        profile = make_profile(args.size, steps, 1)
        started = time.perf_counter()
        load_model(profile, settings)
        load_s = time.perf_counter() - started
        Generator(profile, settings).generate(PROMPT, None, [0], (args.size, args.size))  # warm-up

        print("brandgate generation benchmark: tiny model on CPU")
        print(
            f"  cpus {os.cpu_count()}, torch threads per call {profile.cpu_threads}, "
            f"load average {os.getloadavg()[0]:.1f} at start"
        )
        print(
            f"  tiny model build {build_s:.1f} s, load {load_s:.2f} s; {args.size}x{args.size}, "
            f"{steps} steps, guidance {profile.guidance_scale}, one image per request"
        )
        print()
        print("concurrency  requests   p50 s/img   p95 s/img   p99 s/img   throughput img/s")
        for concurrent in (1, 2, 4):
            latencies, wall = concurrency_run(settings, profile, args.size, concurrent, requests)
            print(
                f"{concurrent:>11}  {len(latencies):>8}   {percentile(latencies, 50):>9.3f}   "
                f"{tail(latencies, 95):>9s}   {tail(latencies, 99):>9s}   "
                f"{len(latencies) / wall:>16.2f}"
            )
        print(f"peak RSS after concurrency runs: {peak_rss_mib():.0f} MiB")
        print()

        print(f"step cap: one image, {args.size}x{args.size}, batch 1")
        print("  steps   s/image   $/image at $2.50/h (CPU-seconds)")
        step_list = (4, 12) if args.quick else (4, 12, 20, 30)
        for count in step_list:
            generator = Generator(make_profile(args.size, count, 1), settings)
            times = []
            for seed in range(2):
                [made] = generator.generate(PROMPT, None, [seed], (args.size, args.size))
                times.append(made.wall_seconds)
            per = statistics.median(times)
            print(f"  {count:>5}   {per:>7.3f}   {per * 2.50 / 3600:.6f}")
        print()

        print(f"batch size: 4 images, {args.size}x{args.size}, {steps} steps")
        print("  max batch   s/image   peak RSS of the batch MiB")
        for batch in (1, 2, 4):
            generator = Generator(make_profile(args.size, steps, batch), settings)
            images = generator.generate(PROMPT, None, derive_seeds(9, 4), (args.size, args.size))
            per = sum(m.wall_seconds for m in images) / len(images)
            peak = max(m.peak_memory_bytes for m in images) / 2**20
            print(f"  {batch:>9}   {per:>7.3f}   {peak:>8.0f}")
        print(f"load average at end {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
