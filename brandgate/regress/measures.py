"""Pure measurements of a regression run: stability, spread, drift, latency, pass rates and cost."""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import cv2
import numpy as np
from numpy.typing import NDArray

from brandgate.regress.suite import DEFINING_CHECKS

Pixels = NDArray[np.uint8]

# SSIM constants of Wang et al. (2004) for 8-bit images: (K1·L)², (K2·L)² with L = 255.
_SSIM_C1 = (0.01 * 255) ** 2
_SSIM_C2 = (0.03 * 255) ** 2
WATCHDOG_CHECK = "pixel-stability"


@dataclass(frozen=True)
class Stability:
    """The same seed rendered twice: how far apart the two renders are."""

    mean_abs_diff: float
    max_abs_diff: float
    tolerance: float

    @property
    def stable(self) -> bool:
        return self.mean_abs_diff <= self.tolerance

    def to_json(self) -> dict[str, Any]:
        return {
            "mean_abs_diff": _finite_or_none(self.mean_abs_diff),
            "max_abs_diff": _finite_or_none(self.max_abs_diff),
            "tolerance": self.tolerance,
            "stable": self.stable,
        }


def _as_float(pixels: Pixels) -> NDArray[np.float64]:
    array = np.asarray(pixels, dtype=np.float64)
    return array[..., None] if array.ndim == 2 else array


def stability(first: Pixels, second: Pixels, tolerance: float) -> Stability:
    """Mean and max absolute difference in 0-255 levels; different shapes are infinitely apart."""
    if tolerance < 0:
        raise ValueError(f"tolerance must be >= 0, got {tolerance}")
    a, b = _as_float(first), _as_float(second)
    if a.shape != b.shape:
        return Stability(math.inf, math.inf, tolerance)
    diff = np.abs(a - b)
    return Stability(float(diff.mean()), float(diff.max()), tolerance)


def mean_abs_difference(image: Pixels, reference: Pixels) -> float | None:
    """Mean absolute difference in 0-255 levels; None when the sizes differ (nothing comparable)."""
    a, b = _as_float(image), _as_float(reference)
    if a.shape != b.shape:
        return None
    return float(np.abs(a - b).mean())


def ssim(image: Pixels, reference: Pixels) -> float | None:
    """Structural similarity of luminance, 11-pixel Gaussian window (σ 1.5); 1.0 is identical."""
    a, b = _luminance(image), _luminance(reference)
    if a.shape != b.shape:
        return None

    def blur(x: NDArray[np.float64]) -> NDArray[np.float64]:
        blurred = cv2.GaussianBlur(x, (11, 11), 1.5, borderType=cv2.BORDER_REFLECT)
        return np.asarray(blurred, dtype=np.float64)

    mu_a, mu_b = blur(a), blur(b)
    var_a = blur(a * a) - mu_a * mu_a
    var_b = blur(b * b) - mu_b * mu_b
    cov = blur(a * b) - mu_a * mu_b
    numerator = (2 * mu_a * mu_b + _SSIM_C1) * (2 * cov + _SSIM_C2)
    denominator = (mu_a * mu_a + mu_b * mu_b + _SSIM_C1) * (var_a + var_b + _SSIM_C2)
    return float(np.mean(numerator / denominator))


def _luminance(pixels: Pixels) -> NDArray[np.float64]:
    array = np.asarray(pixels)
    if array.ndim == 3 and array.shape[2] >= 3:
        rgb = array[..., :3].astype(np.float64)
        return np.asarray(rgb @ np.array([0.299, 0.587, 0.114]), dtype=np.float64)
    if array.ndim == 3:
        return array[..., 0].astype(np.float64)
    return array.astype(np.float64)


def per_pixel_spread(images: Sequence[Pixels]) -> float | None:
    """PSD: per-pixel standard deviation across seeds, averaged; None below 2 same-size images."""
    arrays = [_as_float(i) for i in images]
    if len(arrays) < 2 or any(a.shape != arrays[0].shape for a in arrays):
        return None
    return float(np.std(np.stack(arrays), axis=0).mean())


