"""The run's measurements on hand-made pixel arrays and outputs with known answers."""

from __future__ import annotations

import math

import numpy as np
import pytest

from brandgate.regress.measures import (
    CheckOutcome,
    Output,
    cost_per_usable_image,
    mean_abs_difference,
    per_pixel_spread,
    percentiles,
    ssim,
    stability,
    summarise,
)


def _noise(seed: int, shape: tuple[int, ...] = (32, 32, 3)) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, shape, dtype=np.uint8)


def test_stability_identical_renders_are_stable_and_a_changed_one_is_not() -> None:
    image = _noise(1)
    same = stability(image, image.copy(), tolerance=0.0)
    assert same.stable and same.mean_abs_diff == 0.0 and same.max_abs_diff == 0.0
    nudged = image.astype(np.int16)
    nudged[0, 0, 0] = (nudged[0, 0, 0] + 128) % 256
    small = stability(image, nudged.astype(np.uint8), tolerance=0.5)
    assert small.stable and small.max_abs_diff == 128.0
    other = stability(image, _noise(2), tolerance=0.5)
    assert not other.stable and other.mean_abs_diff > 50


def test_stability_of_different_sizes_is_never_stable() -> None:
    result = stability(_noise(1), _noise(1, (16, 16, 3)), tolerance=1000.0)
    assert not result.stable and math.isinf(result.mean_abs_diff)
    assert result.to_json()["mean_abs_diff"] is None
    with pytest.raises(ValueError):
        stability(_noise(1), _noise(1), tolerance=-1)


def test_psd_is_zero_for_identical_seeds_and_grows_with_spread() -> None:
    image = _noise(3)
    assert per_pixel_spread([image, image]) == 0.0
    two = np.zeros((4, 4), dtype=np.uint8), np.full((4, 4), 10, dtype=np.uint8)
    assert per_pixel_spread(list(two)) == pytest.approx(5.0)
    assert per_pixel_spread([image]) is None
    assert per_pixel_spread([image, _noise(3, (8, 8, 3))]) is None


def test_ssim_and_mad_against_known_cases() -> None:
    image = _noise(4)
    assert ssim(image, image) == pytest.approx(1.0)
    assert mean_abs_difference(image, image) == 0.0
    flat = np.zeros_like(image)
    assert mean_abs_difference(flat, np.full_like(image, 7)) == 7.0
    noisy = ssim(image, _noise(5))
    assert noisy is not None and noisy < 0.2
    blurred = np.clip(image.astype(np.int16) + 3, 0, 255).astype(np.uint8)
    close = ssim(image, blurred)
    assert close is not None and noisy < close <= 1.0
    assert ssim(image, _noise(4, (8, 8, 3))) is None
    assert mean_abs_difference(image, _noise(4, (8, 8, 3))) is None


def test_percentiles_and_empty() -> None:
    values = [float(v) for v in range(1, 101)]
    result = percentiles(values)
    assert result["p50"] == pytest.approx(50.5)
    assert result["p95"] == pytest.approx(95.05)
    assert result["p99"] == pytest.approx(99.01)
    assert percentiles([]) == {"p50": None, "p95": None, "p99": None}


def test_cost_per_usable_image_never_divides_by_zero() -> None:
    assert cost_per_usable_image(3.0, 4) == 0.75
    assert cost_per_usable_image(3.0, 0) is None
    assert cost_per_usable_image(0.0, 0) is None


def _out(brief: str, family: str, verdict: str | None, **kw: object) -> Output:
    base: dict[str, object] = {
        "brief_id": brief,
        "family": family,
        "expect": "pass",
        "seed_index": 0,
        "repeat": 0,
        "state": "done",
        "image_id": f"img-{brief}-{kw.get('seed_index', 0)}" if verdict else None,
        "verdict": verdict,
        "latency_s": 1.0,
        "cost_usd": 0.1,
    }
    base.update(kw)
    return Output(**base)  # type: ignore[arg-type]


