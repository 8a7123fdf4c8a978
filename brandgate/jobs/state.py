"""A request's row in the database as the queue uses it: intake, position, claim and lease, progress,
cancel, status.

The requests table is the one truth about a request for every backend: the local pool reads its
work from it, Celery messages only carry the request ID, and any process (the bot, the CLI)
reads progress from it.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Literal

from sqlalchemy import and_, func, or_, select, text, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from brandgate.clock import as_utc, now
from brandgate.db.models import Approval, Image, Request
from brandgate.jobs.contract import Accepted, RequestStatus, UnknownRequest
from brandgate.jobs.limits import check_limits
from brandgate.requests import lifecycle
from brandgate.requests.images import image_view
from brandgate.requests.states import TERMINAL_STATES
from brandgate.settings import Settings
from policies.characters import quote

log = logging.getLogger(__name__)

# One lock per process serialises limit checks on SQLite; PostgreSQL also takes an advisory lock.
_intake_lock = threading.Lock()
_INTAKE_LOCK_KEY = 0x62726E64  # "brnd"


def worker_identity() -> str:
    """`host:pid:thread`; the host and pid let another worker tell whether the owner still lives."""
    return f"{socket.gethostname()}:{os.getpid()}:{threading.current_thread().name}"


def owner_is_dead(worker: str | None) -> bool:
    """True when the owner ran on this host and its process is gone (a SIGKILLed pool child)."""
    if not worker:
        return True
    host, _, rest = worker.partition(":")
    pid_text = rest.split(":", 1)[0]
    if host != socket.gethostname() or not pid_text.isdigit():
        return False
    try:
        os.kill(int(pid_text), 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


@dataclass(frozen=True)
class NewRequest:
    """Everything the requests row needs, resolved and validated by the queue front."""

    brief: dict[str, Any]
    brief_hash: str
    kit_name: str
    kit_hash: str
    requested_by: str
    source: str
    channel: str | None
    idempotency_key: str | None
    profile_name: str
    profile_hash: str | None
    seed: int
    n_images: int
    queue: str
    parent_image_id: str | None = None


def record_request(
    sessions: sessionmaker[Session],
    settings: Settings,
    new: NewRequest,
    enqueue: Callable[[str, str], None] | None = None,
) -> Accepted:
    """Check limits, insert the request and its audit event, and hand it to the broker, atomically.

    `enqueue(request_id, queue)` runs before the commit: if the broker refuses, the transaction
    rolls back and nothing is left half-queued. A worker that gets the message before the commit
    waits for the row (see `claim`).
    """
    if new.idempotency_key:
        seen = find_by_key(sessions, new.idempotency_key)
        if seen is not None:
            return seen
    request_id = os.urandom(16).hex()
    try:
        with _intake_lock, sessions() as session, session.begin():
            if session.get_bind().dialect.name == "postgresql":
                session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _INTAKE_LOCK_KEY})
            check_limits(
                session, settings, user=new.requested_by, kit_name=new.kit_name,
                n_images=new.n_images, queue=new.queue,
            )
            row = Request(
                id=request_id,
                idempotency_key=new.idempotency_key,
                requested_by=new.requested_by,
                source=new.source,
                channel=new.channel,
                kit_name=new.kit_name,
                kit_hash=new.kit_hash,
                brief=new.brief,
                brief_hash=new.brief_hash,
                profile_name=new.profile_name,
                profile_hash=new.profile_hash,
                seed=new.seed,
                n_images=new.n_images,
                queue=new.queue,
                attempts=0,
                parent_image_id=new.parent_image_id,
                stage_timings={},
                gpu_seconds=0.0,
                cost_usd=0.0,
                created_at=now(),
            )
            session.add(row)
            session.flush()
            lifecycle.queue(session, row)
            position = position_of(session, row)
            if enqueue is not None:
                enqueue(request_id, new.queue)
    except IntegrityError:
        # Two submissions with one key raced; the other one won and is the request.
        if new.idempotency_key:
            seen = find_by_key(sessions, new.idempotency_key)
            if seen is not None:
                return seen
        raise
    log.info(
        "request queued", extra={"event": "request.queued", "request_id": request_id,
                                 "queue": new.queue, "position": position, "user": new.requested_by},
    )
    return Accepted(request_id=request_id, duplicate=False, position=position)


def find_by_key(sessions: sessionmaker[Session], key: str) -> Accepted | None:
    with sessions() as session:
        row = session.scalars(select(Request).where(Request.idempotency_key == key)).first()
        if row is None:
            return None
        position = position_of(session, row) if row.state == "queued" else 0
        return Accepted(request_id=row.id, duplicate=True, position=position)


def position_of(session: Session, row: Request) -> int:
    """Requests queued ahead of this one on its queue (first come, first served)."""
    created = row.created_at
    return int(
        session.scalar(
            select(func.count()).select_from(Request).where(
                Request.queue == row.queue,
                Request.state == "queued",
                or_(
                    Request.created_at < created,
                    and_(Request.created_at == created, Request.id < row.id),
                ),
            )
        ) or 0
    )


def next_queued(session: Session, queue: str) -> str | None:
    return session.scalar(
        select(Request.id)
        .where(Request.queue == queue, Request.state == "queued")
        .order_by(Request.created_at, Request.id)
        .limit(1)
    )


def orphaned(session: Session, settings: Settings, queue: str) -> list[str]:
    """Running requests whose worker stopped beating: a killed process, a lost machine."""
    stale = now() - timedelta(seconds=settings.job_lease_s)
    rows = session.execute(
        select(Request.id, Request.worker, Request.heartbeat_at).where(
            Request.queue == queue, Request.state == "running"
        )
    ).all()
    found = []
    for request_id, worker, beat in rows:
        beat_at = as_utc(beat)
        if beat_at is None or beat_at < stale or owner_is_dead(worker):
            found.append(request_id)
    return found


ClaimResult = Literal["claimed", "busy", "gone", "missing", "exhausted"]


@dataclass(frozen=True)
class Claim:
    result: ClaimResult
    attempt: int = 0
    detail: str = ""


def claim(
    sessions: sessionmaker[Session], settings: Settings, request_id: str, worker: str,
    last_error: str | None = None,
) -> Claim:
    """Take the lease on a request: queued, or running under an owner that is dead or silent.

    Counts the attempt before any work starts, so a job that keeps killing its worker is failed
    after `job_max_attempts` deliveries instead of looping.
    """
    with sessions() as session, session.begin():
        row = session.get(Request, request_id, with_for_update=_can_lock_rows(session))
        if row is None:
            return Claim("missing")
        if row.state in TERMINAL_STATES:
            return Claim("gone", detail=row.state)
        if row.state == "running" and row.worker != worker:
            beat = as_utc(row.heartbeat_at)
            fresh = beat is not None and beat > now() - timedelta(seconds=settings.job_lease_s)
            if fresh and not owner_is_dead(row.worker):
                return Claim("busy", detail=row.worker or "")
        if row.attempts >= settings.job_max_attempts:
            why = (row.failure_reason or last_error
                   or f"the worker running it stopped (last: {row.worker or 'unknown'})")
            reason = f"gave up after {row.attempts} attempt(s): {why}"
            lifecycle.fail(session, row, row.stage, reason)
            log.error(reason, extra={"event": "request.failed", "request_id": row.id})
            return Claim("exhausted", attempt=row.attempts, detail=reason)
        lifecycle.start(session, row, worker)
        attempt = row.attempts
    log.info(
        "request claimed", extra={"event": "request.claimed", "request_id": request_id,
                                  "attempt": attempt, "worker": worker},
    )
    return Claim("claimed", attempt=attempt)


def _can_lock_rows(session: Session) -> bool:
    return session.get_bind().dialect.name == "postgresql"


def release(sessions: sessionmaker[Session], request_id: str, worker: str, reason: str) -> bool:
    """Hand a running request back to the queue (a transient failure will retry it)."""
    with sessions() as session, session.begin():
        return lifecycle.release(session, request_id, worker, reason)


@dataclass(frozen=True)
class Progress:
    stage: str | None
    image: int | None = None
    step: int | None = None
    steps: int | None = None


def beat(
    sessions: sessionmaker[Session], request_id: str, worker: str, progress: Progress | None
) -> tuple[bool, str | None]:
    """Renew the lease and publish progress; returns (lost to another worker, who asked to cancel)."""
    values: dict[str, Any] = {"heartbeat_at": now()}
    if progress is not None:
        values.update(
            stage=progress.stage, progress_image=progress.image,
            progress_step=progress.step, progress_steps=progress.steps,
        )
    with sessions() as session, session.begin():
        result = session.execute(
            update(Request)
            .where(Request.id == request_id, Request.worker == worker, Request.state == "running")
            .values(**values)
        )
        row = session.execute(
            select(Request.cancel_requested_by, Request.state, Request.worker).where(Request.id == request_id)
        ).one_or_none()
        if row is None:
            return True, None
        cancel_by, state, owner = row
        # Not updated and someone else holds it: taken over. Finished (owner cleared) is not lost.
        lost = not result.rowcount and state == "running" and owner not in (None, worker)  # type: ignore[attr-defined]
        return lost, cancel_by


def request_cancel(sessions: sessionmaker[Session], request_id: str, by: str) -> str:
    """Cancel: a queued request is removed at once; a running one is asked to stop.

    Returns the state the request is in afterwards ("cancelled" or "running").
    """
    with sessions() as session, session.begin():
        row = session.get(Request, request_id, with_for_update=_can_lock_rows(session))
        if row is None:
            raise UnknownRequest(f"no request {quote(request_id, 64)}; `brandgate status` lists IDs in its output")
        if row.state in TERMINAL_STATES:
            return row.state
        if row.state == "queued":
            lifecycle.cancel(session, row, by)
            log.info("request cancelled before start",
                     extra={"event": "request.cancelled", "request_id": row.id, "by": by})
            return "cancelled"
        lifecycle.ask_cancel(session, row, by)
        return "running"


def read_status(
    sessions: sessionmaker[Session], request_id: str, artifacts: Callable[[str, str], str]
) -> RequestStatus:
    """The request as the bot and CLI show it; `artifacts(sha256, suffix)` names a stored file."""
    with sessions() as session:
        row = session.get(Request, request_id)
        if row is None:
            raise UnknownRequest(f"no request {quote(request_id, 64)}")
        images = session.scalars(select(Image).where(Image.request_id == request_id).order_by(Image.index)).all()
        approvals = {
            a.image_id: a
            for a in session.scalars(
                select(Approval).where(Approval.image_id.in_([i.id for i in images]))
            ).all()
        } if images else {}
        views = tuple(image_view(image, row, approvals.get(image.id), artifacts) for image in images)
        position = position_of(session, row) if row.state == "queued" else None
        stage = row.stage
        if row.state == "running" and row.cancel_requested_by:
            stage = "cancelling"
        return RequestStatus(
            request_id=row.id,
            state=row.state,  # type: ignore[arg-type]
            n_images=row.n_images,
            position=position,
            stage=stage if row.state == "running" else (row.stage if row.state == "failed" else None),
            image_index=row.progress_image if row.state == "running" else None,
            step=row.progress_step if row.state == "running" else None,
            steps=row.progress_steps if row.state == "running" else None,
            failure_reason=row.failure_reason if row.state in ("failed", "cancelled") else None,
            cost_usd=round(row.cost_usd or 0.0, 6),
            images=views,
        )
