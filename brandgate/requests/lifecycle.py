"""A request's life: its states, the transitions between them, and the one audit event each writes.

Every change of a request's state goes through a function here, inside the caller's transaction:
the row and its event commit together. `TRANSITIONS` is the whole state machine; a transition
that writes no event says why. Both endings that stop a request early (failed and cancelled)
write the same payload shape, whoever stops it (a stage, a crash, spent attempts, a person).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from brandgate.clock import now
from brandgate.db.audit import append_event
from brandgate.db.evidence import request_binding
from brandgate.db.models import Image, Request
from brandgate.requests.states import State


@dataclass(frozen=True)
class Transition:
    """One edge of the state machine: from which states, to which, and the event it writes."""

    name: str
    sources: tuple[State, ...]  # empty: the request is created by this transition
    target: State
    event: str | None
    no_event_because: str = ""


TRANSITIONS: dict[str, Transition] = {t.name: t for t in (
    Transition("queue", (), "queued", "request.queued"),
    Transition("queue_export", (), "queued", "export.queued"),
    Transition("start", ("queued",), "running", None,
               "the attempt count and worker are on the row; the first claim is not news"),
    Transition("redeliver", ("running",), "running", "request.redelivered"),
    Transition("release", ("running",), "queued", None,
               "a transient outage hands the job back; the retry's redelivery or ending is recorded"),
    Transition("ask_cancel", ("running",), "running", "request.cancel_requested"),
    Transition("finish", ("running",), "done", "request.done"),
    Transition("fail", ("queued", "running"), "failed", "request.failed"),
    Transition("cancel", ("queued", "running"), "cancelled", "request.cancelled"),
)}


class IllegalTransition(Exception):
    """A transition from a state it does not leave: a bug in the caller, never user input."""


def _allowed(row: Request, name: str) -> Transition:
    transition = TRANSITIONS[name]
    if row.state not in transition.sources:
        raise IllegalTransition(f"request {row.id}: cannot {name} from {row.state!r}")
    return transition


def queue(session: Session, row: Request) -> None:
    """A new request row (already added to the session) enters the queue; its event binds what it asked."""
    transition = TRANSITIONS["queue_export" if row.parent_image_id else "queue"]
    row.state = transition.target
    assert transition.event is not None
    session.flush()  # column defaults applied: the digest covers what the row holds
    append_event(
        session, actor=row.requested_by, kind=transition.event, subject_type="request", subject_id=row.id,
        payload={
            "kit": row.kit_name, "kit_hash": row.kit_hash, "brief_hash": row.brief_hash,
            "profile": row.profile_name, "profile_hash": row.profile_hash, "seed": row.seed,
            "n_images": row.n_images, "queue": row.queue, "source": row.source,
            "parent_image_id": row.parent_image_id, **request_binding(row),
        },
    )


def start(session: Session, row: Request, worker: str) -> bool:
    """A worker takes the request (counting the attempt); True when it was redelivered."""
    redelivered = row.state == "running"
    _allowed(row, "redeliver" if redelivered else "start")
    row.state = "running"
    row.attempts += 1
    row.worker = worker
    row.heartbeat_at = now()
    row.started_at = row.started_at or now()
    row.cancel_requested_by = row.cancel_requested_by if redelivered else None
    if redelivered:
        append_event(
            session, actor="worker", kind="request.redelivered", subject_type="request",
            subject_id=row.id, payload={"attempt": row.attempts, "worker": worker},
        )
    return redelivered


def release(session: Session, request_id: str, worker: str, reason: str) -> bool:
    """Hand a running request back to the queue, if this worker still holds it."""
    result = session.execute(
        update(Request)
        .where(Request.id == request_id, Request.worker == worker, Request.state == "running")
        .values(state=TRANSITIONS["release"].target, worker=None, heartbeat_at=None, failure_reason=reason)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


def ask_cancel(session: Session, row: Request, by: str) -> None:
    """Someone asks a running request to stop; the run stops at its next step and cancels itself."""
    _allowed(row, "ask_cancel")
    if row.cancel_requested_by is not None:
        return  # asked already: one event per request
    row.cancel_requested_by = by
    append_event(
        session, actor=by, kind="request.cancel_requested", subject_type="request",
        subject_id=row.id, payload={"stage": row.stage},
    )


def finish(session: Session, row: Request, timings: dict[str, float]) -> int:
    """Every image is recorded: the request is done. Returns the number of images."""
    _allowed(row, "finish")
    verdicts: dict[str, int] = {}
    for verdict in session.scalars(select(Image.verdict).where(Image.request_id == row.id)):
        verdicts[verdict] = verdicts.get(verdict, 0) + 1
    images = sum(verdicts.values())
    row.state = "done"
    row.stage = None
    row.finished_at = now()
    row.stage_timings = rounded(timings)
    clear_progress(row)
    append_event(
        session, actor="worker", kind="request.done", subject_type="request", subject_id=row.id,
        payload={"images": images, "verdicts": verdicts,
                 "gpu_seconds": round(row.gpu_seconds, 6), "cost_usd": round(row.cost_usd, 6),
                 "timings_s": rounded(timings), "attempts": row.attempts},
    )
    return images


def fail(session: Session, row: Request, stage: str | None, reason: str, *,
         unrecorded_gpu_seconds: float = 0.0, unrecorded_cost_usd: float = 0.0,
         timings: dict[str, float] | None = None) -> list[str]:
    """The request stops for good with a reason; what was recorded is kept. Returns image IDs kept."""
    return _stop(session, row, "fail", actor="worker", stage=stage, reason=reason,
                 unrecorded_gpu_seconds=unrecorded_gpu_seconds, unrecorded_cost_usd=unrecorded_cost_usd,
                 timings=timings)


def cancel(session: Session, row: Request, by: str, *,
           unrecorded_gpu_seconds: float = 0.0, unrecorded_cost_usd: float = 0.0,
           timings: dict[str, float] | None = None) -> list[str]:
    """The request stops because `by` asked: at once while queued, at the next step while running."""
    row.cancel_requested_by = row.cancel_requested_by or by
    return _stop(session, row, "cancel", actor=by, stage=row.stage if row.state == "running" else None,
                 reason=f"cancelled by {by}", unrecorded_gpu_seconds=unrecorded_gpu_seconds,
                 unrecorded_cost_usd=unrecorded_cost_usd, timings=timings)


def _stop(session: Session, row: Request, name: str, *, actor: str, stage: str | None, reason: str,
          unrecorded_gpu_seconds: float, unrecorded_cost_usd: float,
          timings: dict[str, float] | None) -> list[str]:
    """Failed or cancelled: charge what was spent, say why, keep what was recorded."""
    transition = _allowed(row, name)
    was = row.state
    unrecorded_gpu = max(0.0, unrecorded_gpu_seconds)
    unrecorded_cost = max(0.0, unrecorded_cost_usd)
    row.gpu_seconds = (row.gpu_seconds or 0.0) + unrecorded_gpu
    row.cost_usd = (row.cost_usd or 0.0) + unrecorded_cost
    row.state = transition.target
    row.stage = stage
    row.failure_reason = reason
    row.finished_at = now()
    if timings is not None:
        row.stage_timings = rounded(timings)
    clear_progress(row)
    images = list(session.scalars(
        select(Image.id).where(Image.request_id == row.id).order_by(Image.index)
    ).all())
    assert transition.event is not None
    append_event(
        session, actor=actor, kind=transition.event, subject_type="request", subject_id=row.id,
        payload={"from": was, "stage": stage, "reason": reason, "attempts": row.attempts,
                 "images_kept": len(images),
                 "unrecorded_gpu_seconds": round(unrecorded_gpu, 6),
                 "unrecorded_cost_usd": round(unrecorded_cost, 6),
                 "gpu_seconds": round(row.gpu_seconds, 6), "cost_usd": round(row.cost_usd, 6),
                 "timings_s": rounded(timings or {})},
    )
    return images


def rounded(timings: dict[str, Any]) -> dict[str, float]:
    return {k: round(float(v), 4) for k, v in timings.items()}


def clear_progress(row: Request) -> None:
    row.progress_image = row.progress_step = row.progress_steps = None
    row.worker = None
    row.heartbeat_at = None
