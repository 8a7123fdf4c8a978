"""The check engine: verdict rules, policy.yaml severity and enabling, errors, timing, screening."""

from __future__ import annotations

import shutil
import threading
import types
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from policies.brief import Brief
from policies.checks import builtin_specs, known_ids
from policies.creative import Creative
from policies.engine import (
    CheckResult,
    CheckSpec,
    Outcome,
    run_checks,
    screen_brief,
    verdict_of,
)
from policies.errors import InvalidInput
from policies.kit import Kit, load_kit

KITS = Path(__file__).resolve().parents[2] / "brand_kits"


def kit_with_policy(tmp_path: Path, policy: str, base: str = "acme") -> Kit:
    root = tmp_path / base
    shutil.copytree(KITS / base, root)
    (root / "policy.yaml").write_text(policy)
    return load_kit(root, known_check_ids=known_ids())


def result(status: str, severity: str = "flag") -> CheckResult:
    return CheckResult("BG999", "x", status, severity, 1.0, "")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("statuses", "verdict"),
    [
        ([("pass", "flag"), ("pass", "reject")], "pass"),
        ([("pass", "flag"), ("skip", "reject")], "pass"),
        ([("fail", "flag"), ("pass", "reject")], "flag"),
        ([("error", "reject"), ("pass", "flag")], "flag"),  # an error never counts as a pass
        ([("fail", "flag"), ("fail", "reject")], "reject"),
        ([("error", "flag"), ("fail", "reject")], "reject"),
        ([], "pass"),
    ],
)
def test_verdict_rules(statuses: list[tuple[str, str]], verdict: str) -> None:
    assert verdict_of([result(s, sev) for s, sev in statuses]) == verdict


def _check_module(check_id: str, behaviour: Any, severity: str = "flag") -> CheckSpec:
    module = types.ModuleType(f"test_{check_id}", f"{check_id} test check.")
    module.ID, module.NAME, module.FAMILY, module.DEFAULT_SEVERITY = check_id, f"t-{check_id}", "test", severity
    module.run = behaviour  # type: ignore[attr-defined]
    return CheckSpec.from_module(module)


def _blank() -> Creative:
    return Creative(name="b.png", rgb=np.zeros((64, 64, 3), np.uint8), source_format="png")


def test_a_crashing_check_is_an_error_and_flags(tmp_path: Path) -> None:
    def boom(creative: Creative, brief: Brief | None, kit: Kit, options: Mapping[str, Any]) -> Outcome:
        raise RuntimeError("model file missing")

    def fine(creative: Creative, brief: Brief | None, kit: Kit, options: Mapping[str, Any]) -> Outcome:
        return Outcome("pass", "ok")

    kit = load_kit(KITS / "acme")
    report = run_checks(_blank(), None, kit, specs=[_check_module("T1", boom), _check_module("T2", fine)])
    assert [c.status for c in report.checks] == ["error", "pass"]
    assert "RuntimeError: model file missing" in report.checks[0].message
    assert report.verdict == "flag"


def test_policy_sets_severity_and_disables_checks(tmp_path: Path) -> None:
    kit = kit_with_policy(tmp_path, "BG601: {severity: reject}\nBG602: {enabled: false}\n")
    specs = [s for s in builtin_specs() if s.id in ("BG601", "BG602")]
    brief = Brief(kit="acme", prompt="x", size=(128, 128))
    report = run_checks(_blank(), brief, kit, specs=specs)
    assert [(c.id, c.status, c.severity) for c in report.checks] == [("BG601", "fail", "reject")]
    assert report.verdict == "reject"
    relaxed = kit_with_policy(tmp_path / "b", "BG601: {severity: flag}\n")
    assert run_checks(_blank(), brief, relaxed, specs=specs).verdict == "flag"


def test_policy_with_unknown_check_id_is_refused(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match="unknown check ID 'BG999'"):
        kit_with_policy(tmp_path, "BG999: {severity: reject}\n")


def test_skips_are_reported_with_their_reason_and_results_are_timed(tmp_path: Path) -> None:
    kit = load_kit(KITS / "acme")
    specs = [s for s in builtin_specs() if s.id in ("BG501", "BG602")]
    report = run_checks(_blank(), None, kit, specs=specs)
    assert {c.id: c.status for c in report.checks} == {"BG501": "skip", "BG602": "skip"}
    assert all(c.message for c in report.checks)
    assert all(c.duration_ms > 0 for c in report.checks)
    document = report.to_json()
    assert set(document) == {"image", "verdict", "checks", "timings_ms"}
    assert set(document["timings_ms"]) == {"BG501", "BG602"}
    assert set(document["checks"][0]) == {"id", "name", "status", "severity", "confidence", "message", "evidence"}


def test_checks_run_concurrently_and_keep_registry_order() -> None:
    both_running = threading.Barrier(2, timeout=10)

    def waits(creative: Creative, brief: Brief | None, kit: Kit, options: Mapping[str, Any]) -> Outcome:
        both_running.wait()  # only returns when the other check runs at the same time
        return Outcome("pass", "ran beside the other")

    kit = load_kit(KITS / "acme")
    specs = [_check_module("T1", waits), _check_module("T2", waits)]
    report = run_checks(_blank(), None, kit, specs=specs)
    assert [(c.id, c.status) for c in report.checks] == [("T1", "pass"), ("T2", "pass")]


def test_screen_brief_runs_only_brief_checks() -> None:
    kit = load_kit(KITS / "acme")
    bad = Brief(kit="acme", prompt="a naked man eating apples")
    results = screen_brief(bad, kit)
    assert [(r.id, r.status, r.severity) for r in results] == [("BG501", "fail", "reject")]
    assert verdict_of(results) == "reject"
    assert [r.status for r in screen_brief(Brief(kit="acme", prompt="apples"), kit)] == ["pass"]


def test_every_builtin_check_is_documented() -> None:
    for spec in builtin_specs():
        assert spec.doc.startswith(f"{spec.id} {spec.name}"), spec.id
        assert spec.default_severity in ("flag", "reject")