def percentiles(values: Iterable[float]) -> dict[str, float | None]:
    """p50/p95/p99 with linear interpolation; None for each when there are no values."""
    data = np.asarray(list(values), dtype=np.float64)
    if data.size == 0:
        return {"p50": None, "p95": None, "p99": None}
    p50, p95, p99 = np.percentile(data, [50, 95, 99])
    return {"p50": float(p50), "p95": float(p95), "p99": float(p99)}


def rate(part: int, whole: int) -> float | None:
    """part/whole, or None when there is nothing to divide by."""
    return part / whole if whole > 0 else None


def cost_per_usable_image(total_cost_usd: float, usable_images: int) -> float | None:
    """Total cost ÷ passed images; None (shown as ∞) when none is usable, never a silent 0."""
    if usable_images <= 0:
        return None
    return total_cost_usd / usable_images


@dataclass(frozen=True)
class CheckOutcome:
    id: str
    family: str  # check family: text, logo, colour, counts, safety, technical
    status: str  # pass, fail, skip, unverified, error


@dataclass(frozen=True)
class Output:
    """One render of one brief at one seed, as the run saw it."""

    brief_id: str
    family: str
    expect: str
    seed_index: int
    repeat: int  # 0: the render measured; 1: the watchdog's second render of the same seed
    state: str  # done, failed, refused (at intake), cancelled, missing (never finished: the run is incomplete)
    seed: int | None = None
    request_id: str | None = None
    image_id: str | None = None
    verdict: str | None = None  # pass, unverified, flag, reject, approved, rejected; None without an image
    artifact_path: str | None = None
    latency_s: float | None = None
    cost_usd: float = 0.0
    peak_memory_bytes: int | None = None
    memory_kind: str | None = None
    checks: tuple[CheckOutcome, ...] = ()
    failure_reason: str | None = None
    stability: Stability | None = None
    drift_mad: float | None = None
    drift_ssim: float | None = None

    @property
    def unstable(self) -> bool:
        return self.stability is not None and not self.stability.stable

    @property
    def final_verdict(self) -> str | None:
        """The verdict after the watchdog: an unstable render is rejected, whatever the checks."""
        if self.unstable:
            return "reject"
        return self.verdict

    @property
    def failed_check_ids(self) -> tuple[str, ...]:
        ids = tuple(c.id for c in self.checks if c.status in ("fail", "error"))
        return (*ids, WATCHDOG_CHECK) if self.unstable else ids

    @property
    def unmeasured(self) -> str | None:
        """Why this render says nothing about its family ("BG401 unverified"), or None when it does.

        Only an image is judged this way: a failed job or a screened prompt is a measured outcome.
        """
        if self.image_id is None or self.state != "done":
            return None
        statuses = {c.id: c.status for c in self.checks}
        for check_id in DEFINING_CHECKS.get(self.family, ()):
            status = statuses.get(check_id, "not run")
            if status not in ("pass", "fail", "error"):
                return f"{check_id} {status}"
        return None

    @property
    def screened_out(self) -> bool:
        """Stopped before generation by prompt screening (BG501)."""
        if any(c.id == "BG501" and c.status == "fail" for c in self.checks):
            return True
        return self.image_id is None and "BG501" in (self.failure_reason or "")

    @property
    def usable(self) -> bool:
        """Passed every check with no human rework (an approval after a flag is rework)."""
        return self.state == "done" and self.final_verdict == "pass"

    @property
    def as_expected(self) -> bool:
        """What family pass rates count: usable, or stopped by screening for `expect: reject`."""
        if self.expect == "reject":
            stopped = self.state in ("done", "failed", "refused") and self.screened_out
            return stopped and self.verdict in (None, "reject")
        return self.usable


