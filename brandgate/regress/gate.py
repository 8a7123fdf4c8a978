"""The model gate: criteria that a candidate's run must meet against the active model's run."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from brandgate.regress.report import RunView, fmt_bytes, fmt_family, fmt_num, fmt_pct, fmt_usd
from brandgate.settings import Settings


@dataclass(frozen=True)
class Criterion:
    """One rule of the gate, whether it held, and the numbers that decided it."""

    name: str
    ok: bool
    detail: str

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "ok": self.ok, "detail": self.detail}


@dataclass(frozen=True)
class Comparison:
    candidate: RunView
    baseline: RunView
    criteria: tuple[Criterion, ...]

    @property
    def passed(self) -> bool:
        return all(c.ok for c in self.criteria)

    @property
    def failed(self) -> list[str]:
        return [c.name for c in self.criteria if not c.ok]

    def to_json(self) -> dict[str, Any]:
        return {
            "candidate": {"profile": self.candidate.profile, "run_id": self.candidate.run_id},
            "baseline": {"profile": self.baseline.profile, "run_id": self.baseline.run_id},
            "passed": self.passed,
            "failed_criteria": self.failed,
            "criteria": [c.to_json() for c in self.criteria],
            "table": comparison_rows(self.candidate, self.baseline),
        }


def evaluate(candidate: RunView, baseline: RunView, settings: Settings) -> Comparison:
    """Every criterion, always all of them, so a refusal lists each reason at once."""
    cand, base = candidate.summary, baseline.summary
    criteria = [
        Criterion(
            "runs complete",
            candidate.status in ("complete", "flagged") and baseline.status in ("complete", "flagged"),
            f"candidate run {candidate.status}, baseline run {baseline.status}",
        ),
        *_family_criteria(cand, base, settings.gate_max_family_drop_points, frozenset(settings.gate_allow_unmeasured)),
        _p95(cand, base, settings.gate_max_p95_ratio),
        _memory(cand, settings.gate_memory_budget_bytes),
        _cost(cand, base, settings.gate_max_cost_ratio),
        Criterion(
            "watchdog clean",
            bool(cand.get("watchdog_clean")) and candidate.status != "flagged",
            "every seed rendered twice matched"
            if cand.get("watchdog_clean")
            else f"{len(cand.get('unstable') or [])} render(s) differed from their own seed",
        ),
    ]
    return Comparison(candidate, baseline, tuple(criteria))


def _family_criteria(
    cand: Mapping[str, Any], base: Mapping[str, Any], max_drop: float, allowed: frozenset[str]
) -> list[Criterion]:
    """A family may not drop, and may not go unmeasured (its defining check could not decide)
    unless BRANDGATE_GATE_ALLOW_UNMEASURED names it: what was not measured cannot be promoted on."""
    out = []
    for key, label in (("pass_rate_by_family", "brief family"), ("pass_rate_by_check_family", "check family")):
        mine: Mapping[str, Any] = cand.get(key) or {}
        theirs: Mapping[str, Any] = base.get(key) or {}
        why_mine: Mapping[str, str] = cand.get(_UNMEASURED[key]) or {}
        drops, allowed_notes = [], []
        for family in sorted(set(mine) | set(theirs)):
            before, after = theirs.get(family), mine.get(family)
            if after is None:
                why = why_mine.get(family) or "not measured: the candidate has no render in it"
                if family in allowed:
                    allowed_notes.append(f"{family}: {why} (allowed by BRANDGATE_GATE_ALLOW_UNMEASURED)")
                else:
                    drops.append(f"{family}: {why}" + (f" (was {fmt_pct(before)})" if before is not None else ""))
            elif before is not None and (before - after) * 100 > max_drop + 1e-9:
                drops.append(f"{family}: {fmt_pct(after)} vs {fmt_pct(before)}")
        detail = "; ".join(drops) if drops else f"no {label} lower by more than {max_drop:g} point(s)"
        if allowed_notes:
            detail += "; " + "; ".join(allowed_notes)
        out.append(Criterion(f"{label} pass rates", not drops, detail))
    return out


_UNMEASURED = {
    "pass_rate_by_family": "unmeasured_by_family",
    "pass_rate_by_check_family": "unmeasured_by_check_family",
}


def _p95(cand: Mapping[str, Any], base: Mapping[str, Any], ratio: float) -> Criterion:
    mine = (cand.get("latency_s") or {}).get("p95")
    theirs = (base.get("latency_s") or {}).get("p95")
    if mine is None or theirs is None:
        return Criterion("p95 latency", False, f"not measured (candidate {fmt_num(mine)}, active {fmt_num(theirs)})")
    limit = ratio * theirs
    return Criterion("p95 latency", mine <= limit, f"{mine:.3f}s vs limit {limit:.3f}s ({ratio:g}× {theirs:.3f}s)")


def _memory(cand: Mapping[str, Any], budget: int) -> Criterion:
    peak = cand.get("peak_memory_bytes")
    if peak is None:
        return Criterion("peak memory", False, "not measured: no render recorded its peak memory")
    kind = cand.get("memory_kind") or "memory"
    return Criterion("peak memory", peak <= budget, f"{fmt_bytes(peak)} {kind} vs budget {fmt_bytes(budget)}")


def _cost(cand: Mapping[str, Any], base: Mapping[str, Any], ratio: float) -> Criterion:
    mine = cand.get("cost_per_usable_image_usd")
    theirs = base.get("cost_per_usable_image_usd")
    if mine is None and theirs is None:
        # nothing usable on either side (a strict kit, unfinished checks): compare what images cost at all
        mine, theirs = cand.get("cost_per_image_usd"), base.get("cost_per_image_usd")
        if mine is None or theirs is None or theirs <= 0:
            return Criterion("cost per usable image", False, "∞ on both sides and no image cost to compare")
        limit = ratio * theirs
        return Criterion(
            "cost per usable image",
            mine <= limit + 1e-12,
            f"no usable image on either side; per image made {fmt_usd(mine)} vs limit {fmt_usd(limit)}",
        )
    if mine is None:
        return Criterion("cost per usable image", False, "∞: the candidate produced no usable image")
    if theirs is None:
        return Criterion("cost per usable image", True, f"{fmt_usd(mine)} vs ∞ for the active model")
    limit = ratio * theirs
    return Criterion(
        "cost per usable image",
        mine <= limit + 1e-12,
        f"{fmt_usd(mine)} vs limit {fmt_usd(limit)} ({ratio:g}× {fmt_usd(theirs)})",
    )


def comparison_rows(candidate: RunView, baseline: RunView) -> list[list[str]]:
    """[metric, candidate, baseline] rows printed by `models promote` and `regress compare`."""
    c, b = candidate.summary, baseline.summary

    def lat(s: Mapping[str, Any], k: str) -> str:
        return fmt_num((s.get("latency_s") or {}).get(k), " s")

    rows = [
        ["profile", candidate.profile, baseline.profile],
        ["run", candidate.run_id, baseline.run_id],
        ["status", candidate.status, baseline.status],
        [
            "outputs",
            f"{c.get('outputs_measured', 0)}/{c.get('outputs_expected', 0)}",
            f"{b.get('outputs_measured', 0)}/{b.get('outputs_expected', 0)}",
        ],
        ["latency p50", lat(c, "p50"), lat(b, "p50")],
        ["latency p95", lat(c, "p95"), lat(b, "p95")],
        ["latency p99", lat(c, "p99"), lat(b, "p99")],
        ["images/s", fmt_num(c.get("images_per_s")), fmt_num(b.get("images_per_s"))],
        ["peak memory", fmt_bytes(c.get("peak_memory_bytes")), fmt_bytes(b.get("peak_memory_bytes"))],
        ["pass rate", fmt_pct(c.get("pass_rate")), fmt_pct(b.get("pass_rate"))],
        ["acceptance rate", fmt_pct(c.get("acceptance_rate")), fmt_pct(b.get("acceptance_rate"))],
        [
            "cost per usable image",
            fmt_usd(c.get("cost_per_usable_image_usd")),
            fmt_usd(b.get("cost_per_usable_image_usd")),
        ],
        [
            "watchdog",
            "clean" if c.get("watchdog_clean") else "TRIPPED",
            "clean" if b.get("watchdog_clean") else "TRIPPED",
        ],
    ]
    for key in ("pass_rate_by_family", "pass_rate_by_check_family"):
        mine, theirs = c.get(key) or {}, b.get(key) or {}
        for family in sorted(set(mine) | set(theirs)):
            rows.append([f"  {family}", fmt_family(c, key, family), fmt_family(b, key, family)])
    return rows


def format_table(rows: list[list[str]]) -> str:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return "\n".join("  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row)).rstrip() for row in rows)