def test_summary_rates_cost_and_watchdog() -> None:
    text_fail = (CheckOutcome("BG101", "text", "fail"), CheckOutcome("BG601", "technical", "pass"))
    clean = (CheckOutcome("BG101", "text", "pass"), CheckOutcome("BG601", "technical", "pass"))
    counted = (CheckOutcome("BG401", "counts", "pass"),)
    outputs = [
        _out("t1", "typography", "pass", checks=clean, latency_s=1.0),
        _out("t2", "typography", "flag", checks=text_fail, latency_s=2.0),
        _out("c1", "counting", "pass", checks=clean + counted, latency_s=3.0),
        _out("c1", "counting", "approved", checks=text_fail + counted, seed_index=1, latency_s=4.0),
        _out(
            "e1",
            "edge-cases",
            None,
            expect="reject",
            state="done",
            checks=(CheckOutcome("BG501", "safety", "fail"),),
            cost_usd=0.0,
            latency_s=0.1,
        ),
    ]
    summary = summarise(outputs, outputs_expected=5, wall_s=2.0)
    assert summary.complete
    assert summary.pass_rate_by_family == {"counting": 0.5, "edge-cases": 1.0, "typography": 0.5}
    assert summary.pass_rate_by_check_family == {"counts": 1.0, "technical": 1.0, "text": 0.5}
    assert summary.unmeasured_by_family == {} and summary.unmeasured_by_check_family == {}
    # an approval after a flag is human rework: not accepted
    assert summary.acceptance_rate == pytest.approx(2 / 4)
    assert summary.usable_images == 2
    assert summary.total_cost_usd == pytest.approx(0.4)
    assert summary.cost_per_usable_image_usd == pytest.approx(0.2)
    assert summary.images_per_s == pytest.approx(2.0)
    assert summary.watchdog_clean
    assert summary.failures == {"BG101": 2}


def test_a_family_whose_defining_check_did_not_decide_is_not_measured() -> None:
    unverified = (CheckOutcome("BG401", "counts", "unverified"), CheckOutcome("BG601", "technical", "pass"))
    counted = (CheckOutcome("BG401", "counts", "pass"), CheckOutcome("BG601", "technical", "pass"))
    outputs = [
        # a model that draws no apples at all: nothing can count them, nothing passes on trust
        _out("c1", "counting", "unverified", checks=unverified),
        _out("c1", "counting", "pass", checks=counted, seed_index=1),
        _out("t1", "typography", "pass", checks=(CheckOutcome("BG101", "text", "pass"),)),
    ]
    summary = summarise(outputs, outputs_expected=3, wall_s=1.0)
    assert summary.pass_rate_by_family == {"counting": None, "typography": 1.0}
    assert summary.unmeasured_by_family == {"counting": "not measured: BG401 unverified in 1 of 2 render(s)"}
    assert summary.pass_rate_by_check_family["counts"] is None
    assert summary.pass_rate_by_check_family["technical"] == 1.0
    assert summary.unmeasured_by_check_family == {"counts": "not measured: BG401 unverified in 1 of 2 render(s)"}
    document = summary.to_json()
    assert document["pass_rate_by_family"]["counting"] is None and "unmeasured_by_family" in document


def test_unstable_render_is_rejected_and_flags_the_run() -> None:
    shaky = stability(_noise(1), _noise(2), tolerance=0.5)
    outputs = [_out("t1", "typography", "pass", stability=shaky)]
    assert outputs[0].final_verdict == "reject" and not outputs[0].usable
    assert "pixel-stability" in outputs[0].failed_check_ids
    summary = summarise(outputs, outputs_expected=1, wall_s=1.0)
    assert not summary.watchdog_clean and summary.unstable[0]["brief_id"] == "t1"
    assert summary.usable_images == 0 and summary.cost_per_usable_image_usd is None


def test_missing_outputs_make_the_run_incomplete() -> None:
    outputs = [_out("t1", "typography", "pass"), _out("t2", "typography", None, state="missing")]
    summary = summarise(outputs, outputs_expected=2, wall_s=1.0)
    assert not summary.complete
    assert summary.failures["missing"] == 1
    fewer = summarise(outputs[:1], outputs_expected=2, wall_s=1.0)
    assert not fewer.complete