@dataclass
class RunSummary:
    """Everything a report, a comparison or the gate reads about one run."""

    outputs_expected: int
    outputs_measured: int
    complete: bool
    wall_s: float
    latency_s: dict[str, float | None]
    images_per_s: float | None
    peak_memory_bytes: int | None
    memory_kind: str | None
    pass_rate: float | None
    pass_rate_by_family: dict[str, float | None]  # None: not measured (see unmeasured_by_family)
    pass_rate_by_check_family: dict[str, float | None]
    acceptance_rate: float | None
    total_cost_usd: float
    usable_images: int
    cost_per_usable_image_usd: float | None
    watchdog_clean: bool
    cost_per_image_usd: float | None = None  # every image made, usable or not
    unstable: list[dict[str, Any]] = field(default_factory=list)
    psd_by_brief: dict[str, float | None] = field(default_factory=dict)
    drift: dict[str, float | None] = field(default_factory=dict)
    failures: dict[str, int] = field(default_factory=dict)
    # family → why its pass rate is not measured ("BG401 unverified in 4 of 4 renders")
    unmeasured_by_family: dict[str, str] = field(default_factory=dict)
    unmeasured_by_check_family: dict[str, str] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "outputs_expected": self.outputs_expected,
            "outputs_measured": self.outputs_measured,
            "complete": self.complete,
            "wall_s": round(self.wall_s, 3),
            "latency_s": self.latency_s,
            "images_per_s": self.images_per_s,
            "peak_memory_bytes": self.peak_memory_bytes,
            "memory_kind": self.memory_kind,
            "pass_rate": self.pass_rate,
            "pass_rate_by_family": self.pass_rate_by_family,
            "pass_rate_by_check_family": self.pass_rate_by_check_family,
            "acceptance_rate": self.acceptance_rate,
            "total_cost_usd": self.total_cost_usd,
            "usable_images": self.usable_images,
            "cost_per_usable_image_usd": self.cost_per_usable_image_usd,
            "cost_per_image_usd": self.cost_per_image_usd,
            "watchdog_clean": self.watchdog_clean,
            "unstable": self.unstable,
            "psd_by_brief": self.psd_by_brief,
            "drift": self.drift,
            "failures": self.failures,
            "unmeasured_by_family": self.unmeasured_by_family,
            "unmeasured_by_check_family": self.unmeasured_by_check_family,
        }


