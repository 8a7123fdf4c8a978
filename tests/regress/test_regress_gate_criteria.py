"""The gate's criteria on run summaries with known numbers: each one can hold and can fail."""

from __future__ import annotations

from typing import Any

import pytest

from brandgate.regress.gate import evaluate, format_table
from brandgate.regress.report import RunView
from brandgate.settings import Settings


def _summary(**changes: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "outputs_expected": 10,
        "outputs_measured": 10,
        "complete": True,
        "latency_s": {"p50": 1.0, "p95": 2.0, "p99": 2.5},
        "images_per_s": 1.0,
        "peak_memory_bytes": 1_000_000,
        "memory_kind": "rss",
        "pass_rate": 0.8,
        "pass_rate_by_family": {"typography": 0.80, "counting": 0.50},
        "pass_rate_by_check_family": {"text": 0.9, "technical": 1.0},
        "acceptance_rate": 0.8,
        "total_cost_usd": 1.0,
        "usable_images": 8,
        "cost_per_usable_image_usd": 0.125,
        "watchdog_clean": True,
        "unstable": [],
    }
    base.update(changes)
    return base


def _view(profile: str, status: str = "complete", **changes: Any) -> RunView:
    return RunView(f"run-{profile}", "core", profile, status, 2, 2, None, None, _summary(**changes), [])


@pytest.fixture
def gate_settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"gate_memory_budget_bytes": 2_000_000})


def test_an_equal_candidate_passes_every_criterion(gate_settings: Settings) -> None:
    result = evaluate(_view("cand"), _view("active"), gate_settings)
    assert result.passed and result.failed == []
    assert len(result.criteria) == 7


@pytest.mark.parametrize(
    ("changes", "status", "failed"),
    [
        ({"pass_rate_by_family": {"typography": 0.785, "counting": 0.50}}, "complete", ["brief family pass rates"]),
        ({"pass_rate_by_check_family": {"text": 0.9}}, "complete", ["check family pass rates"]),
        ({"latency_s": {"p50": 1.0, "p95": 2.41, "p99": 3.0}}, "complete", ["p95 latency"]),
        ({"peak_memory_bytes": 2_000_001}, "complete", ["peak memory"]),
        ({"peak_memory_bytes": None}, "complete", ["peak memory"]),
        ({"cost_per_usable_image_usd": 0.1376}, "complete", ["cost per usable image"]),
        ({"cost_per_usable_image_usd": None}, "complete", ["cost per usable image"]),
        ({"watchdog_clean": False, "unstable": [{"brief_id": "a"}]}, "flagged", ["watchdog clean"]),
        ({}, "incomplete", ["runs complete"]),
    ],
)
def test_each_criterion_refuses_on_its_own(
    gate_settings: Settings, changes: dict[str, Any], status: str, failed: list[str]
) -> None:
    result = evaluate(_view("cand", status, **changes), _view("active"), gate_settings)
    assert not result.passed
    assert result.failed == failed


def test_limits_are_inclusive_and_one_point_drop_is_allowed(gate_settings: Settings) -> None:
    cand = _view(
        "cand",
        pass_rate_by_family={"typography": 0.79, "counting": 0.50},
        latency_s={"p50": 1.0, "p95": 2.4, "p99": 3.0},
        cost_per_usable_image_usd=0.1375,
        peak_memory_bytes=2_000_000,
    )
    assert evaluate(cand, _view("active"), gate_settings).passed


def test_a_blank_model_fails_several_criteria_at_once(gate_settings: Settings) -> None:
    cand = _view(
        "blank",
        pass_rate_by_family={"typography": 0.0, "counting": 0.0},
        pass_rate_by_check_family={"text": 0.9, "technical": 0.0},
        cost_per_usable_image_usd=None,
        usable_images=0,
    )
    result = evaluate(cand, _view("active"), gate_settings)
    assert result.failed == ["brief family pass rates", "check family pass rates", "cost per usable image"]
    detail = {c.name: c.detail for c in result.criteria}
    assert "typography: 0.0% vs 80.0%" in detail["brief family pass rates"]


def test_without_usable_images_on_either_side_cost_per_image_decides(gate_settings: Settings) -> None:
    base = _view("active", cost_per_usable_image_usd=None, cost_per_image_usd=0.01)
    cheap = _view("cand", cost_per_usable_image_usd=None, cost_per_image_usd=0.011)
    dear = _view("cand", cost_per_usable_image_usd=None, cost_per_image_usd=0.02)
    assert "cost per usable image" not in evaluate(cheap, base, gate_settings).failed
    assert "cost per usable image" in evaluate(dear, base, gate_settings).failed


def test_comparison_table_lists_both_profiles(gate_settings: Settings) -> None:
    result = evaluate(_view("cand"), _view("active"), gate_settings)
    table = format_table([["metric", "cand", "active"], *result.to_json()["table"]])
    assert "latency p95" in table and "typography" in table and "cost per usable image" in table


def test_an_unmeasured_family_refuses_promotion_unless_the_criteria_allow_it(gate_settings: Settings) -> None:
    # the candidate draws no apples at all: BG401 cannot count, so counting is not measured
    unmeasured = {
        "pass_rate_by_family": {"typography": 0.80, "counting": None},
        "unmeasured_by_family": {"counting": "not measured: BG401 unverified in 2 of 2 render(s)"},
    }
    refused = evaluate(_view("cand", **unmeasured), _view("active"), gate_settings)
    assert refused.failed == ["brief family pass rates"]
    detail = next(c.detail for c in refused.criteria if c.name == "brief family pass rates")
    assert "counting: not measured: BG401 unverified in 2 of 2 render(s) (was 50.0%)" in detail
    # also when the active model was never measured there either: nothing to promote on
    both = evaluate(_view("cand", **unmeasured), _view("active", **unmeasured), gate_settings)
    assert both.failed == ["brief family pass rates"]
    allowed = evaluate(
        _view("cand", **unmeasured),
        _view("active", **unmeasured),
        gate_settings.model_copy(update={"gate_allow_unmeasured": ["counting"]}),
    )
    assert allowed.passed
    detail = next(c.detail for c in allowed.criteria if c.name == "brief family pass rates")
    assert "allowed by BRANDGATE_GATE_ALLOW_UNMEASURED" in detail
    table = format_table([row for row in refused.to_json()["table"]])
    assert "not measured" in table
