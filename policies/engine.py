"""The check engine: runs a kit's enabled checks on one creative and derives its verdict."""

from __future__ import annotations

import contextvars
import os
import threading
import time
from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import Executor, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, get_args

from policies.check import ACCEPTED_BY_POLICY as ACCEPTED_BY_POLICY
from policies.check import STATUSES as STATUSES
from policies.check import CheckSpec as CheckSpec
from policies.check import Decision as Decision
from policies.check import Outcome as Outcome
from policies.check import Severity as Severity
from policies.check import Status as Status
from policies.check import Verdict as Verdict
from policies.checks import builtin_specs

if TYPE_CHECKING:
    from policies.brief import Brief
    from policies.creative import Creative
    from policies.kit import Kit


# From best to worst: the verdict of several images (or of one image's checks) is the worst one.
# The order is the Literal's in policies/check.py, where the verdicts are spelled out once.
VERDICTS: tuple[Verdict, ...] = get_args(Verdict)


@dataclass(frozen=True)
class CheckResult:
    id: str
    name: str
    status: Status
    severity: Severity
    confidence: float
    message: str
    evidence: Mapping[str, Any] = field(default_factory=dict)
    duration_ms: float = 0.0
    # An unverified check the kit's policy.yaml accepts as pass (`accept_unverified: [ID]`).
    accepted: bool = False

    @property
    def failed(self) -> bool:
        return self.status == "fail"

    @property
    def undecided(self) -> bool:
        """Unverified and not accepted by the kit's policy: a person must look."""
        return self.status == "unverified" and not self.accepted

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "id": self.id,
            "name": self.name,
            "status": self.status,
            "severity": self.severity,
            "confidence": round(self.confidence, 4),
            "message": self.message,
            "evidence": dict(self.evidence),
        }
        if self.accepted:
            out["accepted"] = ACCEPTED_BY_POLICY
        return out


@dataclass(frozen=True)
class ImageReport:
    image: str
    verdict: Verdict
    checks: tuple[CheckResult, ...]
    notes: tuple[str, ...] = ()

    @property
    def timings_ms(self) -> dict[str, float]:
        return {c.id: round(c.duration_ms, 1) for c in self.checks}

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "image": self.image,
            "verdict": self.verdict,
            "checks": [c.to_json() for c in self.checks],
            "timings_ms": self.timings_ms,
        }
        if self.notes:
            out["notes"] = list(self.notes)
        return out


def accepted_by_policy(status: str, message: str) -> bool:
    """Whether a stored check result was accepted unverified by the kit's policy.

    The engine starts such a result's message with ACCEPTED_BY_POLICY, so the acceptance travels
    with the message into the database, the audit export and Slack without a column of its own.
    """
    return status == "unverified" and message.startswith(ACCEPTED_BY_POLICY)


def verdict_of(results: Sequence[CheckResult]) -> Verdict:
    """The verdict of one image's check results, worst first.

    Any failed reject check → reject; else any failed flag check or any error → flag (a broken
    check is a person's decision, never a pass); else any unverified check the kit does not
    accept → unverified; else pass, provided at least one check passed. Nothing decided at all
    (no checks, or every one skipped or accepted unverified) is unverified too: a pass always
    means something was checked.
    """
    if any(r.status == "fail" and r.severity == "reject" for r in results):
        return "reject"
    if any(r.status == "fail" or r.status == "error" for r in results):
        return "flag"
    if any(r.undecided for r in results):
        return "unverified"
    if not any(r.status == "pass" for r in results):
        return "unverified"
    return "pass"


def worst_verdict(verdicts: Iterable[str]) -> Verdict:
    """The worst of several verdicts (pass < unverified < flag < reject); none at all is unverified."""
    ranked = [VERDICTS.index(v) for v in verdicts if v in VERDICTS]  # type: ignore[arg-type]
    return VERDICTS[max(ranked)] if ranked else "unverified"


def enabled_checks(kit: Kit, specs: Sequence[CheckSpec]) -> list[tuple[CheckSpec, dict[str, Any]]]:
    """The kit's enabled checks with their options, in registry order."""
    chosen = []
    for spec in specs:
        options = kit.check_options(spec.id)
        if options.get("enabled", True):
            chosen.append((spec, options))
    return chosen