def summarise(
    outputs: Sequence[Output],
    *,
    outputs_expected: int,
    wall_s: float,
    psd_by_brief: Mapping[str, float | None] | None = None,
) -> RunSummary:
    """Aggregate a run's outputs. Only first renders (repeat 0) count for rates, cost and latency;
    throughput counts every image made, the watchdog's second renders included."""
    measured = [o for o in outputs if o.repeat == 0]
    # a cancelled render was not measured either: the run cannot vouch for it
    finished = [o for o in measured if o.state not in ("missing", "cancelled")]
    complete = len(finished) == outputs_expected and all(o.state not in ("missing", "cancelled") for o in outputs)

    latencies = [o.latency_s for o in finished if o.latency_s is not None]
    images = [o for o in finished if o.image_id is not None]
    made = sum(1 for o in outputs if o.image_id is not None)
    memory = [o for o in outputs if o.peak_memory_bytes is not None]
    peak = max(memory, key=lambda o: o.peak_memory_bytes or 0) if memory else None

    by_family: dict[str, list[Output]] = defaultdict(list)
    for o in measured:
        by_family[o.family].append(o)
    family_rates: dict[str, float | None] = {}
    unmeasured_families: dict[str, str] = {}
    for fam, outs in sorted(by_family.items()):
        undecided = [o.unmeasured for o in outs if o.unmeasured is not None]
        if undecided:
            # A rate over the renders that happened to be decidable would flatter the family.
            family_rates[fam] = None
            unmeasured_families[fam] = _not_measured(undecided, len(outs))
        else:
            family_rates[fam] = rate(sum(o.as_expected for o in outs), len(outs))

    applicable: dict[str, int] = defaultdict(int)
    clean: dict[str, int] = defaultdict(int)
    undecided_checks: dict[str, list[str]] = defaultdict(list)
    images_with: dict[str, int] = defaultdict(int)
    for o in images:
        families: dict[str, list[CheckOutcome]] = defaultdict(list)
        for c in o.checks:
            if c.status != "skip":
                families[c.family].append(c)
        for fam, checks in families.items():
            images_with[fam] += 1
            unverified = [c.id for c in checks if c.status == "unverified"]
            if unverified:
                undecided_checks[fam].append(f"{'+'.join(unverified)} unverified")
                continue
            applicable[fam] += 1
            clean[fam] += all(c.status == "pass" for c in checks)
    check_family_rates: dict[str, float | None] = {}
    unmeasured_check_families: dict[str, str] = {}
    for fam in sorted(images_with):
        if undecided_checks[fam]:
            check_family_rates[fam] = None
            unmeasured_check_families[fam] = _not_measured(undecided_checks[fam], images_with[fam])
        else:
            check_family_rates[fam] = rate(clean[fam], applicable[fam])

    wanted = [o for o in measured if o.expect == "pass"]
    usable = sum(o.usable for o in wanted)
    total_cost = float(sum(o.cost_usd for o in measured))
    unstable = [
        {"brief_id": o.brief_id, "seed": o.seed, **o.stability.to_json()}
        for o in outputs
        if o.stability is not None and not o.stability.stable
    ]
    failures: dict[str, int] = defaultdict(int)
    for o in measured:
        if o.expect == "reject" and o.as_expected:
            continue  # screening stopped what it had to stop: a success, not a failure
        for check_id in o.failed_check_ids:
            failures[check_id] += 1
        if o.state == "failed" and not o.screened_out:
            failures["job-failed"] += 1
        if o.state in ("missing", "cancelled"):
            failures[o.state] += 1

    drift_mad = [o.drift_mad for o in images if o.drift_mad is not None]
    drift_ssim = [o.drift_ssim for o in images if o.drift_ssim is not None]

    return RunSummary(
        outputs_expected=outputs_expected,
        outputs_measured=len(finished),
        complete=complete,
        wall_s=wall_s,
        latency_s=percentiles(latencies),
        images_per_s=(made / wall_s) if wall_s > 0 else None,
        peak_memory_bytes=peak.peak_memory_bytes if peak else None,
        memory_kind=peak.memory_kind if peak else None,
        pass_rate=rate(sum(o.as_expected for o in measured), len(measured)),
        pass_rate_by_family=family_rates,
        pass_rate_by_check_family=check_family_rates,
        acceptance_rate=rate(usable, len(wanted)),
        total_cost_usd=total_cost,
        usable_images=usable,
        cost_per_usable_image_usd=cost_per_usable_image(total_cost, usable),
        cost_per_image_usd=cost_per_usable_image(total_cost, len(images)),
        watchdog_clean=not unstable,
        unstable=unstable,
        psd_by_brief=dict(psd_by_brief or {}),
        drift={
            "images_compared": len(drift_mad),
            "mean_abs_diff": float(np.mean(drift_mad)) if drift_mad else None,
            "max_abs_diff": float(np.max(drift_mad)) if drift_mad else None,
            "mean_ssim": float(np.mean(drift_ssim)) if drift_ssim else None,
            "min_ssim": float(np.min(drift_ssim)) if drift_ssim else None,
        },
        failures=dict(sorted(failures.items())),
        unmeasured_by_family=unmeasured_families,
        unmeasured_by_check_family=unmeasured_check_families,
    )


def _not_measured(reasons: Sequence[str], of: int) -> str:
    """'BG401 unverified in 3 of 4 renders' (the commonest reason first)."""
    counted: dict[str, int] = defaultdict(int)
    for reason in reasons:
        counted[reason] += 1
    told = ", ".join(f"{why} in {n} of {of}" for why, n in sorted(counted.items(), key=lambda kv: -kv[1]))
    return f"not measured: {told} render(s)"


def _finite_or_none(value: float) -> float | None:
    return value if math.isfinite(value) else None
