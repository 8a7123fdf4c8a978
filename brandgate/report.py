"""The governance report: how many images were usable without rework, what people overruled, what a usable image cost.

Counted over preview images made in the window (regression-suite images are test cases, not
campaign images, and HQ exports are copies of previews already counted). Decisions are those on
record when the report is made, whenever they were taken.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from brandgate.clock import as_utc
from brandgate.db.models import Approval, CheckResultRow, Image, Request
from brandgate.requests.decisions import NEEDS_A_PERSON
from brandgate.review import NEEDS_A_LOOK, NOT_REVIEWED_SOURCES
from policies.engine import accepted_by_policy


@dataclass(frozen=True)
class ImageFacts:
    """What the report needs of one image."""

    image_id: str
    kit: str
    verdict: str
    created_at: datetime
    cost_usd: float
    decision: str | None
    decided_at: datetime | None
    looked_at: frozenset[str]  # check IDs that failed or could not decide


def image_facts(
    sessions: sessionmaker[Session], since: datetime | None, until: datetime | None, kit: str | None
) -> list[ImageFacts]:
    # Only the columns the figures need: whole rows would decode every image's generation config.
    query = (
        select(
            Image.id,
            Image.verdict,
            Image.created_at,
            Image.cost_usd,
            Request.kit_name,
            Approval.decision,
            Approval.decided_at,
        )
        .join(Request, Request.id == Image.request_id)
        .outerjoin(Approval, Approval.image_id == Image.id)
        .where(Image.kind == "preview", Request.source.not_in(NOT_REVIEWED_SOURCES))
        .order_by(Image.created_at, Image.id)
    )
    if since is not None:
        query = query.where(Image.created_at >= since)
    if until is not None:
        query = query.where(Image.created_at < until)
    if kit is not None:
        query = query.where(Request.kit_name == kit)
    with sessions() as session:
        rows = session.execute(query).all()
        looked: dict[str, set[str]] = {}
        ids = [row.id for row in rows]
        for start in range(0, len(ids), 500):  # IN lists stay within every database's parameter limit
            for image_id, check_id, status, message in session.execute(
                select(
                    CheckResultRow.image_id, CheckResultRow.check_id, CheckResultRow.status, CheckResultRow.message
                ).where(CheckResultRow.image_id.in_(ids[start : start + 500]), CheckResultRow.status.in_(NEEDS_A_LOOK))
            ):
                if not accepted_by_policy(status, message):
                    looked.setdefault(image_id, set()).add(check_id)
        return [
            ImageFacts(
                image_id=row.id,
                kit=row.kit_name,
                verdict=row.verdict,
                created_at=as_utc(row.created_at),
                cost_usd=float(row.cost_usd or 0.0),
                decision=row.decision,
                decided_at=as_utc(row.decided_at) if row.decided_at is not None else None,
                looked_at=frozenset(looked.get(row.id, ())),
            )
            for row in rows
        ]


def percentile(values: Sequence[float], share: float) -> float | None:
    """Linear interpolation between the closest ranks (numpy's default); None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    position = (len(ordered) - 1) * share
    low, high = math.floor(position), math.ceil(position)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def _ratio(part: float, whole: float) -> float | None:
    return round(part / whole, 6) if whole else None


def governance_figures(facts: Sequence[ImageFacts], review_cost_usd: float) -> dict[str, Any]:
    """The `report --json` document (docs/cli.md) for these images."""
    passed = sum(f.verdict == "pass" for f in facts)
    approved = sum(f.decision == "approved" for f in facts)
    rejected = sum(f.decision == "rejected" for f in facts)
    waiting = sum(f.decision is None and f.verdict in NEEDS_A_PERSON for f in facts)
    waits = [(f.decided_at - f.created_at).total_seconds() for f in facts if f.decided_at is not None]
    gpu = sum(f.cost_usd for f in facts)
    review = (approved + rejected) * review_cost_usd
    checks: dict[str, dict[str, Any]] = {}
    for fact in facts:
        for check_id in fact.looked_at:
            entry = checks.setdefault(check_id, {"flagged": 0, "approved_after": 0, "rejected_after": 0})
            entry["flagged"] += 1
            if fact.decision == "approved":
                entry["approved_after"] += 1
            elif fact.decision == "rejected":
                entry["rejected_after"] += 1
    for entry in checks.values():
        entry["override_rate"] = _ratio(entry["approved_after"], entry["approved_after"] + entry["rejected_after"])
    p50, p95 = percentile(waits, 0.5), percentile(waits, 0.95)
    return {
        "images": len(facts),
        "passed": passed,
        "approved": approved,
        "rejected": rejected,
        "waiting": waiting,
        "auto_pass_rate": _ratio(passed, len(facts)),
        "time_to_decision_s": {
            "p50": round(p50, 3) if p50 is not None else None,
            "p95": round(p95, 3) if p95 is not None else None,
        },
        "gpu_cost_usd": float(round(gpu, 6)),
        "review_cost_usd": round(review, 6),
        "cost_per_usable_usd": _ratio(gpu + review, passed + approved),
        "checks": {check_id: checks[check_id] for check_id in sorted(checks)},
    }


@dataclass(frozen=True)
class Week:
    """One week of the trend charts: Monday 00:00 UTC and its figures."""

    start: datetime
    figures: dict[str, Any]
    queue_age_s: float | None  # the oldest undecided image's wait at the week's end (or now)


def weekly(facts: Sequence[ImageFacts], review_cost_usd: float, now: datetime) -> list[Week]:
    """The figures week by week (weeks start on Monday, UTC), oldest first."""
    if not facts:
        return []
    weeks: dict[datetime, list[ImageFacts]] = {}
    for fact in facts:
        day = fact.created_at.replace(hour=0, minute=0, second=0, microsecond=0)
        weeks.setdefault(day - timedelta(days=day.weekday()), []).append(fact)
    out = []
    for start in sorted(weeks):
        end = min(start + timedelta(days=7), now)
        # Queue age: the longest any image made by the week's end had waited, undecided, at that moment.
        ages = [
            (end - f.created_at).total_seconds()
            for f in facts
            if f.verdict in NEEDS_A_PERSON and f.created_at < end and (f.decided_at is None or f.decided_at > end)
        ]
        out.append(Week(start, governance_figures(weeks[start], review_cost_usd), max(ages) if ages else None))
    return out


def summary_lines(f: dict[str, Any]) -> list[str]:
    """The figures for people (the weekly Slack post uses these lines too)."""
    rate = f["auto_pass_rate"]
    cost = f["cost_per_usable_usd"]
    ttd = f["time_to_decision_s"]
    lines = [
        f"images {f['images']}: {f['passed']} passed without review, {f['approved']} approved, "
        f"{f['rejected']} rejected by a brand manager, {f['waiting']} waiting",
        f"auto-pass rate {'n/a' if rate is None else f'{rate * 100:.1f}%'}; time to decision p50 "
        f"{_hours(ttd['p50'])}, p95 {_hours(ttd['p95'])}",
        f"cost: GPU ${f['gpu_cost_usd']:.4f} + review ${f['review_cost_usd']:.2f}; per usable image "
        f"{'n/a' if cost is None else f'${cost:.4f}'}",
    ]
    overruled = sorted(
        ((cid, c) for cid, c in f["checks"].items() if c["override_rate"] is not None),
        key=lambda item: -item[1]["override_rate"],
    )
    if overruled:
        lines.append(
            "most overruled: "
            + ", ".join(
                f"{cid} {c['override_rate'] * 100:.0f}% of {c['approved_after'] + c['rejected_after']}"
                for cid, c in overruled[:5]
            )
        )
    return lines


def _hours(seconds: float | None) -> str:
    return "n/a" if seconds is None else f"{seconds / 3600:.1f} h"
