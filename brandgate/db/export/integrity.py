"""Each exported image's standing against the trail: its rows re-digested and compared with their events."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from contextlib import closing
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine

from brandgate.db.audit import event_hash
from brandgate.db.evidence import (
    DECISION_KINDS,
    IMAGE_KINDS,
    REQUEST_KINDS,
    Recorded,
    check_approval,
    check_image,
    check_request,
)
from brandgate.db.export.queries import Batch, EventRow, read_batches, row_gone

Events = Mapping[tuple[str, str], Recorded]


def recorded_events(rows: Sequence[EventRow]) -> dict[tuple[str, str], Recorded]:
    """The recording events keyed (subject id, kind), the first by seq of each; each one's hash re-checked."""
    found: dict[tuple[str, str], Recorded] = {}
    for row in sorted(rows, key=lambda event: event.seq):
        key = (row.subject_id or "", row.kind)
        if key not in found:  # the first event that recorded it is the one that counts
            payload = row.payload if isinstance(row.payload, dict) else {}
            found[key] = Recorded(row.seq, row.kind, row.actor, payload, event_hash(row) == row.hash)
    return found


def first_event(events: Events, subject_id: str, kinds: Sequence[str]) -> Recorded | None:
    present = [events[(subject_id, kind)] for kind in kinds if (subject_id, kind) in events]
    return min(present, key=lambda e: e.seq) if present else None


def standing(
    image: Mapping[str, Any],
    checks: list[Mapping[str, Any]] | list[dict[str, Any]],
    request: Mapping[str, Any] | None,
    approval: Mapping[str, Any] | None,
    events: Events,
    requests_checked: dict[str, tuple[list[str], bool]],
) -> tuple[str, list[str]]:
    """The row's standing against the trail: verified, legacy (recorded before bindings) or tampered.

    `requests_checked` keeps each request's check for the batch: a request of 8 images is
    re-digested once, not 8 times.
    """
    image_problems, image_bound = check_image(image, checks, first_event(events, image["id"], IMAGE_KINDS))
    if request is None:
        request_problems, request_bound = [f"request {image['request_id']}: the request row is gone"], False
    else:
        if request["id"] not in requests_checked:
            requests_checked[request["id"]] = check_request(request, first_event(events, request["id"], REQUEST_KINDS))
        request_problems, request_bound = requests_checked[request["id"]]
    decision = first_event(events, image["id"], DECISION_KINDS)
    approval_problems = check_approval(image["id"], approval, decision)
    problems = image_problems + request_problems + approval_problems
    if problems:
        return "tampered", problems
    approval_bound = decision is None or decision.digest is not None
    return ("verified" if image_bound and request_bound and approval_bound else "legacy"), []


def decider_name(decision: Recorded | None, approval: Mapping[str, Any] | None) -> str | None:
    """The decider's display name as the decision's own event recorded it (hash-chained), if it did."""
    if decision is None or approval is None or not decision.intact:
        return None
    name = decision.payload.get("decided_by_name")
    return name if isinstance(name, str) and name else None


def standings(batch: Batch) -> list[tuple[str, list[str]]]:
    """Each image of the batch's standing, in the batch's order."""
    events = recorded_events(batch.events)
    requests_checked: dict[str, tuple[list[str], bool]] = {}
    return [
        standing(image, batch.checks[image["id"]], batch.requests.get(image["request_id"]),
                 batch.approvals.get(image["id"]), events, requests_checked)
        for image in batch.images
    ]  # fmt: skip


@dataclass(frozen=True)
class EvidenceReport:
    """Every exported row checked against the events that recorded it, and every such event against its row."""

    rows: int
    legacy: int  # rows recorded before events carried digests: checked on what their events carry
    first_problem: str | None

    @property
    def intact(self) -> bool:
        return self.first_problem is None


def verify_evidence(engine: Engine, *, batch: int = 2000) -> EvidenceReport:
    """Name the first image (in export order) whose rows disagree with the trail, else the first
    recording event whose row is gone."""
    rows = legacy = 0
    with closing(read_batches(engine, batch=batch)) as batches:
        for found in batches:
            for verdict, problems in standings(found):
                rows += 1
                if verdict == "tampered":
                    return EvidenceReport(rows, legacy, problems[0])
                legacy += verdict == "legacy"
    return EvidenceReport(rows, legacy, row_gone(engine))


__all__ = [
    "EvidenceReport",
    "decider_name",
    "first_event",
    "recorded_events",
    "standing",
    "standings",
    "verify_evidence",
]
