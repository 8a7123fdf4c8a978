"""benchmarks/generation_gpu.py's smallest shape runs on the CPU, through raw diffusers and the Generator."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]


def test_generation_benchmark_runs_its_smallest_shape_on_the_cpu() -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        [sys.executable, "benchmarks/generation_gpu.py", "--device", "cpu", "--cpu-threads", "1"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    rows = [line for line in done.stdout.splitlines() if line.startswith("tiny-sd shape")]
    assert len(rows) == 1, done.stdout
    # Generator s/image, s/batch, peak, $/image, raw diffusers s/image, ratio: all measured
    figures = re.findall(r"\d+\.\d+", rows[0].split("²", 1)[1])
    assert len(figures) == 6, rows[0]
    assert "brandgate Generator / raw diffusers on CPU" in done.stdout


def _benchmark_module() -> object:
    import importlib.util

    spec = importlib.util.spec_from_file_location("generation_gpu", ROOT / "benchmarks" / "generation_gpu.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up while being made
    spec.loader.exec_module(module)
    return module


def test_the_a100_anchor_is_a_verdict_only_on_an_a100() -> None:
    bench: Any = _benchmark_module()
    other = bench.anchor_comparison("NVIDIA H100 80GB HBM3", 1.0)
    assert other.startswith("reference only, not compared") and "beat" not in other and "H100" in other
    assert "does not beat" in bench.anchor_comparison("NVIDIA A100-SXM4-80GB", 9.0)
    assert " beats " in bench.anchor_comparison("NVIDIA A100-SXM4-80GB", 1.0)
