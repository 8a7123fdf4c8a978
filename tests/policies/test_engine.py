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
    worst_verdict,
)
from policies.errors import InvalidInput
from policies.kit import Kit, load_kit

KITS = Path(__file__).resolve().parents[2] / "brand_kits"


def kit_with_policy(tmp_path: Path, policy: str, base: str = "acme") -> Kit:
    root = tmp_path / base
    shutil.copytree(KITS / base, root)
    (root / "policy.yaml").write_text(policy)
    return load_kit(root, known_check_ids=known_ids())


def result(status: str, severity: str = "flag", accepted: bool = False) -> CheckResult:
    return CheckResult("BG999", "x", status, severity, 1.0, "", accepted=accepted)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("statuses", "verdict"),
    [
        ([("pass", "flag"), ("pass", "reject")], "pass"),
        ([("pass", "flag"), ("skip", "reject")], "pass"),  # skip: the check does not apply
        ([("pass", "flag"), ("unverified", "reject")], "unverified"),  # could not decide
        ([("unverified", "flag"), ("fail", "flag")], "flag"),
        ([("unverified", "flag"), ("fail", "reject")], "reject"),
        ([("unverified", "flag"), ("error", "flag")], "flag"),
        ([("fail", "flag"), ("pass", "reject")], "flag"),
        ([("error", "reject"), ("pass", "flag")], "flag"),  # an error never counts as a pass
        ([("fail", "flag"), ("fail", "reject")], "reject"),
        ([("error", "flag"), ("fail", "reject")], "reject"),
        ([("skip", "flag"), ("skip", "reject")], "unverified"),  # nothing was checked
        ([], "unverified"),  # no checks ran: nothing was checked
    ],
)
def test_verdict_rules(statuses: list[tuple[str, str]], verdict: str) -> None:
    assert verdict_of([result(s, sev) for s, sev in statuses]) == verdict


def test_an_unverified_check_the_policy_accepts_is_a_pass_and_says_so() -> None:
    accepted = result("unverified", accepted=True)
    assert verdict_of([result("pass"), accepted]) == "pass"
    assert accepted.to_json()["accepted"] == "accepted unverified by policy"
    assert "accepted" not in result("unverified").to_json()
    # accepted alone decides nothing
    assert verdict_of([accepted]) == "unverified"


def test_worst_verdict_orders_pass_unverified_flag_reject() -> None:
    assert worst_verdict(["pass", "unverified", "pass"]) == "unverified"
    assert worst_verdict(["unverified", "flag"]) == "flag"
    assert worst_verdict(["reject", "flag", "pass"]) == "reject"
    assert worst_verdict(["pass"]) == "pass"


def test_policy_accept_unverified_passes_the_named_check_and_records_it(tmp_path: Path) -> None:
    def undecided(creative: Creative, brief: Brief | None, kit: Kit, options: Mapping[str, Any]) -> Outcome:
        return Outcome("unverified", "not checked: hands and people, no detector configured")

    def fine(creative: Creative, brief: Brief | None, kit: Kit, options: Mapping[str, Any]) -> Outcome:
        return Outcome("pass", "ok")

    specs = [_check_module("BG402", undecided), _check_module("BG601", fine)]
    default = run_checks(_blank(), None, load_kit(KITS / "acme"), specs=specs)
    assert default.verdict == "unverified"
    assert not default.checks[0].accepted
    kit = kit_with_policy(tmp_path, "accept_unverified: [BG402]\nBG601: {severity: reject}\n")
    assert kit.accept_unverified == frozenset({"BG402"})
    report = run_checks(_blank(), None, kit, specs=specs)
    assert report.verdict == "pass"
    assert report.checks[0].status == "unverified"
    assert report.checks[0].accepted
    assert report.checks[0].message.startswith("accepted unverified by policy: not checked: hands")


@pytest.mark.parametrize(
    ("policy", "problem"),
    [("accept_unverified: BG402\n", "must be a list of check IDs"), ("accept_unverified: [BG999]\n", "BG999")],
)
def test_policy_accept_unverified_is_validated(tmp_path: Path, policy: str, problem: str) -> None:
    with pytest.raises(InvalidInput, match=problem):
        kit_with_policy(tmp_path, policy)


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