def run_one(
    spec: CheckSpec, creative: Creative, brief: Brief | None, kit: Kit, options: Mapping[str, Any]
) -> CheckResult:
    """Run one check; an exception becomes status `error`, which never counts as a pass."""
    started = time.perf_counter()
    try:
        if spec.screens_brief:
            if brief is None:
                outcome = Outcome("skip", "no brief given: nothing to screen")
            else:
                outcome = spec.module.screen(brief, kit, options)
        else:
            outcome = spec.module.run(creative, brief, kit, options)
    except Exception as exc:  # a broken check must surface as an error, not crash the run
        outcome = Outcome("error", f"check failed to run: {type(exc).__name__}: {exc}", confidence=0.0)
    return _result(spec, options, outcome, started, kit.accept_unverified)


def _result(
    spec: CheckSpec, options: Mapping[str, Any], outcome: Outcome, started: float, accept: frozenset[str] = frozenset()
) -> CheckResult:
    if outcome.status not in STATUSES:
        outcome = Outcome("error", f"check returned unknown status {outcome.status!r}", confidence=0.0)
    accepted = outcome.status == "unverified" and spec.id in accept
    return CheckResult(
        id=spec.id,
        name=spec.name,
        status=outcome.status,
        severity=spec.severity_for(options),
        confidence=outcome.confidence,
        message=f"{ACCEPTED_BY_POLICY}: {outcome.message}" if accepted else outcome.message,
        evidence=outcome.evidence,
        duration_ms=(time.perf_counter() - started) * 1000,
        accepted=accepted,
    )


_pool: ThreadPoolExecutor | None = None
_pool_lock = threading.Lock()


def shared_executor() -> ThreadPoolExecutor:
    """The process-wide pool the checks run on, made on first use.

    Threads pay off because the heavy parts release the GIL: onnxruntime (RapidOCR, NudeNet)
    and the tesseract subprocess run while the numpy and OpenCV checks go on beside them.
    The pool is wider than the cores on purpose: the text checks all wait on one shared OCR
    reading, and a waiting thread must not keep the image checks from starting.
    """
    global _pool
    with _pool_lock:
        if _pool is None:
            workers = max(8, 2 * (os.cpu_count() or 2))
            _pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="brandgate-check")
        return _pool


def screen_brief(brief: Brief, kit: Kit, *, specs: Sequence[CheckSpec] | None = None) -> list[CheckResult]:
    """The kit's enabled brief-only checks (BG501), to run before any GPU time is spent."""
    if specs is None:
        specs = builtin_specs()
    results = []
    for spec, options in enabled_checks(kit, [s for s in specs if s.screens_brief]):
        started = time.perf_counter()
        try:
            outcome = spec.module.screen(brief, kit, options)
        except Exception as exc:
            outcome = Outcome("error", f"check failed to run: {type(exc).__name__}: {exc}", confidence=0.0)
        results.append(_result(spec, options, outcome, started, kit.accept_unverified))
    return results


def run_checks(
    creative: Creative,
    brief: Brief | None,
    kit: Kit,
    *,
    specs: Sequence[CheckSpec] | None = None,
    executor: Executor | None = None,
    concurrent: bool = True,
) -> ImageReport:
    """All enabled checks on one creative, in registry order.

    With `concurrent` (the default) they run on `executor`, or the shared pool, so checks that
    wait on OCR or a detector overlap with the others; `concurrent=False` runs them in turn.
    """
    if specs is None:
        specs = builtin_specs()
    chosen = enabled_checks(kit, specs)
    if not concurrent or len(chosen) < 2:
        results = [run_one(spec, creative, brief, kit, opts) for spec, opts in chosen]
    else:
        pool = executor or shared_executor()
        # each check runs in the caller's context, so what it logs carries the caller's request ID
        futures = [
            pool.submit(contextvars.copy_context().run, run_one, spec, creative, brief, kit, opts)
            for spec, opts in chosen
        ]
        results = [f.result() for f in futures]
    return ImageReport(
        image=creative.name,
        verdict=verdict_of(results),
        checks=tuple(results),
        notes=tuple(creative.notes),
    )
